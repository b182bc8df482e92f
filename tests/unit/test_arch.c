/* Unit tests of arch.c and arch.h, what differs between processors: the registers
 * lt_arch_here reads (against rsp read by the test's own asm and __builtin_frame_address),
 * the interrupted program counter of a signal's ucontext (a ud2, which faults at itself:
 * si_addr), lt_arch_call_on_stack (the stack pointer a function finds there, as the ABI
 * sets it: 16-aligned before the call; an unwinder walking from the new stack back to the
 * old through its CFI), the user address space of a 64-bit process, and the small helpers
 * (the DWARF numbers of the ABI, a stack word read unaligned, the high half of a product). */
#include <dlfcn.h>
#include <execinfo.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
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

#if defined(__x86_64__)
/* ud2 faults: the kernel reports the ud2's own address, in the ucontext and in si_addr.
 * probe_sp stores the stack pointer it is entered with, and its argument, at its argument. */
__asm__(".text\n"
        ".globl arch_test_ud2\n"
        ".hidden arch_test_ud2\n"
        ".type arch_test_ud2, @function\n"
        "arch_test_ud2:\n"
        "  ud2\n"
        "  ret\n"
        ".size arch_test_ud2, .-arch_test_ud2\n"
        ".globl arch_test_probe_sp\n"
        ".hidden arch_test_probe_sp\n"
        ".type arch_test_probe_sp, @function\n"
        "arch_test_probe_sp:\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rdi, 8(%rdi)\n"
        "  ret\n"
        ".size arch_test_probe_sp, .-arch_test_probe_sp\n");
void arch_test_ud2(void);
void arch_test_probe_sp(void *out);
#endif

static void test_here_is_this_frame(void **state)
{
    (void)state;
    if (UNDER_SANITIZER)
        skip(); /* instrumentation between the two reads of rsp and rip */
#if defined(__x86_64__)
    /* __builtin_frame_address makes this function keep rbp as its frame pointer. */
    void *frame = __builtin_frame_address(0);
    struct lt_regs r;
    lt_arch_here(&r);
    uint64_t sp, pc;
    __asm__ volatile("movq %%rsp, %0\n\tleaq 0(%%rip), %1" : "=r"(sp), "=r"(pc));
    assert_int_equal(r.sp, sp); /* no push between the two reads at -O2 or -O0 */
    assert_int_equal(r.fp, (uintptr_t)frame);
    assert_true(r.pc < pc && pc - r.pc < 64); /* a few instructions before the second read */
    /* the frame pointer's frame holds the saved rbp, then the return address */
    assert_int_equal(lt_arch_stack_word((void *)(uintptr_t)(r.fp + 8)),
                     (uintptr_t)__builtin_return_address(0));
    assert_true(r.sp <= r.fp);
#else
    skip(); /* the registers are read on x86 only: elsewhere lt_arch_here gives zeros */
#endif
}

#if defined(__x86_64__)
static volatile uint64_t trapped_pc, trapped_addr;

static void on_sigill(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    ucontext_t *uc = uctx;
    trapped_pc = lt_arch_pc(uc);
    trapped_addr = (uintptr_t)info->si_addr;
    uc->uc_mcontext.gregs[REG_RIP] += 2; /* past the ud2, to its ret */
}
#endif

static void test_pc_of_a_fault(void **state)
{
    (void)state;
#if defined(__x86_64__)
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigill;
    sa.sa_flags = SA_SIGINFO;
    assert_int_equal(sigaction(SIGILL, &sa, &old), 0); /* cmocka's own, put back below */
    arch_test_ud2();
    sigaction(SIGILL, &old, NULL);
    assert_int_equal(trapped_pc, (uintptr_t)arch_test_ud2);
    assert_int_equal(trapped_addr, (uintptr_t)arch_test_ud2);
#else
    skip(); /* the fault is x86's ud2 */
#endif
}

/* What a function finds on leaktag's stack, and how far an unwinder walks from there. */
struct on_stack {
    unsigned char *lo, *top;
    uint64_t sp;
    int frames;
    int frames_in_cmocka; /* frames of libcmocka's, which called the test: the old stack */
};

static void on_new_stack(void *arg)
{
    struct on_stack *s = arg;
    struct lt_regs r;
    lt_arch_here(&r);
    s->sp = r.sp; /* (0 where lt_arch_here reads no registers) */
    void *ips[64];
    s->frames = backtrace(ips, 64);
    for (int i = 0; i < s->frames; i++) {
        Dl_info where;
        if (dladdr((char *)ips[i] - 1, &where) && where.dli_fname &&
            strstr(where.dli_fname, "libcmocka"))
            s->frames_in_cmocka++;
    }
}

static void test_call_on_stack(void **state)
{
    (void)state;
    static unsigned char stack[64 * 1024];
#if defined(__x86_64__)
    /* The ABI: rsp + 8 is a multiple of 16 at a function's first instruction (the call
     * pushed 8 bytes on a 16-aligned stack). From any top, the callee is entered at
     * (top & ~15) - 8, with its argument. */
    for (unsigned k = 0; k < 16; k++) {
        uint64_t got[2] = {0, 0};
        unsigned char *top = stack + sizeof(stack) - 64 + k;
        uint64_t before, after;
        __asm__ volatile("movq %%rsp, %0" : "=r"(before));
        lt_arch_call_on_stack(arch_test_probe_sp, got, top);
        __asm__ volatile("movq %%rsp, %0" : "=r"(after));
        assert_int_equal(got[0], ((uintptr_t)top & ~(uintptr_t)15) - 8);
        assert_int_equal(got[1], (uintptr_t)got);
        assert_int_equal(after, before); /* back on the caller's stack */
    }
#endif
    /* A C function runs there, and an unwinder (libgcc's behind glibc's backtrace, reading
     * .eh_frame as debuggers do) walks from it through lt_arch_call_on_stack, back to the
     * old stack and to cmocka, which called this test. */
    struct on_stack s = {stack, stack + sizeof(stack), 0, 0, 0};
    lt_arch_call_on_stack(on_new_stack, &s, s.top);
#if defined(__x86_64__) || defined(__i386__)
    assert_true(s.sp > (uintptr_t)s.lo && s.sp < (uintptr_t)s.top);
#endif
    assert_true(s.frames >= 3);
    assert_true(s.frames_in_cmocka >= 1);
}

static void note_end(uint64_t *highest, uint64_t end)
{
    if (end > *highest)
        *highest = end;
}

static void test_address_space(void **state)
{
    (void)state;
    uint64_t space = lt_arch_address_space();
    if (sizeof(void *) == 8) /* 4-level page tables: 47 bits of user addresses */
        assert_int_equal(space, 1ull << 47);
    else
        assert_true(space == 3ull << 30 || space == 4ull << 30);
    /* Every mapping of the process lies below it ([vsyscall] is the kernel's, above). */
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4608];
    uint64_t highest = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi;
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && !strstr(line, "[vsyscall]"))
            note_end(&highest, hi);
    }
    fclose(f);
    assert_true(highest > 0 && highest <= space);
    /* and it is not smaller than the kernel's: two pages below its end can be mapped (the
     * last page below 2^47 is kept unmapped by x86-64 Linux) */
    long page = sysconf(_SC_PAGESIZE);
    void *want = (void *)(uintptr_t)(space - 2 * (uint64_t)page);
    void *got = mmap(want, (size_t)page, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (got != MAP_FAILED)
        munmap(got, (size_t)page);
    assert_ptr_equal(got, want);
}

static void test_words(void **state)
{
    (void)state;
    assert_int_equal(LT_ARCH_WORD, sizeof(void *));
#if LT_ARCH_CFI
    /* The DWARF register numbers: the compiler's own for the stack pointer; the psABI's
     * table for the others (x86-64: rbp 6, return address 16; i386: ebp 5, eip 8). */
    assert_int_equal(LT_ARCH_DWARF_SP, __builtin_dwarf_sp_column());
    assert_int_equal(LT_ARCH_DWARF_FP, sizeof(void *) == 8 ? 6 : 5);
    assert_int_equal(LT_ARCH_DWARF_RA, sizeof(void *) == 8 ? 16 : 8);
#endif
    /* A stack word at any alignment, as the bytes say (little-endian here). */
    unsigned char bytes[16];
    for (unsigned i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(0x10 + i);
    uint64_t want = sizeof(void *) == 8 ? 0x1817161514131211ull : 0x14131211ull;
    assert_int_equal(lt_arch_stack_word(bytes + 1), want);
    /* The high halves of products worked out by hand (Python's big integers). */
    assert_int_equal(lt_arch_mul_high(0, UINT64_MAX), 0);
    assert_int_equal(lt_arch_mul_high(UINT64_MAX, 2), 1);
    assert_int_equal(lt_arch_mul_high(1ull << 32, 1ull << 32), 1);
    assert_int_equal(lt_arch_mul_high(UINT64_MAX, UINT64_MAX), 0xfffffffffffffffeull);
    assert_int_equal(lt_arch_mul_high(0x123456789abcdef0ull, 0x0fedcba987654321ull),
                     0x121fa00ad77d742ull);
    assert_int_equal(lt_arch_mul_high(0x9e3779b97f4a7c15ull, 0xdeadbeefcafebabeull),
                     0x899f7d0d7e552218ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_here_is_this_frame),
        cmocka_unit_test(test_pc_of_a_fault),
        cmocka_unit_test(test_call_on_stack),
        cmocka_unit_test(test_address_space),
        cmocka_unit_test(test_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
