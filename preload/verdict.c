/* verdict.c — the reachability verdict on the live process (see verdict.h).
 *
 * Three tasks take part. The caller (leaktag's thread, or a thread writing its final
 * snapshot) makes a shared mapping for the results and clones a tracer that shares its
 * memory but is a process of its own: a thread may not ptrace its own thread group. The
 * tracer seizes and interrupts every other thread (ptrace works whatever a thread's signal
 * mask, and a blocked system call is restarted when it is let go, as when gdb attaches),
 * lets any that stopped inside a leaktag hook run on until none is (a block can be in
 * flight there: out of the table and not yet back), reads their registers, forks the copy
 * with a raw clone (no atfork handlers: other threads may hold the application's locks) and
 * lets them go. The copy is single-threaded and frozen: it reads the tables without taking
 * their locks, reads its memory behind a fault handler, calls no malloc, writes the states
 * into the shared mapping and exits.
 *
 * Roots, by reach.h's rules (the same as leaktag-scan's): each stopped thread's registers
 * and its stack from the stack pointer (less the red zone) to the end of that mapping (static
 * TLS and the thread descriptor lie there), the caller's stack above caller_sp (where the
 * application entered leaktag: at exit, where the exit handlers began; after a crash, the
 * interrupted stack pointer), and every other readable, writable mapping except those
 * holding a block (heaps), leaktag's own memory and writable segments, an ended thread's
 * cached stack below the stack pointer it left with, devices and the kernel's pages. A
 * thread whose registers could not be read means no verdict, never a verdict that missed
 * roots.
 *
 * Details. The verdict is taken by the thread that composes the snapshot: leaktag's files
 * thread on behalf of the thread that asked and waits (that one is not stopped, and its stack
 * above leaktag's frames is a root), or the asking thread itself where there is no files
 * thread; leaktag's thread and the files thread run on. The shared mapping is sized from the
 * live count. The tracer blocks every signal (a clone copies the program's handlers, and the
 * SIGCHLD of each ptrace stop would run the program's: nginx's reaped the copy from under the
 * tracer) and closes its copy of the descriptor table. It seizes and interrupts every thread
 * in /proc/PID/task first and then waits for them all (eight busy threads on two cores stop in
 * the time of one), and reads their registers with PTRACE_GETREGSET. If one stopped in the
 * middle of a realloc (its lt_tls.moving, found through the thread pointer), all of them run
 * on, 20 us at first, doubling up to about a millisecond, and stop again until none is, three
 * seconds at most: realloc takes the old block out of the table while the real realloc runs,
 * and glibc's free of it overwrites its first words, so a block could be in no table and its
 * successor look lost. Everywhere else in the hooks a block is always in a nursery or a table
 * generation: evictions insert before they take out, migrations mark before they move. The
 * copy is a clone with no exit signal, reaped with __WALL; the pause is the stop plus the
 * fork's page-table copy. A thread that does not stop within 3 s means no verdict, never a
 * hang. The copy reads the nurseries and every table generation without locks (a block caught
 * in a migration is seen twice and deduplicated), radix-sorts them and marks (reach.c). Of the
 * readable, writable mappings these are left out: leaktag's own (mem.c lists them), [heap]
 * whole, and elsewhere the allocator's pages around each block (kernels merge an application's
 * anonymous mapping with one glibc made for a big block) or, for glibc, a non-main arena's
 * whole heap. The copy reads its memory a page at a time behind a SIGSEGV and SIGBUS handler
 * (a file mapping past its file's end), with those two signals unblocked (it inherits a mask
 * with every signal blocked, and a fault on a blocked signal kills). glibc's chunk header
 * below a block is read only when the next malloc is glibc's; glibc's arena points at free
 * chunks' headers, which can be the last word of a live block: such a word in libc's writable
 * segment is not counted as an interior reference. The composer writes REACH_SCAN, REACH_ROOTS
 * and REACH, by address; blocks allocated after the copy are "not scanned" in the report. What
 * makes a verdict impossible (ptrace refused, a thread that cannot be stopped in 3 s or stays
 * in the middle of a realloc for three seconds, no memory for the arrays, a copy that died,
 * and of what) is written instead of it, and said on stderr with every snapshot. What it needs
 * of the loaded objects is read once at start-up (lt_verdict_init): at verdict time the
 * loader's lock may be held for good by an application thread. There is no verdict in sampled
 * mode, nor off x86-64: its roots (the stopped threads' registers) and its 8-byte scan are
 * x86-64's. */
#include "verdict.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "compiler.h"
#include "log.h"
#include "mem.h"
#include "nursery.h"
#include "options.h"
#include "procfs.h"
#include "sort.h"
#include "threads.h"
#include "tracker.h"

#define THREADS_MAX 4096
#define ROOTS_MAX 8192
#define OWN_RANGES_MAX 16
#define TRACER_STACK (256 * 1024)
#define BUSY_NS 3000000000ull
#define STOP_NS 3000000000ull /* for every thread to stop */

struct stopped {
    pid_t tid;
    bool seized, stopped, resumed;
    struct user_regs_struct regs;
};

/* Everything the three tasks share, at the start of the shared mapping; the arrays follow. */
struct freeze {
    /* set by the caller */
    pid_t pid, caller_tid, worker_tid, runner_tid;
    uint64_t caller_sp;     /* the caller's application frames begin here (0: none) */
    uint64_t caller_here;   /* somewhere in the caller's stack */
    uint64_t worker_here;   /* somewhere in leaktag's thread's stack (0: none) */
    uint64_t runner_here;   /* somewhere in the stack of the thread that takes the verdict for
                              the caller (leaktag's files thread), or 0 */
    intptr_t moving_offset; /* lt_tls.moving from the thread pointer */
    bool glibc;             /* the next malloc is glibc's: its chunk headers, its arena's bins */
    struct lt_reach_range own[OWN_RANGES_MAX];
    unsigned nown;
    struct lt_reach_range libc[OWN_RANGES_MAX];
    unsigned nlibc;
    uint64_t capacity; /* blocks the arrays hold */

    /* set by the tracer */
    int status;
    const char *why;
    char why_text[128];
    uint32_t nthreads, retries;
    uint64_t pause_ns, fork_ns;
    struct stopped thread[THREADS_MAX];

    /* set by the copy */
    int scan_status;
    const char *scan_why;
    uint64_t scan_ns, bytes_scanned, n;
    uint32_t nroots;
};

struct layout {
    uint64_t addr, state, via, via_addr, roots, total;
};

static struct layout layout_for(uint64_t capacity)
{
    struct layout l;
    uint64_t at = (sizeof(struct freeze) + 63) & ~63ull;
    l.addr = at;
    at += capacity * 8;
    l.via_addr = at;
    at += capacity * 8;
    l.via = at;
    at += capacity * 4;
    l.roots = (at + 7) & ~7ull;
    at = l.roots + ROOTS_MAX * sizeof(struct lt_reach_root);
    l.state = at;
    at += capacity;
    l.total = (at + 4095) & ~4095ull;
    return l;
}

static uint64_t now_ns(void)
{
    return (uint64_t)lt_clock_ns(CLOCK_MONOTONIC);
}

/* ---- the tracer ---------------------------------------------------------------------- */

/* Waits for tid to stop for our interrupt, until the deadline (a thread in an
 * uninterruptible sleep — a hung NFS server, a device — stops only when it leaves it: the
 * verdict is given up rather than the program held); a signal that arrives first is
 * delivered on. */
static int wait_stopped(pid_t tid, uint64_t deadline)
{
    for (long nap = 20000;;) {
        int st;
        pid_t got = waitpid(tid, &st, __WALL | WNOHANG);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0) {
            if (now_ns() > deadline)
                return -ETIMEDOUT;
            struct timespec pause = {0, nap};
            nanosleep(&pause, NULL);
            nap = nap < 1000000 ? nap * 2 : nap;
            continue;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return -ESRCH;
        if (!WIFSTOPPED(st))
            continue;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            return 0;
        /* a signal-delivery stop: give it back; the interrupt stays pending */
        if (ptrace(PTRACE_CONT, tid, 0, (void *)(uintptr_t)WSTOPSIG(st)) != 0)
            return -errno;
    }
}

/* Seizes and interrupts t; the stops are awaited afterwards, all at once (on two cores,
 * eight busy threads stop in the time of one when none waits for the last). */
static int interrupt(struct stopped *t)
{
    if (ptrace(PTRACE_SEIZE, t->tid, 0, 0) != 0)
        return -errno;
    t->seized = true;
    if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) != 0)
        return -errno;
    return 0;
}

static bool listed(const struct freeze *f, pid_t tid)
{
    for (uint32_t i = 0; i < f->nthreads; i++)
        if (f->thread[i].tid == tid)
            return true;
    return false;
}

/* Has the thread ended (a zombie, or gone)? ptrace refuses a zombie with EPERM. */
static bool ended(pid_t pid, pid_t tid)
{
    char path[64], stat[512];
    lt_format(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    ssize_t n = lt_proc_read(path, stat, sizeof(stat));
    if (n <= 0) /* gone; anything else (no descriptor, no memory) proves nothing */
        return n == -ENOENT || n == -ESRCH;
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* Why ptrace refused to seize tid, as exactly as the process can tell. */
static const char *ptrace_refused(struct freeze *f, pid_t tid)
{
    char path[64], text[2048];
    lt_format(path, sizeof(path), "/proc/%d/task/%d/status", (int)f->pid, (int)tid);
    ssize_t n = lt_proc_read(path, text, sizeof(text) - 1);
    const char *tracer = n > 0 ? strstr(text, "TracerPid:\t") : NULL;
    if (tracer && strtol(tracer + strlen("TracerPid:\t"), NULL, 10) > 0)
        return "ptrace is not permitted: a thread is already traced (a debugger, strace)";
    /* The tracer shares the process's memory, and with it its dumpable flag. */
    if (lt_real_system()->prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
        return "ptrace is not permitted: the process is not dumpable (it changed its user or "
               "group ids, as a daemon that drops root does, or set PR_SET_DUMPABLE 0), and "
               "then only CAP_SYS_PTRACE may stop its threads";
    n = lt_proc_read("/proc/sys/kernel/yama/ptrace_scope", text, sizeof(text) - 1);
    if (n > 0 && text[0] >= '1' && text[0] <= '3') {
        text[1] = '\0';
        lt_format(f->why_text, sizeof(f->why_text),
                  "ptrace is not permitted: kernel.yama.ptrace_scope is %s", text);
        return f->why_text;
    }
    return "ptrace is not permitted here (a seccomp policy, or a security module)";
}

/* Seizes every thread not yet seized; the number newly found, or -errno. */
static int stop_new_threads(struct freeze *f)
{
    char path[64], buf[4096];
    int n = 0;
    lt_format(path, sizeof(path), "/proc/%d/task", (int)f->pid);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (got <= 0)
            break;
        for (long at = 0; at < got;) {
            struct dirent64 *d = (struct dirent64 *)(buf + at);
            at += d->d_reclen;
            pid_t tid = (pid_t)strtol(d->d_name, NULL, 10);
            /* Leaktag's own thread runs on: nothing of its stack is a root, and what it may
             * do meanwhile (rebuild a table, flush an ended thread's nursery) always leaves
             * a block where a frozen scan finds it. */
            if (tid <= 0 || tid == f->caller_tid || tid == f->worker_tid || tid == f->runner_tid ||
                listed(f, tid))
                continue;
            if (f->nthreads == THREADS_MAX) {
                close(fd);
                f->why = "more threads than a scan can stop";
                return -E2BIG;
            }
            struct stopped *t = &f->thread[f->nthreads++];
            *t = (struct stopped){.tid = tid};
            int err = interrupt(t);
            if (err == -ESRCH || (err == -EPERM && ended(f->pid, tid))) {
                /* it ended meanwhile, or before: a group leader that called pthread_exit (or
                 * whose thread returned, in a child forked from a thread) stays a zombie
                 * until the last; it has no registers */
                f->nthreads--;
                continue;
            } else if (err) {
                close(fd);
                f->why = err == -EPERM ? ptrace_refused(f, tid) : "a thread could not be stopped";
                return err;
            }
            n++;
        }
    }
    close(fd);
    uint64_t deadline = now_ns() + STOP_NS;
    for (uint32_t i = 0; i < f->nthreads; i++) {
        struct stopped *t = &f->thread[i];
        if (!t->seized || t->stopped)
            continue;
        int err = wait_stopped(t->tid, deadline);
        if (err == -ESRCH || err == -ECHILD) {
            t->seized = false; /* it ended meanwhile */
        } else if (err) {
            f->why = err == -ETIMEDOUT ? "a thread did not stop within 3 s (in an uninterruptible "
                                         "sleep?)"
                                       : "a thread could not be stopped";
            return err;
        } else {
            t->stopped = true;
        }
    }
    return n;
}

/* Stopped where one of its blocks is in no table (lt_tls.moving): the copy would miss it,
 * and what only it references would look lost. Elsewhere in a hook every block is in a
 * nursery or a table generation the frozen scan reads. */
static bool busy(const struct freeze *f, const struct stopped *t)
{
    (void)f;
    if (!t->stopped)
        return false;
#if defined(__x86_64__)
    uint64_t tp = t->regs.fs_base;
#else
    uint64_t tp = 0;
#endif
    if (!tp)
        return true;
    const volatile uint32_t *moving = (const uint32_t *)(uintptr_t)(tp +
                                                                    (uint64_t)f->moving_offset);
    return *moving != 0;
}

static int read_regs(struct stopped *t)
{
    struct iovec io = {&t->regs, sizeof(t->regs)};
    return ptrace(PTRACE_GETREGSET, t->tid, (void *)(uintptr_t)NT_PRSTATUS, &io) == 0 ? 0 : -errno;
}

static void let_go(struct freeze *f)
{
    for (uint32_t i = 0; i < f->nthreads; i++) {
        struct stopped *t = &f->thread[i];
        /* (stopped stays: the copy, which shares this mapping, still reads it) */
        if (t->seized)
            ptrace(PTRACE_DETACH, t->tid, 0, 0);
        t->seized = false;
    }
}

static _Noreturn void copy_main(struct freeze *f);

/* The tracer and the copy run with the program's signal handlers (a clone copies the table)
 * and would run one for the SIGCHLD of every ptrace stop and of the copy's end: nginx's
 * then reaped the copy from under the tracer's waitpid and logged "waitpid() failed". The
 * tracer blocks every signal, and the copy ends without any (exit signal 0, reaped with
 * __WALL). Its descriptor table is a copy of the caller's: closed at once, so that no file
 * of the program's stays open in it (a socket the program closes meanwhile closes). */
static void tracer_quiet(void)
{
    sigset_t all;
    sigfillset(&all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, _NSIG / 8);
    syscall(SYS_close_range, 0u, ~0u, 0u);
}

static int tracer_main(void *raw)
{
    struct freeze *f = raw;
    uint64_t start = now_ns();
    tracer_quiet();
    int err = 0;
    /* Until no thread is new: threads may be created while the first ones stop. */
    for (int round = 0; round < 16; round++) {
        err = stop_new_threads(f);
        if (err <= 0)
            break;
    }
    for (uint32_t i = 0; err >= 0 && i < f->nthreads; i++)
        if (f->thread[i].stopped && (err = read_regs(&f->thread[i])) != 0)
            f->why = "a thread's registers could not be read";
    /* Leaktag's thread may have started since the caller looked: it runs on. */
    f->worker_tid = lt_threads_leaktag_tid();
    f->worker_here = lt_threads_leaktag_stack();
    for (uint32_t i = 0; i < f->nthreads; i++) {
        struct stopped *t = &f->thread[i];
        if (t->tid == f->worker_tid && t->seized) {
            ptrace(PTRACE_DETACH, t->tid, 0, 0);
            t->seized = t->stopped = false;
        }
    }
    /* A thread stopped in the middle of a realloc (the old block out of the table while the
     * real realloc runs, and glibc's free of it overwrites its first words): every thread
     * runs on briefly — all of them, since the one in realloc may wait for a lock another
     * holds — and stops again, until none is: 20 us at first, longer each round, three
     * seconds in all at most (under load the threads may get little of the processors). */
    uint64_t let_run_ns = 20000, deadline = now_ns() + BUSY_NS;
    for (uint32_t round = 0; err >= 0; round++) {
        uint32_t busy_now = 0;
        for (uint32_t i = 0; i < f->nthreads; i++)
            if (busy(f, &f->thread[i]))
                busy_now++;
        if (!busy_now)
            break;
        if (now_ns() > deadline) {
            err = -EBUSY;
            f->why = "a thread stayed in the middle of a realloc";
            break;
        }
        f->retries = round + 1;
        for (uint32_t i = 0; i < f->nthreads; i++) {
            struct stopped *t = &f->thread[i];
            t->resumed = t->stopped && ptrace(PTRACE_CONT, t->tid, 0, 0) == 0;
        }
        struct timespec pause = {0, (long)let_run_ns};
        nanosleep(&pause, NULL);
        for (uint32_t i = 0; i < f->nthreads; i++) {
            struct stopped *t = &f->thread[i];
            if (t->resumed && ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) != 0)
                t->stopped = t->resumed = false; /* it ended */
        }
        uint64_t stop_deadline = now_ns() + STOP_NS;
        for (uint32_t i = 0; i < f->nthreads; i++) {
            struct stopped *t = &f->thread[i];
            int err_stop = t->resumed ? wait_stopped(t->tid, stop_deadline) : 0;
            if (err_stop == -ETIMEDOUT) {
                err = err_stop;
                f->why = "a thread did not stop again within 3 s";
            } else if (t->resumed && (err_stop != 0 || read_regs(t) != 0)) {
                t->stopped = false; /* it ended */
            }
            t->resumed = false;
        }
        if (let_run_ns < 1000000)
            let_run_ns *= 2;
    }
    if (err >= 0) {
        uint64_t fork_start = now_ns();
        long child = syscall(SYS_clone, 0, 0, NULL, NULL, 0); /* a fork with no exit signal */
        if (child == 0)
            copy_main(f);
        f->fork_ns = now_ns() - fork_start;
        let_go(f);
        f->pause_ns = now_ns() - start;
        if (child < 0) {
            f->status = -errno;
            f->why = "fork failed";
            return 0;
        }
        int st = 0;
        pid_t got;
        while ((got = waitpid((pid_t)child, &st, __WALL)) < 0 && errno == EINTR) {
        }
        if (got != (pid_t)child) {
            f->status = -ECHILD;
            f->why = "the scan's copy could not be waited for";
        } else if (WIFSIGNALED(st)) {
            f->status = -ECHILD;
            const char *name = sigabbrev_np(WTERMSIG(st));
            lt_format(f->why_text, sizeof(f->why_text), "the scan's copy was killed by SIG%s",
                      name ? name : "?");
            f->why = f->why_text;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            f->status = -ECHILD;
            f->why = "the scan's copy did not finish";
        } else {
            f->status = f->scan_status;
            f->why = f->scan_why;
        }
        return 0;
    }
    let_go(f);
    f->pause_ns = now_ns() - start;
    f->status = err;
    return 0;
}

/* ---- the copy ------------------------------------------------------------------------- */

static sigjmp_buf fault_jump; /* the copy is single-threaded */

static void on_fault(int sig)
{
    (void)sig;
    siglongjmp(fault_jump, 1);
}

/* One piece that does not cross a page: all of it, or nothing if it faults. */
static bool read_piece(uint64_t addr, void *buf, size_t len)
{
    if (sigsetjmp(fault_jump, 0))
        return false;
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return true;
}

/* What can be read of [addr, addr + len): the prefix up to the first page that faults (a
 * file mapping past its file's end, a mapping gone since the maps were read). */
static size_t read_copy(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        uint64_t at = addr + done;
        size_t piece = (size_t)lt_min((uint64_t)(len - done), ((at | 4095) + 1) - at);
        if (!read_piece(at, (char *)buf + done, piece))
            break;
        done += piece;
    }
    return done;
}

/* The copy is a process of its own that nobody needs to see die: its faults are caught
 * (SIGSEGV and SIGBUS unblocked, with a handler: it inherits a mask with every signal
 * blocked, and a fault on a blocked signal kills without a handler ever running), and it
 * never dumps core (not dumpable, no core limit), whatever the program's settings. */
static void copy_guard(void)
{
    lt_real_system()->prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    struct sigaction fault;
    memset(&fault, 0, sizeof(fault));
    fault.sa_handler = on_fault;
    fault.sa_flags = SA_NODEFER;
    sigemptyset(&fault.sa_mask);
    lt_real_system()->sigaction(SIGSEGV, &fault, NULL);
    lt_real_system()->sigaction(SIGBUS, &fault, NULL);
    sigset_t faults;
    sigemptyset(&faults);
    sigaddset(&faults, SIGSEGV);
    sigaddset(&faults, SIGBUS);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &faults, NULL, _NSIG / 8);
}

struct copy {
    struct freeze *f;
    struct layout l;
    uint64_t *addr, *size;
    uint64_t n;
    bool overflow;
    struct lt_reach_range *skip; /* leaktag's mappings, sorted */
    uint64_t nskip;
    struct lt_reach_stack *stacks; /* the stopped threads', and the caller's */
    struct lt_reach_roots roots;
};

static void collect(const struct lt_block *b, void *ctx)
{
    struct copy *c = ctx;
    if (c->n == c->f->capacity) {
        c->overflow = true;
        return;
    }
    c->addr[c->n] = b->addr;
    c->size[c->n] = b->size;
    c->n++;
}

/* LSD radix sort of (addr, size) by addr, three passes of 16 bits over bits 3..50 (blocks
 * are 8-aligned, user addresses below 2^48): a tenth of the heapsort's time on a million
 * blocks. False when the scratch arrays cannot be had (the caller heapsorts). */
static void *map_private(uint64_t bytes);
static bool radix_sort_blocks(uint64_t *a, uint64_t *s, uint64_t n)
{
    uint64_t *ta = map_private(n * 8), *ts = map_private(n * 8);
    uint64_t *count = map_private(65536 * 8);
    if (!ta || !ts || !count) {
        if (ta)
            munmap(ta, n * 8);
        if (ts)
            munmap(ts, n * 8);
        if (count)
            munmap(count, 65536 * 8);
        return false;
    }
    uint64_t *src_a = a, *src_s = s, *dst_a = ta, *dst_s = ts;
    for (unsigned shift = 3; shift < 51; shift += 16) {
        memset(count, 0, 65536 * 8);
        for (uint64_t i = 0; i < n; i++)
            count[(src_a[i] >> shift) & 0xffff]++;
        uint64_t at = 0;
        for (unsigned d = 0; d < 65536; d++) {
            uint64_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t to = count[(src_a[i] >> shift) & 0xffff]++;
            dst_a[to] = src_a[i];
            dst_s[to] = src_s[i];
        }
        uint64_t *t = src_a;
        src_a = dst_a, dst_a = t;
        t = src_s;
        src_s = dst_s, dst_s = t;
    }
    /* three passes: the result is in the scratch arrays */
    memcpy(a, src_a, n * 8);
    memcpy(s, src_s, n * 8);
    munmap(ta, n * 8);
    munmap(ts, n * 8);
    munmap(count, 65536 * 8);
    return true;
}

static void *map_private(uint64_t bytes)
{
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void note_skip(uint64_t lo, uint64_t hi, void *ctx)
{
    struct copy *c = ctx;
    if (c->nskip < ROOTS_MAX)
        c->skip[c->nskip++] = (struct lt_reach_range){lo, hi};
}

static uint64_t thread_sp(const struct stopped *t)
{
#if defined(__x86_64__)
    return t->regs.rsp;
#else
    (void)t;
    return 0;
#endif
}

static void visit_map(const struct lt_proc_map *m, void *ctx)
{
    struct copy *c = ctx;
    const struct freeze *f = c->f;
    if (!lt_reach_mapping_may_root(m->perms, m->path))
        return;
    if (f->worker_here && m->start <= f->worker_here && f->worker_here < m->end)
        return; /* leaktag's thread */
    if (f->runner_here && m->start <= f->runner_here && f->runner_here < m->end)
        return; /* leaktag's files thread, which takes it for the caller */
    if (m->start <= f->caller_here && f->caller_here < m->end &&
        !(f->caller_sp && m->start <= f->caller_sp && f->caller_sp < m->end))
        return; /* the caller's stack, when none of it is the application's */
    lt_reach_mapping(&c->roots, m->start, m->end);
}

/* glibc's arena (in libc's writable segment) points at free chunks' headers, which are the
 * last word of the block before them when that block fills its chunk: not a reference. */
static bool ignore_chunk_header(void *ctx, uint64_t where, uint64_t value, size_t block)
{
    struct copy *c = ctx;
    struct freeze *f = c->f;
    if (!f->glibc)
        return false;
    bool in_libc = false;
    for (unsigned i = 0; i < f->nlibc && !in_libc; i++)
        in_libc = f->libc[i].lo <= where && where < f->libc[i].hi;
    if (!in_libc)
        return false;
    size_t usable = lt_backend_usable_size((void *)(uintptr_t)c->addr[block]);
    return usable >= 8 && value == c->addr[block] + usable - 8;
}

static _Noreturn void copy_main(struct freeze *f)
{
    uint64_t start = now_ns();
    copy_guard();

    struct copy c = {.f = f, .l = layout_for(f->capacity)};
    char *shared = (char *)f;
    c.addr = (uint64_t *)(shared + c.l.addr);
    c.size = map_private(f->capacity * 8);
    c.skip = map_private(ROOTS_MAX * sizeof(struct lt_reach_range));
    c.stacks = map_private((THREADS_MAX + 1) * sizeof(struct lt_reach_stack));
    if (!c.size || !c.skip || !c.stacks) {
        f->scan_status = -ENOMEM;
        f->scan_why = "no memory for the scan";
        syscall(SYS_exit_group, 0);
    }
    lt_nursery_scan_frozen(collect, &c);
    if (c.overflow) {
        f->scan_status = -E2BIG;
        f->scan_why = "the heap grew past the scan's arrays";
        syscall(SYS_exit_group, 0);
    }
    if (!radix_sort_blocks(c.addr, c.size, c.n))
        lt_sort_u64(c.addr, c.size, c.n);
    uint64_t n = 0;
    for (uint64_t i = 0; i < c.n; i++) /* a block caught moving was seen twice */
        if (!n || c.addr[i] != c.addr[n - 1]) {
            c.addr[n] = c.addr[i];
            c.size[n] = c.size[i];
            n++;
        }
    c.n = n;
    lt_mem_each_mapping(note_skip, &c);
    for (unsigned i = 0; i < f->nown; i++) /* leaktag's own writable segments */
        note_skip(f->own[i].lo, f->own[i].hi, &c);
    /* An ended thread's stack, which glibc keeps for the next thread, below the stack pointer
     * it left with: dead frames, no roots (valgrind's are none below a thread's last stack
     * pointer either). A thread that runs on it now is stopped: its stack is taken from its
     * own stack pointer, whatever is skipped. */
    for (uint32_t i = 0, nt = lt_threads_count(); i < nt; i++) {
        const struct lt_thread *t = lt_thread_get(i);
        if (!t || !(atomic_load_explicit(&t->state, memory_order_relaxed) & LT_THREAD_EXITED) ||
            !t->exit_sp_offset || !t->stack_size)
            continue;
        /* still that thread's stack, kept: its descriptor (the pthread_t, at the top) still
         * points at itself, as glibc's thread control block does; unmapped since, the range
         * may hold anything now */
        uint64_t self_word = 0;
        if (t->handle < t->stack_addr || t->handle >= t->stack_addr + t->stack_size ||
            read_copy(NULL, t->handle, &self_word, 8) != 8 || self_word != t->handle)
            continue;
        note_skip(t->stack_addr, t->stack_addr + t->exit_sp_offset, &c);
    }
    /* sorted, for lt_reach_mapping */
    for (uint64_t i = 1; i < c.nskip; i++)
        for (uint64_t j = i; j > 0 && c.skip[j - 1].lo > c.skip[j].lo; j--) {
            struct lt_reach_range t = c.skip[j];
            c.skip[j] = c.skip[j - 1];
            c.skip[j - 1] = t;
        }

    size_t slots = lt_reach_index_slots(c.addr, c.size, c.n);
    struct lt_reach r = {
        .n = c.n,
        .start = c.addr,
        .size = c.size,
        .read = read_copy,
        .read_ctx = &c,
        .ignore_interior = ignore_chunk_header,
        .ignore_ctx = &c,
        .state = (uint8_t *)(shared + c.l.state),
        .via = (uint32_t *)(shared + c.l.via),
        .via_addr = (uint64_t *)(shared + c.l.via_addr),
        .index_page = map_private(slots * 8),
        .index_first = map_private(slots * 4),
        .index_mask = slots - 1,
        .stack = map_private((2 * c.n + 1) * 4),
    };
    if (!r.index_page || !r.index_first || !r.stack) {
        f->scan_status = -ENOMEM;
        f->scan_why = "no memory for the scan";
        syscall(SYS_exit_group, 0);
    }
    c.roots = (struct lt_reach_roots){
        .r = &r,
        .glibc = f->glibc,
        .skip = c.skip,
        .nskip = c.nskip,
        .stacks = c.stacks,
        .roots = (struct lt_reach_root *)(shared + c.l.roots),
        .max_roots = ROOTS_MAX,
    };
    lt_reach_begin(&r);
    for (uint32_t i = 0; i < f->nthreads; i++) {
        const struct stopped *t = &f->thread[i];
        if (!t->stopped)
            continue;
        lt_reach_registers(&c.roots, t->tid, (const uint64_t *)&t->regs, sizeof(t->regs) / 8);
        c.stacks[c.roots.nstacks++] = (struct lt_reach_stack){t->tid, thread_sp(t),
                                                              LT_ROOT_TYPE_STACK};
    }
    if (f->caller_sp)
        c.stacks[c.roots.nstacks++] = (struct lt_reach_stack){f->caller_tid, f->caller_sp,
                                                              LT_ROOT_TYPE_CALLER};
    static char scratch[64 * 1024]; /* the copy's own: nobody else runs */
    if (lt_proc_maps(visit_map, &c, scratch, sizeof(scratch)) < 0) {
        f->scan_status = -EIO;
        f->scan_why = "cannot read the process's maps";
        syscall(SYS_exit_group, 0);
    }
    lt_reach_end(&r);
    f->n = c.n;
    f->nroots = c.roots.nroots;
    f->bytes_scanned = r.bytes_scanned;
    f->scan_ns = now_ns() - start;
    f->scan_status = 0;
    syscall(SYS_exit_group, 0);
    __builtin_unreachable();
}

/* ---- the caller ----------------------------------------------------------------------- */

/* What the verdict needs of the loaded objects, found once at start-up: leaktag's own
 * writable segments (not roots) and libc's (glibc's arena lives there), and whether the
 * next malloc is glibc's (its chunk headers are read then). Libc and leaktag are loaded
 * before the program runs and never unloaded; reading this at verdict time would take the
 * loader's lock, which an application thread may hold for good (a thread parked in a
 * dl_iterate_phdr callback hung the exit). */
static struct {
    struct lt_reach_range own[OWN_RANGES_MAX];
    unsigned nown;
    struct lt_reach_range libc[OWN_RANGES_MAX];
    unsigned nlibc;
    bool glibc;
} objects;

static int note_module(struct dl_phdr_info *info, size_t size, void *raw)
{
    (void)size, (void)raw;
    uint64_t own = (uint64_t)(uintptr_t)&note_module;
    uint64_t next_malloc = (uint64_t)(uintptr_t)lt_real.malloc;
    bool mine = false, libc = info->dlpi_name && strstr(info->dlpi_name, "/libc.so");
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && lo <= own && own < hi)
            mine = true;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && libc && lo <= next_malloc &&
            next_malloc < hi && lt_opt.backend == LT_BACKEND_LIBC)
            objects.glibc = true;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        uint64_t lo = (info->dlpi_addr + ph->p_vaddr) & ~4095ull;
        uint64_t hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~4095ull;
        if (mine && objects.nown < OWN_RANGES_MAX)
            objects.own[objects.nown++] = (struct lt_reach_range){lo, hi};
        if (libc && objects.nlibc < OWN_RANGES_MAX)
            objects.libc[objects.nlibc++] = (struct lt_reach_range){lo, hi};
    }
    return 0;
}

void lt_verdict_init(void)
{
    if (lt_opt.reach && !objects.nown)
        dl_iterate_phdr(note_module, NULL);
}

static void *tracer_stack;

void lt_verdict_take(struct lt_verdict *v, const struct lt_verdict_caller *caller)
{
    *v = (struct lt_verdict){.status = -EINVAL};
#if !defined(__x86_64__)
    /* The stopped threads' registers and stacks as roots, and the scan's words, are written
     * for x86-64: elsewhere a verdict would call blocks lost that a register or a 4-byte word
     * holds. None is better than a wrong one. */
    (void)caller;
    v->status = -ENOSYS;
    v->why = "the reachability verdict runs on x86-64 only";
    return;
#endif
    if (lt_opt.sample) {
        v->why = "sampled mode does not know every block";
        return;
    }
    int saved_errno = errno;
    struct lt_totals totals;
    lt_tracker_totals(&totals);
    uint64_t live = totals.allocations > totals.frees ? totals.allocations - totals.frees : 0;
    uint64_t capacity = live + live / 4 + 65536;
    struct layout l = layout_for(capacity);
    void *map = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!tracer_stack)
        tracer_stack = lt_mem_map_stack(TRACER_STACK);
    if (map == MAP_FAILED || !tracer_stack) {
        if (map != MAP_FAILED)
            munmap(map, l.total);
        v->status = -ENOMEM;
        v->why = "no memory for the scan";
        errno = saved_errno;
        return;
    }
    struct freeze *f = map;
    f->pid = getpid();
    pid_t me = (pid_t)syscall(SYS_gettid);
    uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    f->caller_tid = caller->tid ? caller->tid : me;
    f->worker_tid = lt_threads_leaktag_tid();
    f->worker_here = lt_threads_leaktag_stack();
    f->caller_sp = caller->sp;
    f->caller_here = caller->tid ? caller->here : here;
    if (f->caller_tid != me) {
        f->runner_tid = me;
        f->runner_here = here;
    }
    f->moving_offset = (intptr_t)((char *)&lt_tls.moving - (char *)__builtin_thread_pointer());
    f->glibc = objects.glibc;
    f->capacity = capacity;
    memcpy(f->own, objects.own, sizeof(f->own));
    f->nown = objects.nown;
    memcpy(f->libc, objects.libc, sizeof(f->libc));
    f->nlibc = objects.nlibc;

    pid_t tracer = clone(tracer_main, tracer_stack, CLONE_VM | CLONE_UNTRACED, f);
    if (tracer < 0) {
        v->status = -errno;
        v->why = "cannot start the tracer";
    } else {
        int st;
        while (waitpid(tracer, &st, __WCLONE) < 0 && errno == EINTR) {
        }
        v->status = f->status;
        v->why = f->why;
    }
    v->pause_ns = f->pause_ns;
    v->fork_ns = f->fork_ns;
    v->scan_ns = f->scan_ns;
    v->bytes_scanned = f->bytes_scanned;
    v->threads = f->nthreads;
    v->retries = f->retries;
    v->nroots = f->nroots;
    v->n = f->n;
    char *shared = map;
    v->addr = (uint64_t *)(shared + l.addr);
    v->state = (uint8_t *)(shared + l.state);
    v->via = (uint32_t *)(shared + l.via);
    v->via_addr = (uint64_t *)(shared + l.via_addr);
    v->roots = (struct lt_reach_root *)(shared + l.roots);
    v->map = map;
    v->map_bytes = l.total;
    errno = saved_errno;
}

void lt_verdict_free(struct lt_verdict *v)
{
    if (v->map)
        munmap(v->map, v->map_bytes);
    v->map = NULL;
}
