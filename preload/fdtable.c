/* fdtable.c — the "leaktag-files" thread: a descriptor table of leaktag's own (fdtable.h).
 * Started by leaktag's thread; it unshares its table at once and closes every descriptor
 * of the copy (CLOSE_RANGE_UNSHARE from 0 copies none), then runs one job at a time for
 * whoever asks, who waits on a futex. It never takes a lock the application may hold and
 * never blocks a signal handler beyond the job it asked for.
 *
 * Before Linux 5.9 (no CLOSE_RANGE_UNSHARE) the thread gives up at once, and snapshots are
 * written by the thread that asks (composer.c). It inherits leaktag's thread's mask: every
 * signal blocked. */
#include "fdtable.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "threads.h"

#define STACK_BYTES (256 * 1024) /* a snapshot needs about 30 KiB; the verdict its own */

static _Atomic pid_t files_tid;       /* 0: not running */
static _Atomic pid_t files_pid;       /* the process it runs in (a child made without fork
                                          handlers, by _Fork or clone, has none) */
static _Atomic uint32_t posted, done; /* futex words: jobs handed over, jobs finished */
static _Atomic uint32_t slot_taken;   /* one asking thread at a time */
static _Atomic int start_status;      /* 1: starting; 0: ready; -errno: it could not */
static struct {
    void (*fn)(void *);
    void *arg;
    struct lt_log_capture log;
} job;

static void futex_wait(_Atomic uint32_t *word, uint32_t value, const struct timespec *timeout)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, timeout, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

/* A table of its own, empty: nothing of the application's stays open through it. Then
 * /dev/null as 0, 1 and 2, so that whatever writes to "stderr" in this thread outside
 * leaktag's log (glibc's own fatal messages) does not land in a snapshot file opened as 2. */
static int unshare_table(void)
{
    if (syscall(SYS_close_range, 0u, ~0u, CLOSE_RANGE_UNSHARE) != 0)
        return -errno; /* before Linux 5.9: snapshots stay in the asking thread */
    for (int fd = 0; fd < 3; fd++)
        if (open("/dev/null", O_RDWR | O_CLOEXEC) != fd)
            break; /* no /dev/null in a chroot: the snapshot files may take 0-2 then */
    return 0;
}

static void *files_main(void *unused)
{
    (void)unused;
    lt_enter(); /* for good: nothing this thread does is the application's */
    struct lt_thread *self = lt_self();
    atomic_fetch_or(&self->state, LT_THREAD_INTERNAL);
    lt_real_system()->prctl(PR_SET_NAME, (unsigned long)"leaktag-files", 0, 0, 0);
    __builtin_memcpy(self->name, "leaktag-files", sizeof("leaktag-files"));
    lt_thread_note_stack(self);
    int err = unshare_table();
    if (!err) {
        atomic_store_explicit(&files_pid, getpid(), memory_order_release);
        atomic_store_explicit(&files_tid, (pid_t)syscall(SYS_gettid), memory_order_release);
    }
    atomic_store_explicit(&start_status, err, memory_order_release);
    futex_wake((_Atomic uint32_t *)&start_status);
    if (err)
        return NULL;
    for (;;) {
        uint32_t finished = atomic_load_explicit(&done, memory_order_acquire);
        while (atomic_load_explicit(&posted, memory_order_acquire) == finished)
            futex_wait(&posted, finished, NULL);
        lt_log_capture(&job.log);
        job.fn(job.arg);
        lt_log_capture(NULL);
        atomic_store_explicit(&done, finished + 1, memory_order_release);
        futex_wake(&done);
    }
    return NULL;
}

int lt_fdtable_start(void)
{
    if (atomic_load(&files_tid))
        return 0;
    atomic_store(&start_status, 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_BYTES);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int err = lt_real_system()->pthread_create(&thread, &attr, files_main, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        lt_log("cannot start leaktag's files thread (%d); snapshots are written by the thread "
               "that asks",
               err);
        return -err;
    }
    /* A second at most: a seccomp filter that kills the thread at close_range would leave
     * this wait with nobody to end it. */
    int status;
    int64_t until = lt_clock_ns(CLOCK_MONOTONIC) + 1000000000;
    while ((status = atomic_load_explicit(&start_status, memory_order_acquire)) == 1) {
        if (lt_clock_ns(CLOCK_MONOTONIC) > until) {
            status = -ETIMEDOUT;
            break;
        }
        struct timespec step = {0, 10 * 1000 * 1000};
        futex_wait((_Atomic uint32_t *)&start_status, 1, &step);
    }
    if (status)
        lt_log_once("no descriptor table of leaktag's own here (%d): a thread that closes "
                    "every descriptor can fail a snapshot",
                    -status);
    return status;
}

bool lt_fdtable_run(void (*fn)(void *), void *arg, int64_t timeout_ns)
{
    pid_t tid = atomic_load_explicit(&files_tid, memory_order_acquire);
    pid_t pid = getpid();
    if (!tid || tid == (pid_t)syscall(SYS_gettid) ||
        atomic_load_explicit(&files_pid, memory_order_acquire) != pid)
        return false;
    int saved_errno = errno;
    int64_t until = timeout_ns ? lt_clock_ns(CLOCK_MONOTONIC) + timeout_ns : 0;
    uint32_t free_slot = 0;
    while (!atomic_compare_exchange_weak(&slot_taken, &free_slot, 1)) {
        if (until && lt_clock_ns(CLOCK_MONOTONIC) > until) {
            errno = saved_errno;
            return false;
        }
        free_slot = 0;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    job.fn = fn;
    job.arg = arg;
    job.log.len = 0;
    job.log.dropped = 0;
    /* Once handed over it runs to its end, which is waited for: fn may use the asking
     * thread's stack. */
    uint32_t target = atomic_load_explicit(&done, memory_order_acquire) + 1;
    atomic_fetch_add_explicit(&posted, 1, memory_order_release);
    futex_wake(&posted);
    /* In steps, each time making sure the thread is still there (a thread killed alone, by
     * a seccomp filter, would leave nobody to end this wait). */
    uint32_t now;
    while ((now = atomic_load_explicit(&done, memory_order_acquire)) != target) {
        struct timespec step = {0, 100 * 1000 * 1000};
        futex_wait(&done, now, &step);
        if (atomic_load_explicit(&done, memory_order_acquire) != target &&
            syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH) {
            atomic_store(&files_tid, 0); /* gone: the job did not run to its end */
            break;
        }
    }
    lt_log_write_captured(&job.log);
    atomic_store_explicit(&slot_taken, 0, memory_order_release);
    errno = saved_errno;
    return true;
}

pid_t lt_fdtable_tid(void)
{
    return atomic_load_explicit(&files_tid, memory_order_acquire);
}

void lt_fdtable_fork_child(void)
{
    atomic_store(&files_tid, 0);
    atomic_store(&files_pid, 0);
    atomic_store(&slot_taken, 0);
    atomic_store(&posted, 0);
    atomic_store(&done, 0);
}
