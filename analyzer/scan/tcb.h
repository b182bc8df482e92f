/* tcb.h — glibc's struct pthread of each thread, found without symbols: at the top of a
 * pthread's stack mapping, where its tcbhead_t points at itself twice (tcb and self). From
 * it: the stack of a thread whose stack pointer is unknown (on a CPU during a live scan),
 * the function pthread_create ran (what names threads in a core, which keeps no names), and
 * the thread pointer below which libc's TLS lies (mallheap.c finds each tcache there). */
#ifndef SCAN_TCB_H
#define SCAN_TCB_H

#include "target.h"

/* Fills each thread's tcb and start_routine, and the stack of threads found through their
 * struct pthread's tid. */
void tcb_read(struct target *t);

#endif
