/* Unit tests of cfi.c, the unwind rule at a code address: at a function's first instruction
 * the CFA is rsp + 8 (the x86-64 psABI: the call just pushed the return address), after
 * "push rbp; mov rbp, rsp" it is rbp + 16 with the caller's rbp at CFA - 16 (a function of
 * the test's own CFI directives, and a compiled one whose prologue bytes the test reads);
 * the rule steps a live frame to the return address its function sees; the outermost frame
 * (_start) ends; no rule, and no fault, for an address in no module, in a module without
 * .eh_frame_hdr, or in a module but in no FDE; and what cfi.h promises of itself: no
 * allocation (this program's malloc counts), no lock (the rule is found while another
 * thread holds the loader's lock in dl_iterate_phdr). */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Under ASan the instrumented code keeps other frames and calls through the sanitizer's own
 * malloc: the cases that compare with uninstrumented code say so and skip there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

#include "arch.h"
#include "cfi.h"

/* ---- this program's allocator: counts what the calling thread asks for while counting ---- */

/* Exported (default visibility, as the shim's LT_EXPORT): the loader binds every module's
 * malloc to these, libc's own calls included. */
#define EXPORTED __attribute__((visibility("default")))

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static _Thread_local bool counting;
static _Thread_local unsigned allocations;

EXPORTED void *malloc(size_t size)
{
    allocations += counting;
    return __libc_malloc(size);
}

EXPORTED void *calloc(size_t n, size_t size)
{
    allocations += counting;
    return __libc_calloc(n, size);
}

EXPORTED void *realloc(void *p, size_t size)
{
    allocations += counting;
    return __libc_realloc(p, size);
}

EXPORTED void *memalign(size_t align, size_t size)
{
    allocations += counting;
    return __libc_memalign(align, size);
}

EXPORTED void *aligned_alloc(size_t align, size_t size)
{
    allocations += counting;
    return __libc_memalign(align, size);
}

EXPORTED int posix_memalign(void **out, size_t align, size_t size)
{
    allocations += counting;
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = __libc_memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORTED void free(void *p)
{
    allocations += counting && p;
    __libc_free(p);
}

/* ---- code whose CFI the test writes ---------------------------------------------------- */

#if defined(__x86_64__)
/* cfi_test_framed: the classic prologue and epilogue, its CFI as a compiler writes it.
 * cfi_test_bare, right after it: code no FDE covers. */
__asm__(".text\n"
        ".globl cfi_test_framed\n"
        ".hidden cfi_test_framed\n"
        ".type cfi_test_framed, @function\n"
        "cfi_test_framed:\n"
        "  .cfi_startproc\n"
        "  pushq %rbp\n" /* +0 */
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset %rbp, -16\n"
        "  movq %rsp, %rbp\n" /* +1 */
        "  .cfi_def_cfa_register %rbp\n"
        "  nop\n"       /* +4 */
        "  popq %rbp\n" /* +5 */
        "  .cfi_def_cfa %rsp, 8\n"
        "  ret\n" /* +6 */
        "  .cfi_endproc\n"
        ".size cfi_test_framed, .-cfi_test_framed\n"
        ".globl cfi_test_bare\n"
        ".hidden cfi_test_bare\n"
        ".type cfi_test_bare, @function\n"
        "cfi_test_bare:\n"
        "  nop\n"
        "  ret\n"
        ".size cfi_test_bare, .-cfi_test_bare\n");
void cfi_test_framed(void);
void cfi_test_bare(void);
#endif

void _start(void); /* the C runtime's entry: the outermost frame */

static struct lt_cfi_rule rule_at(uint64_t pc)
{
    struct lt_cfi_rule r, again;
    memset(&r, 0xa5, sizeof(r));
    lt_cfi_rule(pc, &r);
    lt_cfi_rule(pc, &again); /* the second time from the cache: the same rule */
    assert_int_equal(r.kind, again.kind);
    assert_int_equal(r.cfa_from_fp, again.cfa_from_fp);
    assert_int_equal(r.cfa_deref, again.cfa_deref);
    assert_int_equal(r.fp_saved, again.fp_saved);
    assert_int_equal(r.fp_at_fp, again.fp_at_fp);
    assert_int_equal(r.cfa_offset, again.cfa_offset);
    assert_int_equal(r.fp_offset, again.fp_offset);
    return r;
}

#if defined(__x86_64__) /* the rules below are x86-64's; elsewhere the cases skip */
static void assert_entry_rule(const void *fn)
{
    struct lt_cfi_rule r = rule_at((uintptr_t)fn);
    assert_int_equal(r.kind, LT_CFI_STEP);
    assert_false(r.cfa_from_fp);
    assert_false(r.cfa_deref);
    assert_int_equal(r.cfa_offset, LT_ARCH_WORD);
    assert_false(r.fp_saved); /* nothing has been saved yet */
}

/* The rule after "push rbp; mov rbp, rsp" (at_fp) or just after the push. */
static void assert_framed_rule(uint64_t pc, bool at_fp)
{
    struct lt_cfi_rule r = rule_at(pc);
    assert_int_equal(r.kind, LT_CFI_STEP);
    assert_int_equal(r.cfa_from_fp, at_fp);
    assert_false(r.cfa_deref);
    assert_int_equal(r.cfa_offset, 2 * LT_ARCH_WORD);
    assert_true(r.fp_saved);
    assert_false(r.fp_at_fp);
    assert_int_equal(r.fp_offset, -2 * LT_ARCH_WORD);
}

/* ---- a live frame, stepped with its rule ------------------------------------------------- */

struct step {
    uint64_t want_ra; /* what the caller's __builtin_return_address(0) said */
    uint64_t found_ra;
    struct lt_cfi_rule rule;
};

/* Called from a frame to step: its own frame (kept by __builtin_frame_address) holds the
 * caller's rbp and the return address into the caller; its CFA is the caller's rsp at the
 * call. The caller's rule at that return address - 1 gives the caller's CFA, and below it
 * the caller's own return address. */
static __attribute__((noinline)) void step_out(struct step *s)
{
    const uint64_t *frame = __builtin_frame_address(0);
    uint64_t ra = frame[1], caller_sp = (uintptr_t)(frame + 2), caller_fp = frame[0];
    lt_cfi_rule(ra - 1, &s->rule);
    if (s->rule.kind != LT_CFI_STEP)
        return;
    uint64_t cfa = (s->rule.cfa_from_fp ? caller_fp : caller_sp) + (int64_t)s->rule.cfa_offset;
    if (s->rule.cfa_deref)
        cfa = lt_arch_stack_word((const void *)(uintptr_t)cfa);
    s->found_ra = lt_arch_stack_word((const void *)(uintptr_t)(cfa - LT_ARCH_WORD));
}

/* An ordinary -O2 frame: the CFA from rsp, whatever the compiler made of it. */
static __attribute__((noinline)) void plain_caller(struct step *s)
{
    volatile uint64_t locals[5] = {1, 2, 3, 4, 5}; /* some stack of its own */
    s->want_ra = (uintptr_t)__builtin_return_address(0);
    step_out(s);
    __asm__ volatile("" : : "r"(locals) : "memory"); /* no tail call */
}

/* A variable-length array: the compiler keeps rbp as a frame pointer ("push rbp; mov rbp,
 * rsp"), the CFA from rbp. */
static __attribute__((noinline)) void framed_caller(struct step *s, int n)
{
    volatile char vla[n];
    vla[0] = 1;
    s->want_ra = (uintptr_t)__builtin_return_address(0);
    step_out(s);
    __asm__ volatile("" : : "r"(vla) : "memory");
}

static volatile int vla_size = 24; /* not a constant: no clone of framed_caller */
#endif

/* ---- the cases ---------------------------------------------------------------------------- */

static void test_function_entry(void **state)
{
    (void)state;
#if defined(__x86_64__)
    assert_entry_rule((const void *)cfi_test_framed);
    assert_entry_rule((const void *)plain_caller);
    assert_entry_rule((const void *)framed_caller);
    assert_entry_rule((const void *)step_out);
    assert_entry_rule((const void *)rule_at);
    /* libc's too: its .eh_frame, found through its own .eh_frame_hdr */
    assert_entry_rule(dlsym(RTLD_DEFAULT, "getpid"));
    assert_entry_rule(dlsym(RTLD_DEFAULT, "qsort"));
    /* the outermost frame: _start says its return address is undefined */
    struct lt_cfi_rule r = rule_at((uintptr_t)_start + 1);
    assert_int_equal(r.kind, LT_CFI_END);
#else
    skip(); /* the rules asserted are x86-64's */
#endif
}

static void test_frame_pointer_prologue(void **state)
{
    (void)state;
#if defined(__x86_64__)
    /* the test's own CFI */
    uint64_t f = (uintptr_t)cfi_test_framed;
    assert_framed_rule(f + 1, false); /* after push rbp: rsp + 16 */
    assert_framed_rule(f + 4, true);  /* after mov rbp, rsp: rbp + 16 */
    assert_framed_rule(f + 5, true);  /* up to the pop */
    struct lt_cfi_rule r = rule_at(f + 6);
    assert_int_equal(r.kind, LT_CFI_STEP); /* after the pop: rsp + 8 again */
    assert_false(r.cfa_from_fp);
    assert_int_equal(r.cfa_offset, 8);

    /* the compiler's: framed_caller begins with push rbp (after an endbr64), and its
     * mov rbp, rsp follows within a few instructions (the scheduler may put others in
     * between, which run with the CFA at rsp + 16) */
    const unsigned char *code = (const unsigned char *)(uintptr_t)framed_caller;
    static const unsigned char endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
    static const unsigned char mov_rbp_rsp[] = {0x48, 0x89, 0xe5};
    size_t push = memcmp(code, endbr64, sizeof(endbr64)) ? 0 : sizeof(endbr64), mov = push + 1;
    while (mov < push + 32 && memcmp(code + mov, mov_rbp_rsp, sizeof(mov_rbp_rsp)))
        mov++;
    if (code[push] != 0x55 || mov == push + 32)
        skip(); /* this compiler began framed_caller otherwise: nothing to compare with */
    assert_entry_rule(code);
    assert_framed_rule((uintptr_t)code + push + 1, false);
    if (mov > push + 1)
        assert_framed_rule((uintptr_t)code + mov - 1, false); /* still inside the prologue */
    assert_framed_rule((uintptr_t)code + mov + sizeof(mov_rbp_rsp), true);
#else
    skip(); /* x86-64's prologue */
#endif
}

static void test_steps_a_live_frame(void **state)
{
    (void)state;
    if (UNDER_SANITIZER)
        skip(); /* ASan moves locals to fake frames: other prologues */
#if defined(__x86_64__)
    struct step s;
    memset(&s, 0, sizeof(s));
    plain_caller(&s);
    assert_int_equal(s.rule.kind, LT_CFI_STEP);
    assert_false(s.rule.cfa_from_fp);
    assert_int_equal(s.found_ra, s.want_ra);

    memset(&s, 0, sizeof(s));
    framed_caller(&s, vla_size);
    assert_int_equal(s.rule.kind, LT_CFI_STEP);
    assert_true(s.rule.cfa_from_fp);
    assert_int_equal(s.rule.cfa_offset, 16);
    assert_int_equal(s.found_ra, s.want_ra);
#else
    skip();
#endif
}

struct module_code {
    const char *name; /* the end of the module's path */
    uint64_t code;    /* an address in its executable segment */
    bool has_eh_frame_hdr;
};

static int exec_segment(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct module_code *m = ctx;
    size_t len = strlen(info->dlpi_name), want = strlen(m->name);
    if (len < want || strcmp(info->dlpi_name + len - want, m->name))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_EH_FRAME)
            m->has_eh_frame_hdr = true;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && ph->p_memsz > 8)
            m->code = info->dlpi_addr + ph->p_vaddr + 8;
    }
    return 1;
}

static void on_signal(int sig)
{
    (void)sig;
}

static void test_no_rule_no_fault(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    /* In no module: nothing, an anonymous executable page, a hole, the top of the space. */
    void *anon = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                      0);
    assert_true(anon != MAP_FAILED);
    assert_int_equal(rule_at(0).kind, LT_CFI_UNKNOWN);
    assert_int_equal(rule_at((uintptr_t)anon).kind, LT_CFI_UNKNOWN);
    munmap(anon, (size_t)page);
    assert_int_equal(rule_at((uintptr_t)anon).kind, LT_CFI_UNKNOWN); /* unmapped now */
    assert_int_equal(rule_at(UINT64_MAX - 1).kind, LT_CFI_UNKNOWN);
#if defined(__x86_64__)
    /* In this program, but in no FDE: the asm after cfi_test_framed, and the ELF header. */
    assert_int_equal(rule_at((uintptr_t)cfi_test_bare).kind, LT_CFI_UNKNOWN);
#endif
    Dl_info self;
    assert_true(dladdr((void *)(uintptr_t)test_no_rule_no_fault, &self));
    assert_int_equal(rule_at((uintptr_t)self.dli_fbase).kind, LT_CFI_UNKNOWN);

    /* A signal frame (libc's sigreturn trampoline, which glibc's sigaction names as the
     * restorer of every handler): its FDE is marked S, a rule not followed here. */
    struct sigaction sa, old, installed;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    assert_int_equal(sigaction(SIGUSR1, NULL, &installed), 0);
    sigaction(SIGUSR1, &old, NULL);
    if (installed.sa_restorer)
        assert_int_equal(rule_at((uintptr_t)installed.sa_restorer).kind, LT_CFI_UNKNOWN);

    /* A module without .eh_frame_hdr: glibc's libnss_files.so.2, a stub since 2.34 (its
     * .eh_frame is the 4-byte terminator alone). */
    void *nss = dlopen("libnss_files.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!nss)
        skip(); /* an older or another libc: no such stub to load */
    struct module_code m = {"libnss_files.so.2", 0, false};
    dl_iterate_phdr(exec_segment, &m);
    if (!m.code || m.has_eh_frame_hdr) {
        dlclose(nss);
        skip(); /* this one has unwind tables after all */
    }
    assert_int_equal(rule_at(m.code).kind, LT_CFI_UNKNOWN);
    dlclose(nss);
}

/* Another thread holds the loader's lock: dl_iterate_phdr's, as an unwinder that finds
 * modules that way would need. */
static sem_t lock_held, release_lock, rule_found;

static int hold_loader_lock(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)info, (void)size, (void)ctx;
    sem_post(&lock_held);
    while (sem_wait(&release_lock) != 0)
        ;
    return 1;
}

static void *holder(void *arg)
{
    (void)arg;
    dl_iterate_phdr(hold_loader_lock, NULL);
    return NULL;
}

struct lookups {
    uint64_t pc[4];
    struct lt_cfi_rule rule[4];
    unsigned allocations;
};

static void *look_up(void *arg)
{
    struct lookups *l = arg;
    counting = true;
    for (int i = 0; i < 4; i++)
        lt_cfi_rule(l->pc[i], &l->rule[i]);
    counting = false;
    l->allocations = allocations;
    sem_post(&rule_found);
    return NULL;
}

static void test_no_allocation_no_lock(void **state)
{
    (void)state;
    /* Addresses not asked before (no cached rule): libc's and this program's. */
    struct lookups l = {
        .pc = {(uintptr_t)dlsym(RTLD_DEFAULT, "getppid"), (uintptr_t)dlsym(RTLD_DEFAULT, "bsearch"),
               (uintptr_t)look_up, (uintptr_t)hold_loader_lock},
    };
    assert_int_equal(sem_init(&lock_held, 0, 0), 0);
    assert_int_equal(sem_init(&release_lock, 0, 0), 0);
    assert_int_equal(sem_init(&rule_found, 0, 0), 0);
    pthread_t lock_thread, lookup_thread;
    assert_int_equal(pthread_create(&lock_thread, NULL, holder, NULL), 0);
    while (sem_wait(&lock_held) != 0)
        ;
    assert_int_equal(pthread_create(&lookup_thread, NULL, look_up, &l), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    int waited;
    while ((waited = sem_timedwait(&rule_found, &deadline)) != 0 && errno == EINTR)
        ;
    sem_post(&release_lock); /* either way: the lookup can go on once it is released */
    pthread_join(lookup_thread, NULL);
    pthread_join(lock_thread, NULL);
    assert_int_equal(waited, 0); /* found while the loader's lock was held */
    assert_int_equal(l.allocations, 0);
#if defined(__x86_64__)
    for (int i = 0; i < 4; i++) {
        assert_int_equal(l.rule[i].kind, LT_CFI_STEP);
        assert_int_equal(l.rule[i].cfa_offset, 8);
    }
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_function_entry),
        cmocka_unit_test(test_frame_pointer_prologue),
        cmocka_unit_test(test_steps_a_live_frame),
        cmocka_unit_test(test_no_rule_no_fault),
        cmocka_unit_test(test_no_allocation_no_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
