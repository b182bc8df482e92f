/* arch.h — what differs between processors, in one place: the program counter a signal
 * interrupted, and running a function on a stack of leaktag's own. Porting leaktag to
 * another processor starts here (x86-64, i386 and AArch64 today). */
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

/* Calls fn(arg) with the stack pointer at top (rounded down to 16 bytes) and returns to the
 * caller's stack. For work a signal handler must not do on whatever stack it found (a
 * 16 KiB coroutine or sigaltstack). */
void lt_arch_call_on_stack(void (*fn)(void *), void *arg, void *top);

#endif
