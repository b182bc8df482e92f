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

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
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

/* app_sp: where the application's frames begin in this thread (the verdict's roots). */
static void write_final(const char *reason, uintptr_t app_sp)
{
    lt_enter();
    lt_tls.roots_from = app_sp;
    lt_composer_write_final(lt_self(), reason);
    lt_tls.roots_from = 0;
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
static void write_final_now(const char *reason, bool in_loader, uintptr_t app_sp)
{
    int saved_errno = errno;
    /* The modules loaded since the last rescan (dlopen cannot rescan after it: it must be a
     * tail call). By leaktag's thread if there is one — another thread may hold the loader's
     * lock for good — else here, unless the loader itself was interrupted or this is a fork
 * child with nothing loaded since (its registry is current; the lock may be the parent's). */
    if (!lt_worker_rescan_modules(1000000000) && !in_loader && !lt_modules_as_forked())
        lt_modules_rescan();
    write_final(reason, app_sp);
    atomic_store(&final_done, 1);
    syscall(SYS_futex, &final_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    errno = saved_errno;
}

struct fatal {
    const char *reason;
    bool in_loader;
    uintptr_t app_sp;
};

static void final_on_stack(void *raw)
{
    const struct fatal *f = raw;
    write_final_now(f->reason, f->in_loader, f->app_sp);
}

static void be_second(void);

void lt_exits_final(const char *reason, uintptr_t app_sp)
{
    pid_t me = (pid_t)syscall(SYS_gettid);
    if (!wanted(false))
        return;
    if (take_final(me)) {
        /* On leaktag's own stack, as after a crash: exit() may be called from a handler on
         * a small alternate signal stack (16 KiB overflowed into its guard) */
        struct fatal f = {reason, false, app_sp};
        if (final_stack)
            lt_arch_call_on_stack(final_on_stack, &f, final_stack);
        else
            write_final_now(reason, false, app_sp);
    } else if (atomic_load(&final_writer) != me) {
        be_second();
    }
}

/* glibc's exit and quick_exit, found at start-up: each calls __run_exit_handlers, which runs
 * the handlers (leaktag's from libleaktag's destructors, through _dl_fini and __cxa_finalize)
 * and then _exit. */
static struct {
    uint64_t lo, hi;
} runners[2];

static void note_runner(unsigned i, void *fn)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size)
        runners[i].hi = (runners[i].lo = (uintptr_t)info.dli_saddr) + sym->st_size;
}

/* Where the application's frames begin at the exit system call, as valgrind scans them: the
 * frame of __run_exit_handlers, which calls _exit once the handlers are through; what the
 * frames between it and leaktag's handler (_dl_fini's, __cxa_finalize's) hold is gone by then.
 * Found on the stack (crtstuff's __do_global_dtors_aux, on the way, has no call-frame
 * information to walk through): the slot of the return address into exit or quick_exit is
 * __run_exit_handlers' top; the return address into it, below, is the word whose frame size
 * reaches that top. entry_sp (the handler's caller's sp) if either is not found. */
#define NEAR_EXIT (64u << 10)
static LT_NOINLINE uintptr_t exit_roots_from(uintptr_t entry_sp)
{
    struct lt_thread *self = lt_tls.self;
    if (!lt_opt.reach || !self || !self->stack_size || !runners[0].lo)
        return entry_sp;
    /* exit() from a handler on a sigaltstack, or from a coroutine's stack: not the thread's
     * stack, whose end would be no end of this one */
    if (entry_sp < self->stack_addr || entry_sp >= self->stack_addr + self->stack_size)
        return entry_sp;
    const uint64_t *lo = (const uint64_t *)entry_sp;
    const uint64_t *hi = (const uint64_t *)(uintptr_t)(self->stack_addr + self->stack_size);
    const uint64_t *top = NULL;
    for (const uint64_t *at = lo; at < hi && at < lo + 4096 && !top; at++)
        for (unsigned r = 0; r < 2; r++)
            if (runners[r].lo < *at && *at <= runners[r].hi) /* returns into it */
                top = at;
    uintptr_t from = entry_sp;
    lt_enter(); /* (the call-frame information may be read in for the first time) */
    for (const uint64_t *at = top ? top - 1 : NULL; at && at >= lo; at--)
        /* (only words that may return into __run_exit_handlers, next to exit in libc: the
         * unwind tables of another module may not be read now — a thread can hold the
         * loader's lock for good, and looking one up waited for it) */
        if (*at - (runners[0].lo - NEAR_EXIT) < 2 * NEAR_EXIT &&
            (uintptr_t)at + lt_unwind_frame_size(*at) == (uintptr_t)top) {
            from = (uintptr_t)(at + 1);
            break;
        }
    lt_leave();
    return from;
}

static void on_exit_call(void)
{
    lt_exits_final("exit", exit_roots_from(LT_ENTRY_SP()));
}

static void on_quick_exit(void)
{
    lt_exits_final("quick_exit", exit_roots_from(LT_ENTRY_SP()));
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
            /* The roots in this thread: its stack from the interrupted stack pointer, less
             * the red zone (the signal frame and this handler lie below it). */
            struct fatal f = {reason, lt_modules_in_loader(lt_arch_pc(uctx)),
                              lt_arch_sp(uctx) ? lt_arch_sp(uctx) - LT_ARCH_RED_ZONE : 0};
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
    note_runner(0, (void *)exit);
    note_runner(1, (void *)quick_exit);
    atexit(on_exit_call);
    at_quick_exit(on_quick_exit);
    final_stack = lt_mem_map_stack(FINAL_STACK_BYTES);
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
        if (fatal_signals[i] != lt_opt.signal && !lt_signals_manage(fatal_signals[i], apply))
            lt_log_once("cannot watch signal %d; a death by it leaves no final snapshot",
                        fatal_signals[i]);
}
