/* worker.c — the "leaktag" thread, what wakes it, and the snapshot signal's handler.
 * The thread blocks every signal and never takes one: a signal it waited for could be one
 * the application reads through a signalfd (PostgreSQL's latch takes SIGURG that way), and a
 * process-directed signal goes to whichever thread waits first. It sleeps on a futex word of
 * leaktag's own, woken by the handler in an application thread, a hook that found a table
 * shard crowded, a thread that exits; and every 200 ms it looks at the control block, where
 * `leaktag --pid` counts its requests up, so asking for a snapshot needs no signal at all.
 * The snapshot signal (USR2 unless LEAKTAG_SIGNAL says otherwise) is the application's
 * where it uses it: with the default, a handler or SIG_IGN of the program's own goes to the
 * kernel as it is and leaktag takes no snapshot by signal there; a signal the user chose is
 * leaktag's, and the program's handler is chained. No descriptor is held. The handler is
 * async-signal-safe and, when the program has no other thread, writes the snapshot itself on
 * a stack of leaktag's own. The thread never runs application code and tracks nothing of its
 * own.
 *
 * The thread has a 256 KiB stack and is named "leaktag" (one that waited in sigtimedwait took
 * the SIGURG PostgreSQL reads through a signalfd, and hung its parallel queries). It sleeps
 * with FUTEX_WAIT on the value of its word read before it looked for work, so no wake-up is
 * lost, with a timeout for LEAKTAG_INTERVAL, the control block and housekeeping (each second:
 * module rescan, crowded table shards, retired table memory, threads found gone; every tenth
 * time, shrinking the table). Signals that arrive during a snapshot are answered by the next
 * one, which records how many (META requests) and who sent the last (signal_sender_pid). The
 * thread starts lazily: when the program creates its first thread, when LEAKTAG_INTERVAL is
 * set, when the program takes, ignores or blocks the snapshot signal (from the start, or at
 * the next hook after sigaction, sigprocmask or pthread_sigmask said so: requests must then be
 * answered by the thread), or at the first hook after a signal found it missing. Until then a
 * single-threaded process keeps glibc's lock-free single-thread malloc path. In that state
 * (__libc_single_threaded, the signal did not interrupt leaktag itself, guard clear, nor the
 * dynamic loader, whose module list the snapshot walks: the interrupted pc is outside ld.so's
 * code, located once from AT_BASE) the handler writes the snapshot itself, on a 512 KiB stack
 * of leaktag's own (arch.c: lt_arch_call_on_stack; the program's may be a 16 KiB coroutine or
 * sigaltstack): the only thread is stopped in the handler, so the tables are still. That also
 * serves programs idle in a system call. The kernel's disposition follows the application's
 * action: its handler for a chosen signal is recorded and called from ours (signals.c), ours
 * is installed with its SA_RESTART and SA_ONSTACK, and SIG_IGN is installed as it is (nothing
 * is delivered, no call is interrupted, and snapshots come through `leaktag --pid` only). When
 * the application's last thread has ended (main called pthread_exit, a fork child's only
 * thread returned) and only leaktag's two threads are left (zombie group leaders are not
 * counted), leaktag's thread calls exit(0) as glibc's last thread would. A fork child gets its
 * own thread at its first hook if the parent had one (creating a thread inside an atfork
 * handler is not allowed). */
#include "worker.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch.h"
#include "backend.h"
#include "clock.h"
#include "compiler.h"
#include "composer.h"
#include "control.h"
#include "fdtable.h"
#include "log.h"
#include "mem.h"
#include "modules.h"
#include "options.h"
#include "procfs.h"
#include "signals.h"
#include "table.h"
#include "tracker.h"

#define HOUSEKEEPING_MS 1000
#define COMPACT_EVERY 10                 /* housekeeping rounds between table compactions */
#define HANDLER_STACK_BYTES (512 * 1024) /* an in-handler snapshot needs about 30 KiB */

/* The thread starts only when needed: while a process has one thread glibc's malloc takes
 * no locks, and a thread of ours would cost a single-threaded program that (about 20% on
 * a malloc-bound benchmark). Needed means: the program starts a thread of its own, a
 * LEAKTAG_INTERVAL is set, or the snapshot signal cannot reach a handler (the program
 * ignores it or blocks it). A single-threaded program's snapshot signal is served in the
 * handler itself. */
static _Atomic bool running;
#define REQUEST_POLL_MS 200 /* how often the control block is read for `leaktag --pid` */

/* Counted up at every wake-up: the thread sleeps on it (FUTEX_WAIT while it holds the
 * value read before looking for work), so a wake-up is never lost. */
static _Atomic uint32_t wake_word;

/* Why the thread was woken. */
static _Atomic uint32_t requests;     /* snapshot signals taken by the handler */
static _Atomic int32_t signal_sender; /* the pid that sent the last of them (0: the kernel) */
static _Atomic bool maintenance;      /* a table shard is crowded */
static _Atomic bool thread_ended;     /* an application thread exited: maybe the last */
static _Atomic bool rescan_wanted;    /* the module registry, for a final snapshot */
static _Atomic uint32_t rescans_done;

static void request_start(void);

static _Atomic bool installed; /* lt_opt.signal is managed (signals.c) */

static void *handler_stack; /* top of the stack in-handler snapshots run on */

/* Wakes the thread: one futex wake (async-signal-safe, errno kept). False if it is not
 * there. */
static bool wake(void)
{
    pid_t tid = lt_threads_leaktag_tid();
    if (!tid)
        return false;
    int saved_errno = errno;
    atomic_fetch_add_explicit(&wake_word, 1, memory_order_release);
    syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved_errno;
    return true;
}

/* A signal that lands in the dynamic loader may have interrupted dlopen or dlclose halfway
 * through changing the module list, which an in-handler snapshot walks: that snapshot is
 * then left to leaktag's thread, after the loader is done. */
static bool interrupted_in_loader(const void *uctx)
{
    return uctx && lt_modules_in_loader(lt_arch_pc(uctx));
}

static void snapshot_in_handler(void *unused)
{
    (void)unused;
    lt_enter();
    lt_composer_write(lt_self(), "signal", 1, (pid_t)atomic_load(&signal_sender));
    lt_leave();
}

/* The program's own action for the snapshot signal goes to the kernel as it is: a handler or
 * SIG_IGN of its own, where the user did not choose the signal for leaktag (SA_RESETHAND
 * aside: the kernel would reset it to the default, which ends the process, behind the
 * recorded action's back; that handler is chained from ours instead). */
static bool app_owns(const struct sigaction *app)
{
    return !lt_opt.signal_chosen && !lt_signals_default(app) &&
           (lt_signals_ignores(app) || !(app->sa_flags & SA_RESETHAND));
}

/* Is a delivered snapshot signal a request for a snapshot? Always where leaktag's handler
 * alone is installed (the default action would have ended the process); with a handler of
 * the program's own, only when the user chose the signal for leaktag. */
static bool signal_is_ours(void)
{
    struct sigaction app = {0}; /* SIG_DFL, until signals.c has the action (installing) */
    lt_signals_app_action(lt_opt.signal, &app);
    return lt_opt.signal_chosen || lt_signals_default(&app);
}

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    if (signal_is_ours()) {
        /* who asked: kill, sigqueue and tgkill say; the kernel's own say nobody */
        atomic_store(&signal_sender, info && info->si_code <= 0 ? info->si_pid : 0);
        if (atomic_load_explicit(&running, memory_order_acquire)) {
            atomic_fetch_add(&requests, 1);
            wake(); /* (a thread still starting finds the request in its first round) */
        } else if (__libc_single_threaded && !lt_inside() && !interrupted_in_loader(uctx) &&
                   handler_stack) {
            /* The only thread, interrupted outside leaktag: the tables are still, so the
             * snapshot is written right here (the program may be idle and never reach a
             * hook that could start our thread), on leaktag's own stack: the program's may
             * be a 16 KiB coroutine or sigaltstack. Only syscalls and leaktag's own code
             * run, plus dl_iterate_phdr for the module list. */
            lt_arch_call_on_stack(snapshot_in_handler, NULL, handler_stack);
        } else {
            atomic_fetch_add(&requests, 1);
            request_start(); /* one atomic store: the next hook in any thread starts it */
        }
    }
    errno = saved_errno;
    lt_signals_chain(sig, info, uctx);
}

static _Atomic bool thread_wanted; /* a start was requested: requests will be answered */

/* What `leaktag --pid` may do: count a request up (leaktag's thread runs, or will), or send
 * the signal (leaktag's handler answers a kill). */
static void tell_control(const struct sigaction *app)
{
    uint32_t flags = 0;
    struct sigaction now = {0};
    if (!app && atomic_load(&installed)) {
        lt_signals_app_action(lt_opt.signal, &now);
        app = &now;
    }
    if (app && atomic_load(&installed) && !app_owns(app) && !lt_signals_ignores(app))
        flags |= LT_CONTROL_KILL_ANSWERED;
    if (atomic_load(&running) || atomic_load(&thread_wanted))
        flags |= LT_CONTROL_REQUESTS;
    lt_control_signal(atomic_load(&installed) ? lt_opt.signal : 0, flags);
}

/* The kernel's disposition for our signal, following the application's action: its own
 * where it owns the signal (app_owns), SIG_IGN when it ignores it (nothing is delivered, no
 * call is interrupted), else our handler with the application's SA_RESTART and SA_ONSTACK
 * (SA_RESTART for SIG_DFL). Where the signal cannot reach our handler, leaktag's thread is
 * started so that `leaktag --pid` still gets its snapshot. Called by signals.c at every
 * change. */
static int apply(int sig, const struct sigaction *app)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    bool away = app_owns(app) || lt_signals_ignores(app);
    if (away) {
        sa = *app;
    } else {
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO |
                      (lt_signals_default(app) ? SA_RESTART
                                               : app->sa_flags & (SA_RESTART | SA_ONSTACK));
        sigfillset(&sa.sa_mask);
    }
    int rc = lt_real_system()->sigaction(sig, &sa, NULL);
    if (away)
        request_start();
    atomic_store(&installed, rc == 0 || atomic_load(&installed));
    tell_control(app); /* now `leaktag --pid` knows what to do */
    return rc;
}

bool lt_worker_rescan_modules(int64_t timeout_ns)
{
    if (!atomic_load_explicit(&running, memory_order_acquire))
        return false;
    uint32_t before = atomic_load_explicit(&rescans_done, memory_order_acquire);
    atomic_store_explicit(&rescan_wanted, true, memory_order_release);
    if (!wake())
        return false;
    for (int64_t waited = 0; waited < timeout_ns; waited += 1000000) {
        if (atomic_load_explicit(&rescans_done, memory_order_acquire) != before)
            return true;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return true; /* it is stuck (in the loader, behind another thread): no use trying here */
}

void lt_worker_mask_changed(void)
{
    if (!lt_opt.signal || atomic_load_explicit(&running, memory_order_acquire) || lt_inside())
        return;
    sigset_t now;
    if (lt_real_system()->pthread_sigmask(SIG_BLOCK, NULL, &now) == 0 &&
        sigismember(&now, lt_opt.signal) == 1)
        request_start(); /* a blocked signal may never reach the handler: requests then */
}

static void install_handler(void)
{
    handler_stack = lt_mem_map_stack(HANDLER_STACK_BYTES);
    /* What the application (or its parent) set up before us is kept, to chain to it. */
    if (!lt_signals_manage(lt_opt.signal, apply)) {
        atomic_store(&installed, false);
        tell_control(NULL);
        lt_log("cannot install the handler for signal %d; snapshots by signal are off",
               lt_opt.signal);
    }
}

/* Called from inside malloc hooks when a table shard is crowded: one futex wake, no more. */
static void wake_for_maintenance(void)
{
    atomic_store_explicit(&maintenance, true, memory_order_release);
    wake();
}

/* Called by a thread that ends. */
static void wake_for_thread_end(void)
{
    atomic_store_explicit(&thread_ended, true, memory_order_release);
    wake();
}

static void housekeeping(struct lt_thread *self, unsigned round)
{
    lt_modules_rescan(); /* what was loaded and unloaded, to a second */
    lt_table_maintain(self);
    lt_table_reclaim(self, 10 * 1000 * 1000);
    if (round % COMPACT_EVERY == 0)
        lt_table_compact(self);
}

/* When the application's last thread has ended (main called pthread_exit, or a fork
 * child's only thread returned), the process ends as it would without us: exit(0), in
 * this thread, which runs the atexit handlers as glibc's last thread would. */
static void end_if_alone(void)
{
    /* The registry first: a thread it knows alive settles it without a descriptor (a walk
     * of /proc/self/task holds two, and the application's next open() would get a higher
     * one than without us). Only when it knows none is the kernel asked, for threads that
     * never allocated. */
    lt_threads_reap();
    if (lt_threads_alive() > 0)
        return;
    int ours = 1 + (lt_fdtable_tid() != 0); /* this thread, and the files thread */
    for (int i = 0; i < 50; i++) {          /* an exiting thread is still there for a moment */
        if (lt_proc_live_threads() != ours)
            return;
        if (i == 49)
            break;
        struct timespec ms = {0, 2 * 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    lt_leave(); /* the atexit handlers are the application's */
    exit(0);
}

static void *worker_main(void *arg)
{
    (void)arg;
    lt_enter(); /* for good: nothing this thread does is the application's */
    struct lt_thread *self = lt_self();
    atomic_fetch_or(&self->state, LT_THREAD_INTERNAL);
    lt_real_system()->prctl(PR_SET_NAME, (unsigned long)"leaktag", 0, 0, 0);
    memcpy(self->name, "leaktag", sizeof("leaktag"));
    lt_thread_note_stack(self);
    pid_t tid = (pid_t)syscall(SYS_gettid);
    lt_threads_note_leaktag(tid, (uint64_t)(uintptr_t)__builtin_frame_address(0));
    lt_control_worker(tid);
    tell_control(NULL);
    lt_fdtable_start(); /* snapshots are written there, in a descriptor table of their own */
    /* From now on crowded table shards are rebuilt here, not in allocating threads. */
    lt_table_set_maintainer(wake_for_maintenance);
    lt_threads_on_exit(wake_for_thread_end);

    int64_t interval_ns = (int64_t)lt_opt.interval * 1000000000;
    int64_t next_interval = lt_clock_ns(CLOCK_MONOTONIC) + interval_ns;
    int64_t next_housekeeping = lt_clock_ns(CLOCK_MONOTONIC);
    for (unsigned round = 1;;) {
        /* Read before looking for work: a wake-up after this makes the wait return. */
        uint32_t seen = atomic_load_explicit(&wake_word, memory_order_acquire);
        int64_t now = lt_clock_ns(CLOCK_MONOTONIC);
        int64_t until = next_housekeeping;
        if (interval_ns && next_interval < until)
            until = next_interval;
        int64_t wait_ns = until > now ? until - now : 0;
        if (wait_ns > (int64_t)REQUEST_POLL_MS * 1000000)
            wait_ns = (int64_t)REQUEST_POLL_MS * 1000000;
        bool pending = atomic_load(&requests) || atomic_load(&maintenance) ||
                       atomic_load(&rescan_wanted) || atomic_load(&thread_ended);
        if (wait_ns && !pending) {
            struct timespec timeout = {wait_ns / 1000000000, wait_ns % 1000000000};
            syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, seen, &timeout, NULL, 0);
        }
        /* Signals the handler counted, and requests `leaktag --pid` counted up in the
         * control block: one snapshot answers them all. */
        uint32_t signals = atomic_exchange(&requests, 0);
        uint32_t asked = lt_control_take_requests();
        if (signals)
            lt_composer_write(self, "signal", signals + asked, (pid_t)atomic_load(&signal_sender));
        else if (asked)
            lt_composer_write(self, "request", asked, 0);
        if (atomic_exchange(&maintenance, false))
            lt_table_maintain(self);
        if (atomic_exchange(&rescan_wanted, false)) {
            lt_modules_rescan();
            atomic_fetch_add_explicit(&rescans_done, 1, memory_order_release);
        }
        now = lt_clock_ns(CLOCK_MONOTONIC);
        if (interval_ns && now >= next_interval) {
            lt_composer_write(self, "interval", 0, 0);
            next_interval = lt_clock_ns(CLOCK_MONOTONIC) + interval_ns;
        }
        bool ended = atomic_exchange(&thread_ended, false);
        if (now >= next_housekeeping) {
            housekeeping(self, round++);
            next_housekeeping = now + (int64_t)HOUSEKEEPING_MS * 1000000;
            ended = true; /* end_if_alone also reaps the threads leaktag did not start */
        }
        if (ended)
            end_if_alone();
    }
    return NULL;
}

static int start_thread(void)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&running, &expected, true))
        return 0; /* already running, or being started */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* a small footprint in the inventory */
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Blocked in the new thread from birth, for good. */
    sigset_t all, old;
    sigfillset(&all);
    lt_real_system()->pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    lt_enter(); /* what pthread_create allocates is not the application's */
    int err = lt_real_system()->pthread_create(&thread, &attr, worker_main, NULL);
    lt_leave();
    lt_real_system()->pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        atomic_store(&running, false);
        atomic_store(&thread_wanted, false); /* nobody will answer requests: say so */
        tell_control(NULL);
        lt_log("cannot start the leaktag thread (%d); snapshots only at exit or by API", err);
    }
    return -err;
}

static void start_from_hook(void)
{
    start_thread();
}

static void request_start(void)
{
    if (!atomic_exchange(&thread_wanted, true) || !atomic_load(&running))
        lt_tracker_request_restart(start_from_hook);
}

void lt_worker_ensure(void)
{
    if (!atomic_load_explicit(&running, memory_order_acquire))
        start_thread();
}

void lt_worker_answer_pending(void)
{
    if (atomic_load(&requests) && !atomic_load_explicit(&running, memory_order_acquire) &&
        !lt_inside())
        start_thread();
}

static void fork_prepare(void)
{
    lt_composer_fork_prepare(); /* no snapshot half-written in the child */
}

static void fork_parent(void)
{
    lt_composer_fork_parent();
    /* A signal that came during the fork found leaktag busy (its handlers hold the guard):
     * answered now, not at a next allocation a quiet parent may never make. The tracker's
     * handler, registered first, has left leaktag by now. */
    lt_worker_answer_pending();
}

static void fork_child(void)
{
    bool had_thread = atomic_load(&running);
    /* It did not survive the fork. Until a new one runs, crowded shards are rebuilt by
     * whoever finds them, and the handler serves the signal. */
    lt_threads_note_leaktag(0, 0);
    atomic_store(&running, false);
    atomic_store(&requests, 0); /* the parent's, answered there */
    lt_fdtable_fork_child();
    lt_table_set_maintainer(NULL);
    lt_threads_on_exit(NULL);
    lt_composer_fork_child();
    /* Creating a thread is not allowed here: the next hook does it, if one was running. */
    if (had_thread)
        request_start();
}

int lt_worker_start(void)
{
    lt_composer_init();
    lt_modules_rescan(); /* what the loader loaded before us */
    /* Registered after the tracker's: our prepare runs first, our child handler last. */
    lt_atfork(fork_prepare, fork_parent, fork_child);
    bool need_thread = lt_opt.interval != 0;
    if (lt_opt.signal) {
        install_handler();
        sigset_t mask;
        /* A signal the program took, ignores or blocks from the start may never reach our
         * handler: requests through our thread then. */
        struct sigaction app = {0};
        if (atomic_load(&installed))
            lt_signals_app_action(lt_opt.signal, &app);
        need_thread |= app_owns(&app) || lt_signals_ignores(&app) ||
                       (lt_real_system()->pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 &&
                        sigismember(&mask, lt_opt.signal) == 1);
    }
    return need_thread ? start_thread() : 0;
}
