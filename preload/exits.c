/* exits.c — the final snapshot, and handing the end back to the application: after the
 * snapshot a fatal signal is set back to SIG_DFL and raised again, so the exit status, the
 * core dump and everything else are what they would have been. A handler the application
 * installs for one of these signals is installed as it is: leaktag steps aside.
 *
 * One writer: the first way out takes the final snapshot with a compare-and-swap; threads that
 * end the process meanwhile (many crashing at once, a crash during exit) wait for it, 60 s at
 * most, and the process then ends by the first one's signal. A fatal signal's handler asks for
 * it on a 512 KiB stack of leaktag's own (a crash may come from a small or exhausted stack).
 * The composer waits at most 3 s for a snapshot already under way. Modules loaded since the
 * last rescan are listed by leaktag's thread (1 s at most: another thread may hold the
 * loader's lock for good), or here when there is no such thread and the loader was not
 * interrupted. A crash inside the real allocator a hook called (glibc's abort on an invalid
 * free) still gets its snapshot; one inside leaktag's own code does not, nor does a vfork
 * child. The snapshot's reason says how the process ended. */
#include "exits.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "backend.h"
#include "clock.h"
#include "composer.h"
#include "control.h"
#include "log.h"
#include "mem.h"
#include "modules.h"
#include "options.h"
#include "signals.h"
#include "tracker.h"
#include "unwind.h"
#include "worker.h"

#define FINAL_STACK_BYTES (512 * 1024)

/* Signals whose default action ends the process (not SIGKILL, SIGSTOP: they cannot be
 * caught), without the snapshot signal. */
static const int fatal_signals[] = {
    SIGHUP,    SIGINT,  SIGQUIT, SIGILL,    SIGTRAP, SIGABRT, SIGBUS,
    SIGFPE,    SIGUSR1, SIGSEGV, SIGUSR2,   SIGPIPE, SIGALRM, SIGTERM,
    SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGPWR,  SIGSYS,
};

/* The final snapshot is written once, by the first way out that gets here: the thread that
 * writes it, and whether it has. Every other thread that ends the process meanwhile — many
 * threads crashing at once, a crash during exit() — waits for it (bounded, take_final): a
 * second writer on the same stack, or a second signal ending the process mid-write, left no
 * snapshot at all. */
static _Atomic pid_t final_writer;
static _Atomic uint32_t final_done; /* a futex word: 1 once the writer is through */
static void *final_stack;

#define FINAL_WAIT_S 60 /* for another thread's final snapshot (a census, a verdict: seconds) */

static void write_final(void *reason)
{
    lt_enter();
    lt_composer_write_final(lt_self(), reason);
    lt_leave();
}

/* Until the writer is through, FINAL_WAIT_S at most (it may be stuck, or gone with a crash).
 * Async-signal-safe: a futex wait. */
static void wait_for_final(void)
{
    int64_t until = lt_clock_ns(CLOCK_MONOTONIC) + (int64_t)FINAL_WAIT_S * 1000000000;
    while (!atomic_load(&final_done)) {
        int64_t left = until - lt_clock_ns(CLOCK_MONOTONIC);
        if (left <= 0)
            return;
        struct timespec step = {0, 100 * 1000 * 1000};
        if (left < 100 * 1000 * 1000)
            step.tv_nsec = (long)left;
        syscall(SYS_futex, &final_done, FUTEX_WAIT_PRIVATE, 0, &step, NULL, 0);
    }
}

/* Is a final snapshot wanted here? from_leaktag: the thread was inside leaktag, but not in
 * its own code (in the real allocator a hook called: glibc aborts there on an invalid
 * free). Not in a vfork child (it shares its parent's memory; the control block names the
 * parent). */
static bool wanted(bool from_leaktag)
{
    return lt_opt.at_exit && (!lt_inside() || from_leaktag) && lt_tracker_active() &&
           getpid() == __atomic_load_n(&leaktag_control.pid, __ATOMIC_RELAXED);
}

/* True if the final snapshot is this thread's to write; a thread that comes second waits
 * (bounded) for the first to be through, and gets false. */
static bool take_final(pid_t me)
{
    pid_t writer = 0;
    if (atomic_compare_exchange_strong(&final_writer, &writer, me))
        return true;
    if (writer != me) /* (me: a second way out inside the first: go on ending) */
        wait_for_final();
    return false;
}

/* in_loader: a signal interrupted the dynamic loader (its module list may be half changed). */
static void write_final_now(const char *reason, bool in_loader)
{
    int saved_errno = errno;
    /* The modules loaded since the last rescan (dlopen cannot rescan after it: it must be a
     * tail call). By leaktag's thread if there is one — another thread may hold the loader's
     * lock for good — else here, unless the loader itself was interrupted or this is a fork
 * child with nothing loaded since (its registry is current; the lock may be the parent's). */
    if (!lt_worker_rescan_modules(1000000000) && !in_loader && !lt_modules_as_forked())
        lt_modules_rescan();
    write_final((void *)reason);
    atomic_store(&final_done, 1);
    syscall(SYS_futex, &final_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    errno = saved_errno;
}

static void be_second(void);

void lt_exits_final(const char *reason)
{
    pid_t me = (pid_t)syscall(SYS_gettid);
    if (!wanted(false))
        return;
    if (take_final(me))
        write_final_now(reason, false);
    else if (atomic_load(&final_writer) != me)
        be_second();
}

struct fatal {
    const char *reason;
    bool in_loader;
};

static void final_on_stack(void *raw)
{
    const struct fatal *f = raw;
    write_final_now(f->reason, f->in_loader);
}

static void on_exit_call(void)
{
    lt_exits_final("exit");
}

static void on_quick_exit(void)
{
    lt_exits_final("quick_exit");
}

/* Another way out came first and its snapshot is written: the process ends the way that one
 * does (its signal, raised again right after). This thread's own end comes only if that one
 * never does. */
static void be_second(void)
{
    struct timespec grace = {2, 0};
    while (nanosleep(&grace, &grace) != 0 && errno == EINTR) {
    }
}

static void on_fatal(int sig, siginfo_t *info, void *uctx)
{
    int saved_errno = errno;
    struct sigaction app;
    lt_signals_app_action(sig, &app);
    if (!lt_signals_default(&app)) { /* the application took it over meanwhile */
        errno = saved_errno;
        lt_signals_chain(sig, info, uctx);
        return;
    }
    /* abort() raises SIGABRT at its own thread. */
    char reason[32] = "abort";
    if (sig != SIGABRT || info->si_code != SI_TKILL || info->si_pid != getpid()) {
        const char *name = sigabbrev_np(sig);
        lt_format(reason, sizeof(reason), "signal SIG%s", name ? name : "?");
    }
    /* Inside leaktag's own code (or writing a snapshot) its tables may be half changed: no
     * snapshot then. Inside the real allocator a hook called they are whole. */
    bool in_own_code = lt_inside() &&
                       (lt_composer_busy_here() || lt_unwind_is_own(lt_arch_pc(uctx)));
    pid_t me = (pid_t)syscall(SYS_gettid);
    if (final_stack && !in_own_code && wanted(true)) {
        if (take_final(me)) {
            /* A crash may come from a small or an exhausted stack: ours (one writer only:
             * take_final holds the others back, so only this thread is on it). */
            struct fatal f = {reason, lt_modules_in_loader(lt_arch_pc(uctx))};
            lt_arch_call_on_stack(final_on_stack, &f, final_stack);
        } else if (atomic_load(&final_writer) != me) {
            be_second();
        }
    } else if (!in_own_code) {
        pid_t writer = atomic_load(&final_writer);
        if (writer && writer != me) {
            wait_for_final();
            be_second();
        }
    } /* (interrupted inside leaktag: it may hold a lock the writer needs; it ends now) */
    /* The end it would have had: SIG_DFL, and the signal again, delivered as soon as this
     * handler returns (it is blocked meanwhile) — before a faulting instruction runs again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    lt_real_system()->sigaction(sig, &dfl, NULL);
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
    errno = saved_errno;
}

/* While the application leaves sig at its default action, our handler; else its action as
 * it is. Called by signals.c at every change. */
static int apply(int sig, const struct sigaction *app)
{
    if (!lt_signals_default(app))
        return lt_real_system()->sigaction(sig, app, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    return lt_real_system()->sigaction(sig, &sa, NULL);
}

/* A child forked while another thread wrote the final snapshot (or after) is a process of its
 * own, with its own end to come: nobody writes for it. */
static void fork_child(void)
{
    atomic_store(&final_writer, 0);
    atomic_store(&final_done, 0);
}

void lt_exits_init(void)
{
    if (!lt_opt.at_exit)
        return;
    lt_atfork(NULL, NULL, fork_child);
    atexit(on_exit_call);
    at_quick_exit(on_quick_exit);
    final_stack = lt_mem_map_stack(FINAL_STACK_BYTES);
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
        if (fatal_signals[i] != lt_opt.signal && !lt_signals_manage(fatal_signals[i], apply))
            lt_log_once("cannot watch signal %d; a death by it leaves no final snapshot",
                        fatal_signals[i]);
}
