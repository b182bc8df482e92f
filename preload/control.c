/* control.c — the control block the `leaktag` command reads (control.h). Its writers (any
 * thread changing the snapshot signal's disposition, leaktag's threads) take turns on a
 * small lock; the sequence number lets a reader in another process tell a torn copy from a
 * whole one. */
#include "control.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"

LT_EXPORT struct lt_control leaktag_control;

static _Atomic int writing; /* a writer is between begin_change and end_change */

/* Waits for another writer (a bounded while: a signal handler that interrupted a change in
 * its own thread would wait for ever; it goes ahead, and the reader retries on the odd
 * sequence). */
static void begin_change(void)
{
    for (int spins = 0; spins < 1000; spins++) {
        int free_now = 0;
        if (atomic_compare_exchange_weak(&writing, &free_now, 1))
            break;
        sched_yield();
    }
    __atomic_fetch_add(&leaktag_control.sequence, 1, __ATOMIC_ACQ_REL);
}

static void end_change(void)
{
    __atomic_fetch_add(&leaktag_control.sequence, 1, __ATOMIC_RELEASE);
    atomic_store(&writing, 0);
}

static void copy(char *dst, const char *src)
{
    size_t n = strnlen(src, LT_CONTROL_PATH_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void lt_control_init(const char *output)
{
    struct lt_control *c = &leaktag_control;
    begin_change();
    c->version = LT_CONTROL_VERSION;
    c->size = sizeof(*c);
    c->pid = (int32_t)getpid();
    copy(c->output, output);
    memcpy(c->magic, LT_CONTROL_MAGIC, sizeof(LT_CONTROL_MAGIC));
    end_change();
}

void lt_control_signal(int sig, uint32_t flags)
{
    begin_change();
    leaktag_control.signal = sig;
    leaktag_control.flags = flags;
    end_change();
}

static uint32_t requests_answered; /* by leaktag's thread, of leaktag_control.requests */

uint32_t lt_control_take_requests(void)
{
    /* Written by another process through process_vm_writev: read once, as it is now. */
    uint32_t now = __atomic_load_n(&leaktag_control.requests, __ATOMIC_ACQUIRE);
    uint32_t fresh = now - requests_answered;
    requests_answered = now;
    return fresh;
}

void lt_control_worker(int tid)
{
    __atomic_store_n(&leaktag_control.worker_tid, tid, __ATOMIC_RELEASE);
}

void lt_control_written(const char *path)
{
    begin_change();
    copy(leaktag_control.last, path);
    leaktag_control.snapshots++;
    end_change();
}

void lt_control_fork_child(void)
{
    begin_change();
    leaktag_control.pid = (int32_t)getpid();
    leaktag_control.worker_tid = 0;
    leaktag_control.snapshots = 0;
    leaktag_control.last[0] = '\0';
    __atomic_store_n(&leaktag_control.requests, 0, __ATOMIC_RELAXED); /* the parent's */
    requests_answered = 0;
    end_change();
}
