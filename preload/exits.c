/* exits.c — the final snapshot, and handing the end back to the application: after the
 * snapshot a fatal signal is set back to SIG_DFL and raised again, so the exit status, the
 * core dump and everything else are what they would have been. A handler the application
 * installs for one of these signals is installed as it is: leaktag steps aside. */
#include "exits.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"
#include "backend.h"
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
    SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGUSR1, SIGSEGV,
    SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF,
    SIGPWR, SIGSYS,
};

static _Atomic bool final_written;
static void *final_stack;

static void write_final(void *reason)
{
    lt_enter();
    lt_composer_write_final(lt_self(), reason);
    lt_leave();
}

/* from_leaktag: the thread was inside leaktag, but not in its own code (in the real
 * allocator a hook called: glibc aborts there on an invalid free). in_loader: a signal
 * interrupted the dynamic loader (its module list may be half changed). */
static void final(const char *reason, bool from_leaktag, bool in_loader)
{
    if (!lt_opt.at_exit || (lt_inside() && !from_leaktag) || !lt_tracker_active() ||
        getpid() != __atomic_load_n(&leaktag_control.pid, __ATOMIC_RELAXED) ||
        atomic_exchange(&final_written, true))
        return;
    int saved_errno = errno;
    /* The modules loaded since the last rescan (dlopen cannot rescan after it: it must be a
     * tail call). By leaktag's thread if there is one — another thread may hold the loader's
     * lock for good — else here, unless the loader itself was interrupted. */
    if (!lt_worker_rescan_modules(1000000000) && !in_loader)
        lt_modules_rescan();
    write_final((void *)reason);
    errno = saved_errno;
}

void lt_exits_final(const char *reason)
{
    final(reason, false, false);
}

struct fatal {
    const char *reason;
    bool in_loader;
};

static void final_on_stack(void *raw)
{
    const struct fatal *f = raw;
    final(f->reason, true, f->in_loader);
}

static void on_exit_call(void)
{
    lt_exits_final("exit");
}

static void on_quick_exit(void)
{
    lt_exits_final("quick_exit");
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
    bool in_own_code = lt_inside() && (lt_composer_busy_here() ||
                                       lt_unwind_is_own(lt_arch_pc(uctx)));
    if (final_stack && !in_own_code && !atomic_load(&final_written)) {
        /* A crash may come from a small or an exhausted stack: ours. */
        struct fatal f = {reason, lt_modules_in_loader(lt_arch_pc(uctx))};
        lt_arch_call_on_stack(final_on_stack, &f, final_stack);
    }
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

void lt_exits_init(void)
{
    if (!lt_opt.at_exit)
        return;
    atexit(on_exit_call);
    at_quick_exit(on_quick_exit);
    final_stack = lt_mem_map_stack(FINAL_STACK_BYTES);
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
        if (fatal_signals[i] != lt_opt.signal && !lt_signals_manage(fatal_signals[i], apply))
            lt_log_once("cannot watch signal %d; a death by it leaves no final snapshot",
                        fatal_signals[i]);
}
