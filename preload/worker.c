/* worker.c — the "leaktag" thread. The snapshot signal's handler is async-signal-safe: it
 * bumps an eventfd and chains to the application's own handler for that signal, nothing
 * else. The thread waits on the eventfd with a timeout that serves the snapshot interval
 * and housekeeping; it never runs application code and tracks nothing of its own. */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/single_threaded.h>
#include <ucontext.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "compiler.h"
#include "control.h"
#include "log.h"
#include "modules.h"
#include "options.h"
#include "composer.h"
#include "table.h"
#include "tracker.h"

#define HOUSEKEEPING_MS 1000
#define COMPACT_EVERY 10 /* housekeeping rounds between table compactions */

static _Atomic int wake_fd = -1;  /* the snapshot signal */
static _Atomic int maint_fd = -1; /* a crowded table shard */

/* The thread starts only when needed: while a process has one thread glibc's malloc takes
 * no locks, and a thread of ours would cost a single-threaded program that (about 20% on
 * a malloc-bound benchmark). Needed means: the program starts a thread of its own, or a
 * LEAKTAG_INTERVAL is set. A single-threaded program's snapshot signal is served in the
 * handler itself. */
static _Atomic bool running;

static void request_start(void);

/* The application's handler for our signal: a ring of copies and the index of the current
 * one. A change writes a fresh slot and then swaps the index, so the signal handler always
 * reads a complete copy (unless 15 more changes land while it reads one), and no lock is
 * taken: sigaction() may be called from a signal handler, even one that interrupted
 * sigaction() itself. */
#define APP_ACTIONS 16u
static struct sigaction app_action[APP_ACTIONS];
static _Atomic unsigned app_current;   /* slot 0: what was installed before us */
static _Atomic unsigned app_next = 1;

/* The dynamic loader's code (found from AT_BASE when the handler is installed). A signal
 * that lands there may have interrupted dlopen or dlclose halfway through changing the
 * module list, which an in-handler snapshot walks: that snapshot is then left to leaktag's
 * thread, after the loader is done. */
static uint64_t loader_lo, loader_hi;

static bool interrupted_in_loader(const void *uctx)
{
    const ucontext_t *uc = uctx;
    if (!uc)
        return false;
    uint64_t pc = 0;
#if defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext.pc;
#endif
    return pc >= loader_lo && pc < loader_hi;
}

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    int fd = atomic_load_explicit(&wake_fd, memory_order_relaxed);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t ignored = write(fd, &one, sizeof(one));
        (void)ignored;
    }
    if (!atomic_load_explicit(&running, memory_order_relaxed)) {
        if (__libc_single_threaded && !lt_inside() && !interrupted_in_loader(uctx)) {
            /* The only thread, interrupted outside leaktag: the tables are still, so the
             * snapshot is written right here (the program may be idle and never reach a
             * hook that could start our thread). Only syscalls and leaktag's own code run,
             * plus dl_iterate_phdr for the module list. */
            lt_enter();
            uint64_t pending;
            if (fd >= 0 && read(fd, &pending, sizeof(pending)) < 0)
                pending = 0;
            lt_composer_write(lt_self(), "signal");
            lt_leave();
        } else {
            request_start(); /* one atomic store: the next hook in any thread starts it */
        }
    }
    errno = saved_errno;
    const struct sigaction *app = &app_action[atomic_load(&app_current)];
    if (app->sa_flags & SA_SIGINFO) {
        if (app->sa_sigaction)
            app->sa_sigaction(sig, info, uctx);
    } else if (app->sa_handler != SIG_DFL && app->sa_handler != SIG_IGN) {
        app->sa_handler(sig);
    }
}

bool lt_worker_app_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!lt_opt.signal || sig != lt_opt.signal ||
        atomic_load_explicit(&wake_fd, memory_order_acquire) < 0)
        return false;
    if (!act) {
        if (old)
            *old = app_action[atomic_load(&app_current)];
        return true;
    }
    unsigned slot = atomic_fetch_add(&app_next, 1) % APP_ACTIONS;
    app_action[slot] = *act;
    unsigned previous = atomic_exchange(&app_current, slot);
    if (old)
        *old = app_action[previous];
    return true;
}

static void install_handler(void)
{
    /* The real sigaction: ours would take this for the application's handler. */
    int (*real)(int, const struct sigaction *, struct sigaction *) = lt_real_system()->sigaction;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    uint64_t loader = getauxval(AT_BASE);
    if (loader)
        lt_modules_text(loader, &loader_lo, &loader_hi);
    /* Keep what the application (or its parent) set up before us, to chain to it. */
    struct sigaction before;
    if (real(lt_opt.signal, NULL, &before) == 0 && before.sa_handler != SIG_DFL)
        app_action[0] = before;
    if (real(lt_opt.signal, &sa, NULL) == 0)
        lt_control_signal(lt_opt.signal); /* now `leaktag --pid` may send it */
    else
        lt_log("cannot install the handler for signal %d; snapshots by signal are off",
               lt_opt.signal);
}

/* Called from inside malloc hooks when a table shard is crowded: one write(2), no more. */
static void wake_for_maintenance(void)
{
    int fd = atomic_load_explicit(&maint_fd, memory_order_relaxed);
    uint64_t one = 1;
    if (fd >= 0) {
        int saved_errno = errno;
        ssize_t ignored = write(fd, &one, sizeof(one));
        (void)ignored;
        errno = saved_errno;
    }
}

static void housekeeping(struct lt_thread *self, unsigned round)
{
    lt_table_maintain(self);
    lt_table_reclaim(self, 10 * 1000 * 1000);
    if (round % COMPACT_EVERY == 0)
        lt_table_compact(self);
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
    /* The application may block our signal everywhere; here it is always deliverable. */
    sigset_t set;
    sigemptyset(&set);
    if (lt_opt.signal)
        sigaddset(&set, lt_opt.signal);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    /* From now on crowded table shards are rebuilt here, not in allocating threads. */
    if (atomic_load(&maint_fd) >= 0)
        lt_table_set_maintainer(wake_for_maintenance);

    int64_t interval_ns = (int64_t)lt_opt.interval * 1000000000;
    int64_t next_interval = lt_clock_ns(CLOCK_MONOTONIC) + interval_ns;
    int64_t next_housekeeping = lt_clock_ns(CLOCK_MONOTONIC);
    for (unsigned round = 1;;) {
        int64_t now = lt_clock_ns(CLOCK_MONOTONIC);
        int64_t until = next_housekeeping;
        if (interval_ns && next_interval < until)
            until = next_interval;
        int timeout = until > now ? (int)((until - now + 999999) / 1000000) : 0;
        struct pollfd pfd[2] = {{.fd = atomic_load(&maint_fd), .events = POLLIN},
                                {.fd = atomic_load(&wake_fd), .events = POLLIN}};
        uint64_t count;
        if (poll(pfd, 2, timeout) > 0) {
            if ((pfd[0].revents & POLLIN) && read(pfd[0].fd, &count, sizeof(count)) > 0)
                lt_table_maintain(self);
            /* Signals that arrive during a snapshot are folded into the next one. */
            if ((pfd[1].revents & POLLIN) && read(pfd[1].fd, &count, sizeof(count)) > 0)
                lt_composer_write(self, "signal");
        }
        now = lt_clock_ns(CLOCK_MONOTONIC);
        if (interval_ns && now >= next_interval) {
            lt_composer_write(self, "interval");
            next_interval = lt_clock_ns(CLOCK_MONOTONIC) + interval_ns;
        }
        if (now >= next_housekeeping) {
            housekeeping(self, round++);
            next_housekeeping = now + (int64_t)HOUSEKEEPING_MS * 1000000;
        }
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
    /* Blocked in the new thread from birth; it unblocks only its own signal. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    lt_enter(); /* what pthread_create allocates is not the application's */
    int err = lt_real_system()->pthread_create(&thread, &attr, worker_main, NULL);
    lt_leave();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err) {
        atomic_store(&running, false);
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
    lt_tracker_request_restart(start_from_hook);
}

void lt_worker_ensure(void)
{
    if (!atomic_load_explicit(&running, memory_order_acquire))
        start_thread();
}

static void at_exit(void)
{
    lt_enter();
    lt_composer_write(lt_self(), "exit");
    lt_leave();
}

static void fork_prepare(void)
{
    lt_composer_fork_prepare(); /* no snapshot half-written in the child */
}

static void fork_parent(void)
{
    lt_composer_fork_parent();
}

static void fork_child(void)
{
    bool had_thread = atomic_load(&running);
    atomic_store(&running, false); /* it did not survive the fork */
    lt_composer_fork_child();
    lt_worker_fork_child();
    /* Creating a thread is not allowed here: the next hook does it, if one was running. */
    if (had_thread)
        request_start();
}

int lt_worker_start(void)
{
    lt_composer_init();
    if (lt_opt.at_exit)
        atexit(at_exit);
    /* Registered after the tracker's: our prepare runs first, our child handler last. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd >= 0)
        atomic_store(&maint_fd, fd);
    if (lt_opt.signal) {
        fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) {
            lt_log("cannot create an eventfd; snapshots by signal are off");
        } else {
            atomic_store(&wake_fd, fd);
            install_handler();
        }
    }
    return lt_opt.interval ? start_thread() : 0;
}

/* The inherited eventfds are shared with the parent: its wake-ups are not ours. */
static void renew(_Atomic int *slot)
{
    int old = atomic_load(slot);
    if (old < 0)
        return;
    atomic_store(slot, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    close(old);
}

void lt_worker_fork_child(void)
{
    /* Until the new thread runs, crowded shards are rebuilt by whoever finds them. */
    lt_table_set_maintainer(NULL);
    renew(&maint_fd);
    renew(&wake_fd);
}


