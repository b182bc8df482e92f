/* arch.c — lt_arch_call_on_stack for each processor. The frame pointer keeps the caller's
 * stack pointer, so the CFI below lets debuggers walk from the new stack back to the old. */
#include "arch.h"

#include <string.h>
#include <sys/utsname.h>

uint64_t lt_arch_address_space(void)
{
    if (sizeof(void *) == 8)
        return 1ull << 47; /* x86-64's and AArch64's user half, with 4-level page tables */
    /* A 32-bit process: all of its 4 GiB under a 64-bit kernel, 3 GiB under a 32-bit one
     * (the usual split). */
    struct utsname u;
    if (uname(&u) == 0 && (!strcmp(u.machine, "x86_64") || !strcmp(u.machine, "aarch64")))
        return 4ull << 30;
    return 3ull << 30;
}

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl lt_arch_call_on_stack\n"
        ".hidden lt_arch_call_on_stack\n"
        ".type lt_arch_call_on_stack, @function\n"
        "lt_arch_call_on_stack:\n"
        "  .cfi_startproc\n"
        "  pushq %rbp\n"
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset %rbp, -16\n"
        "  movq %rsp, %rbp\n"
        "  .cfi_def_cfa_register %rbp\n"
        "  movq %rdx, %rsp\n" /* top */
        "  andq $-16, %rsp\n"
        "  movq %rdi, %rax\n" /* fn */
        "  movq %rsi, %rdi\n" /* arg */
        "  callq *%rax\n"
        "  movq %rbp, %rsp\n"
        "  popq %rbp\n"
        "  .cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size lt_arch_call_on_stack, .-lt_arch_call_on_stack\n");
#elif defined(__i386__)
__asm__(".text\n"
        ".globl lt_arch_call_on_stack\n"
        ".hidden lt_arch_call_on_stack\n"
        ".type lt_arch_call_on_stack, @function\n"
        "lt_arch_call_on_stack:\n"
        "  .cfi_startproc\n"
        "  pushl %ebp\n"
        "  .cfi_def_cfa_offset 8\n"
        "  .cfi_offset %ebp, -8\n"
        "  movl %esp, %ebp\n"
        "  .cfi_def_cfa_register %ebp\n"
        "  movl 8(%ebp), %eax\n"  /* fn */
        "  movl 12(%ebp), %ecx\n" /* arg */
        "  movl 16(%ebp), %esp\n" /* top */
        "  andl $-16, %esp\n"
        "  subl $12, %esp\n" /* 16-aligned once arg is pushed */
        "  pushl %ecx\n"
        "  calll *%eax\n"
        "  movl %ebp, %esp\n"
        "  popl %ebp\n"
        "  .cfi_def_cfa %esp, 4\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size lt_arch_call_on_stack, .-lt_arch_call_on_stack\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl lt_arch_call_on_stack\n"
        ".hidden lt_arch_call_on_stack\n"
        ".type lt_arch_call_on_stack, %function\n"
        "lt_arch_call_on_stack:\n"
        "  .cfi_startproc\n"
        "  stp x29, x30, [sp, #-16]!\n"
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset x29, -16\n"
        "  .cfi_offset x30, -8\n"
        "  mov x29, sp\n"
        "  .cfi_def_cfa_register x29\n"
        "  and x2, x2, #0xfffffffffffffff0\n"
        "  mov sp, x2\n"
        "  mov x3, x0\n"
        "  mov x0, x1\n"
        "  blr x3\n"
        "  mov sp, x29\n"
        "  ldp x29, x30, [sp], #16\n"
        "  .cfi_def_cfa sp, 0\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size lt_arch_call_on_stack, .-lt_arch_call_on_stack\n");
#else
#error "leaktag: no lt_arch_call_on_stack for this processor (arch.c)"
#endif
