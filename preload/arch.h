/* arch.h — what differs between processors, in one place: the program counter a signal
 * interrupted, and running a function on a stack of leaktag's own. Porting leaktag to
 * another processor starts here (x86-64, i386 and AArch64 today).
 *
 * Also here: the registers an unwind starts from and their DWARF numbers, a pointer-sized
 * stack word, the high half of a 64x64 product. Everything recorded is 64-bit in the snapshot
 * file, whatever the process: addresses, sizes and return addresses are zero-extended, META's
 * pointer_bits says the width, and the 64-bit leaktag-report reads a 32-bit process's snapshot
 * as any other (the field view then reads 4-byte words). The C++ operators are exported under
 * the target's mangling (interpose.c: size_t is m on LP64, j on the 32-bit ABIs). A build of
 * the shim alone (-Danalyzer=disabled) runs its tests against the leaktag-report given as
 * -Dreport_program; tests/i386-linux.ini is the i386 cross file. Off x86-64 the reachability
 * verdict refuses with a reason: its roots (the stopped threads' registers) and its 8-byte
 * scan are x86-64's. */
#ifndef LT_ARCH_H
#define LT_ARCH_H

#include <stdint.h>
#include <ucontext.h>

/* The interrupted program counter in a signal handler's ucontext (0 if unknown). */
static inline uint64_t lt_arch_pc(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* The interrupted stack pointer in a signal handler's ucontext (0 if unknown), and the red
 * zone below it that the interrupted code may still use. */
static inline uint64_t lt_arch_sp(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__i386__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_ESP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#else
    (void)uc;
    return 0;
#endif
}
#if defined(__x86_64__)
#define LT_ARCH_RED_ZONE 128
#else
#define LT_ARCH_RED_ZONE 0
#endif

/* The registers an unwinder steps with, and their DWARF numbers (x86 family: the CFA is SP
 * or FP plus an offset, the return address is saved just below it). */
struct lt_regs {
    uint64_t pc, sp, fp;
};

#if defined(__x86_64__)
#define LT_ARCH_CFI 1
#define LT_ARCH_DWARF_SP 7
#define LT_ARCH_DWARF_FP 6
#define LT_ARCH_DWARF_RA 16
#elif defined(__i386__)
#define LT_ARCH_CFI 1
#define LT_ARCH_DWARF_SP 4
#define LT_ARCH_DWARF_FP 5
#define LT_ARCH_DWARF_RA 8
#else
#define LT_ARCH_CFI 0 /* leaktag's own unwinder is not ported here: libunwind does it all */
#endif
#define LT_ARCH_WORD ((int)sizeof(void *))

/* A word of the stack (a return address where a frame saved one): pointer-sized, read as it
 * is whatever object is there now (memcpy's builtin: the shim is built -fno-builtin, and a
 * libc call would cost more than the check it serves). */
static inline uint64_t lt_arch_stack_word(const void *at)
{
    uintptr_t w;
    __builtin_memcpy(&w, at, sizeof(w));
    return w;
}

/* The high 64 bits of the 128-bit product x * y: one instruction where the compiler has
 * 128-bit integers (64-bit targets), four 32-bit products elsewhere (i386). */
static inline uint64_t lt_arch_mul_high(uint64_t x, uint64_t y)
{
#if defined(__SIZEOF_INT128__)
    return (uint64_t)(((unsigned __int128)x * y) >> 64);
#else
    uint64_t xl = (uint32_t)x, xh = x >> 32, yl = (uint32_t)y, yh = y >> 32;
    uint64_t ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* The registers at this point of the calling function (always inlined into it). */
__attribute__((always_inline)) static inline void lt_arch_here(struct lt_regs *r)
{
#if defined(__x86_64__)
    uint64_t pc, sp, fp;
    __asm__ volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2"
                     : "=r"(pc), "=r"(sp), "=r"(fp));
    *r = (struct lt_regs){pc, sp, fp};
#elif defined(__i386__)
    uint32_t pc, sp, fp;
    __asm__ volatile("call 1f\n1:\tpopl %0\n\tmovl %%esp, %1\n\tmovl %%ebp, %2"
                     : "=r"(pc), "=r"(sp), "=r"(fp));
    *r = (struct lt_regs){pc, sp, fp};
#else
    *r = (struct lt_regs){0, 0, 0};
#endif
}

/* The address space a process of this width has (what its threads' stacks compete for
 * without an RLIMIT_AS). */
uint64_t lt_arch_address_space(void);

/* Calls fn(arg) with the stack pointer at top (rounded down to 16 bytes) and returns to the
 * caller's stack. For work a signal handler must not do on whatever stack it found (a
 * 16 KiB coroutine or sigaltstack). */
void lt_arch_call_on_stack(void (*fn)(void *), void *arg, void *top);

#endif
