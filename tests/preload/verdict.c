/* verdict.c — test `verdict`: preload/verdict.c, the reachability verdict on the live process
 * (LEAKTAG_REACH=1, x86-64 only), read straight from the REACH records of a snapshot the
 * program takes of itself, for blocks whose fate it arranged:
 *
 *   lost        its only pointer overwritten (the program keeps it XOR-masked, which no scan
 *               can follow)                                   -> definitely lost, no via
 *   kept        held by a global                              -> reachable from a mapping root
 *   head/inner  inner is pointed at only from head, which is lost
 *                                                             -> head definitely lost, inner
 *                                                                indirectly lost via head
 *   interior    a global points 16 bytes into it              -> possibly lost
 *   in-register another thread holds it only in r12, spinning -> reachable from that thread's
 *                                                                registers
 *   on-stack    another thread holds it in a local and sleeps -> reachable from that thread
 *   across      the thread taking the snapshot holds it only in rbx, a callee-saved register,
 *               across its call of leaktag_snapshot()         -> reachable (its registers are
 *                                                                roots like any thread's)
 *
 * and it never leaves the program's threads stopped: a thread that counts keeps counting
 * after the snapshot, no thread is left traced or stopped, and exactly the program's other
 * threads were stopped (none of leaktag's). Where ptrace is refused the verdict says why and
 * this test exits 77 with that line; off x86-64 it exits 77.
 *
 * tests/reach/ compares the report's site-level verdict with valgrind's; this test checks the
 * states, the via of each, and the threads, address by address. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "shim_probe.h"

#if defined(__x86_64__)

#define MASK 0x5a5a5a5a5a5a5a5aull /* a masked address is not a pointer to anything */
#define FENCES 16

static uint64_t hidden_lost, hidden_head, hidden_inner, hidden_interior, hidden_register,
    hidden_stack, hidden_across;
static void *volatile kept;     /* a root */
static void *volatile interior; /* a root, into the middle of a block */
static void *fences[FENCES];    /* blocks after each test block: no allocator pointer into one */
static int nfences;

__attribute__((noinline)) static uint64_t hide(void *p)
{
    fences[nfences++] = malloc(32);
    return (uint64_t)(uintptr_t)p ^ MASK;
}

static void *unhide(uint64_t h)
{
    return (void *)(uintptr_t)(h ^ MASK);
}

/* Allocates the blocks; only masked copies and the two roots are kept. */
__attribute__((noinline)) static void make_blocks(void)
{
    hidden_lost = hide(memset(malloc(48), 'L', 48));
    kept = malloc(64);
    hide(NULL); /* a fence */
    void **inner = malloc(64);
    memset(inner, 'I', 64);
    hidden_inner = hide(inner);
    void **head = malloc(64);
    memset(head, 'H', 64);
    head[0] = inner; /* the only reference to inner */
    hidden_head = hide(head);
    char *middle = malloc(128);
    memset(middle, 'P', 128);
    interior = middle + 16;
    hidden_interior = hide(middle);
    hidden_register = hide(malloc(80));
    hidden_stack = hide(malloc(88));
    hidden_across = hide(malloc(96));
}

/* Overwrites the dead stack below the caller, where copies of the pointers may linger. */
__attribute__((noinline)) static void scrub(void)
{
    volatile char junk[16384];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = 0;
}

static _Atomic int stop, started;
static _Atomic uint64_t counted;
static _Atomic pid_t register_tid, stack_tid;

/* Counts as fast as it can: it must keep going after the snapshot. */
static void *counter_thread(void *arg)
{
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&stop))
        atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
    return arg;
}

/* Holds its block in r12 alone (unmasked inside the asm, never stored) while it spins. */
static volatile int spin_stop;
static volatile uint64_t spins;

static void *register_thread(void *arg)
{
    atomic_store(&register_tid, (pid_t)syscall(SYS_gettid));
    scrub();
    atomic_fetch_add(&started, 1);
    uint64_t h = hidden_register, m = MASK;
    __asm__ __volatile__("mov %[h], %%r12\n\t"
                         "xor %[m], %%r12\n\t"
                         "xor %[h], %[h]\n\t"
                         "1: pause\n\t"
                         "incq %[spins]\n\t"
                         "cmpl $0, %[stop]\n\t"
                         "je 1b\n\t"
                         "xor %%r12, %%r12\n\t"
                         : [h] "+r"(h), [spins] "+m"(spins)
                         : [m] "r"(m), [stop] "m"(spin_stop)
                         : "r12", "cc", "memory");
    return arg;
}

/* Keeps its block in a local on its stack while it sleeps. */
static void *stack_thread(void *arg)
{
    atomic_store(&stack_tid, (pid_t)syscall(SYS_gettid));
    void *volatile local = unhide(hidden_stack);
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&stop))
        probe_sleep_ms(1);
    return local == NULL ? arg : NULL;
}

/* Calls take(reason) with the block of `hidden` in rbx alone, and returns it from there:
 * rbx is callee-saved, so it holds the block across the call as compiled code would. The
 * frame below keeps only the caller's rbx; rdi and rsi are cleared before the call. */
uint64_t verdict_hold_across(uint64_t hidden, uint64_t mask, int (*take)(const char *),
                             const char *reason) __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".p2align 4\n"
        ".type verdict_hold_across, @function\n"
        "verdict_hold_across:\n"
        "    push %rbx\n" /* the caller's rbx; the stack is 16-byte aligned again */
        "    mov %rdi, %rbx\n"
        "    xor %rsi, %rbx\n" /* rbx = the block */
        "    xor %esi, %esi\n"
        "    mov %rcx, %rdi\n" /* reason */
        "    call *%rdx\n"     /* take(reason) */
        "    mov %rbx, %rax\n" /* the block, still held: returned */
        "    pop %rbx\n"
        "    ret\n"
        ".size verdict_hold_across, .-verdict_hold_across\n");

static int take_result = -1;

static int take(const char *reason)
{
    return take_result = leaktag_snapshot(reason);
}

/* The REACH record of a block: its state, and how it was first reached. */
struct found {
    size_t index;
    const struct lts_reach *r;
};

static struct found reach_of(const struct lts_snapshot *s, uint64_t hidden, const char *name)
{
    uint64_t addr = hidden ^ MASK;
    size_t i = lts_reach_index(s, addr);
    if (i == SIZE_MAX)
        PROBE_FAIL("%s: block %#llx has no REACH record", name, (unsigned long long)addr);
    return (struct found){i, &s->reach[i]};
}

static const char *const state_name[] = {"definitely lost", "indirectly lost", "possibly lost",
                                         "reachable"};

static void expect_state(const struct lts_snapshot *s, uint64_t hidden, const char *name,
                         uint8_t state)
{
    struct found f = reach_of(s, hidden, name);
    if (f.r->state != state)
        PROBE_FAIL("%s: %s, expected %s", name, f.r->state < 4 ? state_name[f.r->state] : "?",
                   state_name[state]);
}

/* A reachable block's first reference is a root of this type (and thread, if tid). */
static void expect_root(const struct lts_snapshot *s, uint64_t hidden, const char *name, int type1,
                        int type2, pid_t tid)
{
    struct found f = reach_of(s, hidden, name);
    if (f.r->via_type != LT_VIA_ROOT || f.r->via >= s->nreach_roots)
        PROBE_FAIL("%s: first reached from %s %u, not from a root", name,
                   f.r->via_type == LT_VIA_BLOCK ? "block" : "nothing", f.r->via);
    const struct lts_reach_root *root = &s->reach_roots[f.r->via];
    if ((root->type != type1 && root->type != type2) || (tid && root->tid != (uint64_t)tid))
        PROBE_FAIL("%s: first reached from a root of type %u, thread %llu (expected type %d "
                   "or %d, thread %d)",
                   name, root->type, (unsigned long long)root->tid, type1, type2, (int)tid);
}

/* Every thread of the process is running or sleeping, and traced by nobody. */
static void check_not_stopped(void)
{
    char path[64], buf[2048];
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    char dents[8192] __attribute__((aligned(8)));
    long n = syscall(SYS_getdents64, fd, dents, sizeof(dents));
    close(fd);
    for (long off = 0; off < n;) {
        struct probe_linux_dirent64 *e = (struct probe_linux_dirent64 *)(dents + off);
        off += e->d_reclen;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
        int sfd = open(path, O_RDONLY);
        if (sfd < 0)
            continue;
        ssize_t len = read(sfd, buf, sizeof(buf) - 1);
        close(sfd);
        buf[len > 0 ? len : 0] = '\0';
        const char *state = strstr(buf, "State:"), *tracer = strstr(buf, "TracerPid:");
        CHECK(state && tracer);
        state += strspn(state + 6, " \t") + 6;
        if (*state == 't' || *state == 'T' || atoi(tracer + 10) != 0)
            PROBE_FAIL("thread %s is left %.12s, traced by %d", e->d_name, state,
                       atoi(tracer + 10));
    }
}

static int scenario_verdict(void)
{
    make_blocks();
    scrub();
    pthread_t t[3];
    CHECK(pthread_create(&t[0], NULL, counter_thread, NULL) == 0);
    CHECK(pthread_create(&t[1], NULL, register_thread, NULL) == 0);
    CHECK(pthread_create(&t[2], NULL, stack_thread, NULL) == 0);
    while (atomic_load(&started) != 3 || spins == 0)
        probe_sleep_ms(1);
    if (!probe_wait_task("leaktag-files", 3000))
        PROBE_FAIL("leaktag's files thread did not start");
    scrub();

    uint64_t before = atomic_load(&counted);
    void *across = (void *)(uintptr_t)verdict_hold_across(hidden_across, MASK, take, "verdict");
    uint64_t after = atomic_load(&counted);
    CHECK(across == unhide(hidden_across));
    if (take_result != 0)
        PROBE_FAIL("leaktag_snapshot returned %d", take_result);
    struct lts_snapshot *s = probe_load(getpid(), 1);
    if (s->nreach_scan != 1)
        PROBE_FAIL("LEAKTAG_REACH=1 and the snapshot has %zu REACH_SCAN records", s->nreach_scan);
    const struct lts_reach_scan *scan = s->reach_scan;
    if (scan->status != 0 && scan->why && strstr(scan->why, "ptrace"))
        PROBE_SKIP("no verdict here: %s (status %lld)", scan->why, (long long)scan->status);
    if (scan->status != 0)
        PROBE_FAIL("no verdict: %s (status %lld)", scan->why ? scan->why : "?",
                   (long long)scan->status);
    /* the program's three other threads stopped; neither of leaktag's, nor the asking one */
    if (scan->threads != 3)
        PROBE_FAIL("the verdict stopped %u threads; the program has 3 besides the one asking",
                   scan->threads);

    /* (checked once the verdict ran: under a debugger threads are traced, and no verdict) */
    check_not_stopped();
    /* both keep going (given 2 s of a busy machine to get a turn) */
    uint64_t spun = spins, later = after;
    for (int waited = 0; waited < 2000 && (later <= after || spins <= spun); waited += 10) {
        probe_sleep_ms(10);
        later = atomic_load(&counted);
    }
    if (later <= after || spins <= spun)
        PROBE_FAIL("threads stopped after the snapshot: the counter went %llu -> %llu -> %llu, "
                   "the spinner %llu -> %llu in 2 s",
                   (unsigned long long)before, (unsigned long long)after, (unsigned long long)later,
                   (unsigned long long)spun, (unsigned long long)spins);

    expect_state(s, hidden_lost, "lost", LT_VERDICT_DEFINITELY_LOST);
    if (reach_of(s, hidden_lost, "lost").r->via_type != LT_VIA_NONE)
        PROBE_FAIL("lost: a definitely lost block has a via");
    expect_state(s, (uint64_t)(uintptr_t)kept ^ MASK, "kept", LT_VERDICT_REACHABLE);
    expect_root(s, (uint64_t)(uintptr_t)kept ^ MASK, "kept", LT_ROOT_TYPE_MAPPING,
                LT_ROOT_TYPE_MAPPING, 0);
    expect_state(s, hidden_head, "head", LT_VERDICT_DEFINITELY_LOST);
    expect_state(s, hidden_inner, "inner", LT_VERDICT_INDIRECTLY_LOST);
    struct found inner = reach_of(s, hidden_inner, "inner");
    struct found head = reach_of(s, hidden_head, "head");
    if (inner.r->via_type != LT_VIA_BLOCK || inner.r->via != head.index)
        PROBE_FAIL("inner: first reached from %u %u, not from head (block %zu)", inner.r->via_type,
                   inner.r->via, head.index);
    expect_state(s, hidden_interior, "interior", LT_VERDICT_POSSIBLY_LOST);
    expect_state(s, hidden_register, "in-register", LT_VERDICT_REACHABLE);
    expect_root(s, hidden_register, "in-register", LT_ROOT_TYPE_REGISTERS, LT_ROOT_TYPE_REGISTERS,
                atomic_load(&register_tid));
    expect_state(s, hidden_stack, "on-stack", LT_VERDICT_REACHABLE);
    expect_root(s, hidden_stack, "on-stack", LT_ROOT_TYPE_STACK, LT_ROOT_TYPE_REGISTERS,
                atomic_load(&stack_tid));
    /* last: the asking thread's callee-saved register across leaktag_snapshot() */
    expect_state(s, hidden_across, "across (rbx of the thread taking the snapshot)",
                 LT_VERDICT_REACHABLE);
    lts_close(s);

    atomic_store(&stop, 1);
    spin_stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}

#endif

int main(int argc, char **argv)
{
#if defined(__x86_64__)
    if (argc > 1) {
        if (!strcmp(argv[1], "verdict"))
            return scenario_verdict();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    if (!leaktag_stats)
        PROBE_SKIP("libleaktag.so is not preloaded");
    probe_driver_init("verdict");
    struct probe_tally t = {0};
    static const char *const env[] = {"LEAKTAG_REACH=1", "-LEAKTAG_SAMPLE", "-LEAKTAG_INTERVAL",
                                      NULL};
    probe_tally(&t, "verdict", probe_run("verdict", env, 15));
    return probe_finish(&t);
#else
    (void)argc, (void)argv;
    PROBE_SKIP("the reachability verdict runs on x86-64 only");
#endif
}
