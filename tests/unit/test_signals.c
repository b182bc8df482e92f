/* Unit tests of signals.c, the application's signal actions: managing a signal records the
 * disposition in place and applies it (once; not when the table is full or apply fails);
 * the application's sigaction() recorded, the previous action returned, apply told, through
 * more changes than the ring has slots; a chained handler run as the kernel would run it
 * (the interrupted mask, its sa_mask and its signal blocked unless SA_NODEFER, SA_RESETHAND
 * back to SIG_DFL, SA_SIGINFO's arguments, nothing for SIG_IGN or SIG_DFL); no lock (a
 * handler that interrupts a change reads a whole action and changes it again; a storm of
 * signals at one thread changing its actions in a loop); and SIG_IGN or SIG_DFL given with
 * SA_SIGINFO, which the kernel still takes as ignore and default. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "signals.h"

/* ---- leaktag's side, as worker.c and exits.c do it: our handler in the kernel, which
 * chains the application's action ----------------------------------------------------------- */

static volatile sig_atomic_t applied; /* apply calls */
static struct sigaction last_applied;

static void leaktag_handler(int sig, siginfo_t *info, void *uctx)
{
    lt_signals_chain(sig, info, uctx);
}

static int apply(int sig, const struct sigaction *app)
{
    applied++;
    last_applied = *app;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = leaktag_handler;
    sa.sa_flags = SA_SIGINFO;
    return sigaction(sig, &sa, NULL); /* the test program's sigaction is libc's */
}

static int refuse(int sig, const struct sigaction *app)
{
    (void)sig, (void)app;
    return -1;
}

/* ---- the application's side --------------------------------------------------------------- */

struct seen {
    int calls, sig;
    bool had_info, info_is_kernels;
    sigset_t mask; /* the mask the handler ran with */
};

static struct seen seen;

static void app_plain(int sig)
{
    seen.calls++;
    seen.sig = sig;
    pthread_sigmask(SIG_SETMASK, NULL, &seen.mask);
}

static void app_siginfo(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    app_plain(sig);
    seen.had_info = info != NULL;
    seen.info_is_kernels = info && info->si_code == SI_TKILL && info->si_pid == getpid();
}

static void app_other(int sig)
{
    (void)sig;
}

static struct sigaction action(void (*handler)(int), int flags, int masked)
{
    struct sigaction a;
    memset(&a, 0, sizeof(a));
    a.sa_handler = handler;
    a.sa_flags = flags;
    sigemptyset(&a.sa_mask);
    if (masked)
        sigaddset(&a.sa_mask, masked);
    return a;
}

static struct sigaction info_action(int flags, int masked)
{
    struct sigaction a = action(NULL, flags | SA_SIGINFO, masked);
    a.sa_sigaction = app_siginfo;
    return a;
}

/* ---- the cases ---------------------------------------------------------------------------- */

static void test_manage(void **state)
{
    (void)state;
    /* What the program set up before leaktag: a handler with SIGUSR2 in its mask. */
    struct sigaction before = action(app_plain, SA_RESTART, SIGUSR2);
    assert_int_equal(sigaction(SIGUSR1, &before, NULL), 0);
    applied = 0;
    assert_true(lt_signals_manage(SIGUSR1, apply));
    assert_int_equal(applied, 1);
    assert_ptr_equal(last_applied.sa_handler, app_plain);
    assert_true(lt_signals_managed(SIGUSR1));
    struct sigaction app;
    lt_signals_app_action(SIGUSR1, &app);
    assert_ptr_equal(app.sa_handler, app_plain);
    assert_true(app.sa_flags & SA_RESTART);
    assert_true(sigismember(&app.sa_mask, SIGUSR2));
    assert_true(lt_signals_manage(SIGUSR1, apply)); /* managed already: nothing again */
    assert_int_equal(applied, 1);

    /* Not managed: the change is not taken here, and must reach the kernel. */
    assert_false(lt_signals_managed(SIGUSR2));
    struct sigaction other = action(app_other, 0, 0);
    assert_false(lt_signals_app_sigaction(SIGUSR2, &other, NULL));
    assert_false(lt_signals_managed(0));
    assert_false(lt_signals_manage(0, apply)); /* not a signal: sigaction refuses it */
    assert_false(lt_signals_manage(SIGHUP, refuse));
    assert_false(lt_signals_managed(SIGHUP));

    /* The table holds 32: in a child, which of the real-time signals still fit. */
    pid_t child = fork();
    if (child == 0) {
        int managed = 1; /* SIGUSR1 */
        for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
            managed += lt_signals_manage(sig, apply);
        _exit(managed);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 32);
}

static void test_app_sigaction(void **state)
{
    (void)state;
    struct sigaction old, now = action(app_other, 0, SIGTERM);
    applied = 0;
    assert_true(lt_signals_app_sigaction(SIGUSR1, &now, &old));
    assert_ptr_equal(old.sa_handler, app_plain); /* the action recorded at manage */
    assert_int_equal(applied, 1);
    assert_ptr_equal(last_applied.sa_handler, app_other);
    assert_true(sigismember(&last_applied.sa_mask, SIGTERM));

    /* A query: the current action, and no change applied. */
    memset(&old, 0, sizeof(old));
    assert_true(lt_signals_app_sigaction(SIGUSR1, NULL, &old));
    assert_ptr_equal(old.sa_handler, app_other);
    assert_int_equal(applied, 1);

    /* Forty changes (the ring has 16 slots), each returning the one before. */
    for (int i = 0; i < 40; i++) {
        struct sigaction next = action(i % 2 ? app_other : app_plain, 0, SIGRTMIN + i % 8);
        struct sigaction previous;
        assert_true(lt_signals_app_sigaction(SIGUSR1, &next, &previous));
        if (i > 0) {
            assert_ptr_equal(previous.sa_handler, (i - 1) % 2 ? app_other : app_plain);
            assert_true(sigismember(&previous.sa_mask, SIGRTMIN + (i - 1) % 8));
        }
        struct sigaction app;
        lt_signals_app_action(SIGUSR1, &app);
        assert_ptr_equal(app.sa_handler, next.sa_handler);
        assert_true(sigismember(&app.sa_mask, SIGRTMIN + i % 8));
    }
    assert_int_equal(applied, 41);
}

/* Raises SIGUSR1 with SIGHUP blocked (the interrupted mask) and returns what the
 * application's handler saw; afterwards the mask is the test's again. */
static void deliver(void)
{
    memset(&seen, 0, sizeof(seen));
    sigset_t block, saved, after;
    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    raise(SIGUSR1);
    pthread_sigmask(SIG_SETMASK, &saved, &after);
    /* sigreturn put back the interrupted mask: the chained handler's mask is gone */
    assert_true(sigismember(&after, SIGHUP));
    assert_false(sigismember(&after, SIGUSR2));
    assert_false(sigismember(&after, SIGUSR1));
}

static void test_chain(void **state)
{
    (void)state;
    /* SA_SIGINFO, SIGUSR2 in its mask: its arguments, the interrupted mask, its mask, and
     * its own signal blocked while it runs. */
    struct sigaction a = info_action(0, SIGUSR2);
    assert_true(lt_signals_app_sigaction(SIGUSR1, &a, NULL));
    deliver();
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.sig, SIGUSR1);
    assert_true(seen.had_info && seen.info_is_kernels);
    assert_true(sigismember(&seen.mask, SIGHUP));
    assert_true(sigismember(&seen.mask, SIGUSR2));
    assert_true(sigismember(&seen.mask, SIGUSR1));
    assert_false(sigismember(&seen.mask, SIGTERM));

    /* SA_NODEFER: its signal may arrive again while it runs. A plain handler. */
    a = action(app_plain, SA_NODEFER, 0);
    assert_true(lt_signals_app_sigaction(SIGUSR1, &a, NULL));
    deliver();
    assert_int_equal(seen.calls, 1);
    assert_false(sigismember(&seen.mask, SIGUSR1));
    assert_true(sigismember(&seen.mask, SIGHUP));

    /* SA_RESETHAND: once, and the recorded action is SIG_DFL (applied) from its call on. */
    a = action(app_plain, SA_RESETHAND, 0);
    assert_true(lt_signals_app_sigaction(SIGUSR1, &a, NULL));
    applied = 0;
    deliver();
    assert_int_equal(seen.calls, 1);
    assert_int_equal(applied, 1);
    assert_ptr_equal(last_applied.sa_handler, SIG_DFL);
    struct sigaction app;
    lt_signals_app_action(SIGUSR1, &app);
    assert_true(lt_signals_default(&app));
    deliver(); /* SIG_DFL now: leaktag's handler alone, nothing chained */
    assert_int_equal(seen.calls, 0);

    a = action(SIG_IGN, 0, 0);
    assert_true(lt_signals_app_sigaction(SIGUSR1, &a, NULL));
    assert_true(lt_signals_ignores(&a));
    assert_false(lt_signals_default(&a));
    deliver();
    assert_int_equal(seen.calls, 0);
}

/* ---- no lock ------------------------------------------------------------------------------ */

static struct sigaction nested_old;
static volatile sig_atomic_t nested_calls, outer_calls;

static void outer_handler(int sig)
{
    (void)sig;
    outer_calls++;
}

static void nested_handler(int sig)
{
    (void)sig;
    nested_calls++;
}

/* In the kernel's handler, while the change that raised it is in apply: the action is read
 * and changed again, as a program's handler calling sigaction() would. */
static void interrupting_handler(int sig, siginfo_t *info, void *uctx)
{
    lt_signals_chain(sig, info, uctx);
    struct sigaction nested = action(nested_handler, 0, 0);
    lt_signals_app_sigaction(sig, &nested, &nested_old);
}

static int apply_and_raise(int sig, const struct sigaction *app)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = interrupting_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(sig, &sa, NULL);
    if (app->sa_handler == outer_handler)
        raise(sig); /* in the middle of lt_signals_app_sigaction */
    return 0;
}

/* The storm: two actions, each with its handler, a mask and flags of its own (A defers
 * nothing, B blocks its signal while it runs). A chained handler that runs with the other's
 * mask or flags read a torn copy (the handler and the mask's first word are one store, the
 * flags another). */
static atomic_int storm_calls, storm_torn;
static atomic_bool storm_over;

static void storm_a(int sig)
{
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    storm_torn += !sigismember(&now, SIGRTMIN) || sigismember(&now, SIGRTMIN + 1) ||
                  sigismember(&now, sig);
    storm_calls++;
}

static void storm_b(int sig)
{
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    storm_torn += sigismember(&now, SIGRTMIN) || !sigismember(&now, SIGRTMIN + 1) ||
                  !sigismember(&now, sig);
    storm_calls++;
}

/* Our handler stays installed: the changing thread makes no syscall, and the signals land
 * anywhere in its loop, not only where a syscall returns. */
static int apply_once(int sig, const struct sigaction *app)
{
    static bool installed;
    if (installed)
        return 0;
    installed = true;
    return apply(sig, app);
}

static void *storm(void *arg)
{
    pid_t target = *(pid_t *)arg;
    while (!atomic_load(&storm_over)) { /* one signal at a time: no handler nests */
        int calls = atomic_load(&storm_calls);
        syscall(SYS_tgkill, getpid(), target, SIGUSR2);
        while (atomic_load(&storm_calls) == calls && !atomic_load(&storm_over))
            ;
    }
    return NULL;
}

static int child_no_lock(void)
{
    alarm(20); /* a handler waiting on a lock its thread holds: killed, not hung */
    /* 1. a change interrupted in the middle (in apply) by its own signal */
    int sig = SIGRTMIN + 2;
    if (!lt_signals_manage(sig, apply_and_raise))
        return 1;
    struct sigaction outer = action(outer_handler, 0, 0), old;
    if (!lt_signals_app_sigaction(sig, &outer, &old))
        return 2;
    struct sigaction app;
    lt_signals_app_action(sig, &app);
    if (outer_calls != 1 || nested_old.sa_handler != outer_handler ||
        app.sa_handler != nested_handler)
        return 3;
    /* 2. signals at a thread that changes the action all the time */
    if (!lt_signals_manage(SIGUSR2, apply_once))
        return 4;
    struct sigaction a = action(storm_a, SA_NODEFER, SIGRTMIN);
    struct sigaction b = action(storm_b, 0, SIGRTMIN + 1);
    lt_signals_app_sigaction(SIGUSR2, &a, NULL); /* before the first signal: not SIG_DFL */
    pid_t me = (pid_t)syscall(SYS_gettid);
    pthread_t t;
    if (pthread_create(&t, NULL, storm, &me) != 0)
        return 5;
    /* 20000 signals, or 5 seconds on a busy machine */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; atomic_load(&storm_calls) < 20000; i++) {
        lt_signals_app_sigaction(SIGUSR2, i % 2 ? &b : &a, NULL);
        if (i % 4096 == 0 && (clock_gettime(CLOCK_MONOTONIC, &now), now.tv_sec - start.tv_sec > 5))
            break;
    }
    atomic_store(&storm_over, true);
    pthread_join(t, NULL);
    if (atomic_load(&storm_calls) < 200)
        return 6;
    return atomic_load(&storm_torn) ? 7 : 0;
}

static void test_no_lock(void **state)
{
    (void)state;
    pid_t child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: a fault must end the child */
        _exit(child_no_lock());
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d (SIGALRM: stuck)", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- SA_SIGINFO with SIG_IGN or SIG_DFL ---------------------------------------------------- */

/* The kernel decides ignore and default by the handler's value alone, SA_SIGINFO or not
 * (kernel/signal.c: sig_handler_ignored, and get_signal's SIG_IGN / SIG_DFL tests). */
static void test_siginfo_with_ign_or_dfl(void **state)
{
    (void)state;
    struct sigaction ign = action(SIG_IGN, SA_SIGINFO, 0);
    struct sigaction dfl = action(SIG_DFL, SA_SIGINFO, 0);
    /* the kernel's view, shown: the signal is ignored, the process lives on */
    pid_t child = fork();
    if (child == 0) {
        sigaction(SIGUSR2, &ign, NULL);
        raise(SIGUSR2);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Chained, such an action must call nothing: in a child, whose death would show it. */
    child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: a fault must end the child */
        signal(SIGBUS, SIG_DFL);
        if (!lt_signals_manage(SIGUSR2, apply))
            _exit(2);
        lt_signals_app_sigaction(SIGUSR2, &ign, NULL);
        raise(SIGUSR2); /* leaktag's handler, chaining "ignore" */
        lt_signals_app_sigaction(SIGUSR2, &dfl, NULL);
        raise(SIGUSR2); /* leaktag's handler, chaining "default" (here: nothing more) */
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status))
        fail_msg("lt_signals_chain called SIG_IGN or SIG_DFL as a handler: signal %d",
                 WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(lt_signals_ignores(&ign));
    assert_true(lt_signals_default(&dfl));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manage),
        cmocka_unit_test(test_app_sigaction),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_no_lock),
        cmocka_unit_test(test_siginfo_with_ign_or_dfl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
