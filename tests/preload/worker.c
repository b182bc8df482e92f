/* worker.c — test `worker`: preload/worker.c, the "leaktag" thread and the snapshot signal,
 * from inside a process running the whole shim.
 *
 *   signal-alone    a single-threaded program gets one snapshot per SIGUSR2 (the default
 *                   LEAKTAG_SIGNAL), written in the handler: reason "signal", requests 1,
 *                   signal_sender_pid and signal_sender naming the process that sent it (a
 *                   child of the program's, alive then); no thread is started for it
 *   signal-threads  the same with a thread of the program's, answered by leaktag's thread;
 *                   sent by the program itself: the sender is its own pid
 *   thread          leaktag's thread is named "leaktag", blocks every signal, is marked as
 *                   leaktag's own in THREADS and left out of threads_alive, tracks nothing of
 *                   its own (allocations stay put while it works), and holds no descriptor:
 *                   the program's table is the same before it starts and after snapshots and
 *                   its housekeeping
 *   interval        LEAKTAG_INTERVAL=1: snapshots of reason "interval" about once a second,
 *                   numbered 1, 2, 3 ..., also in a single-threaded program
 *   blocked         a program that blocks SIGUSR2 in every thread: the signal stays pending
 *                   (leaktag's thread takes no signal), the control block says requests are
 *                   answered, a request counted up from another process as `leaktag --pid`
 *                   does (process_vm_writev) gets a snapshot of reason "request", and the
 *                   pending signal, once unblocked, one of reason "signal"
 *   busy            a SIGUSR2 that lands while a single-threaded program is inside leaktag
 *                   (its own leaktag_snapshot) still gets its snapshot while the program then
 *                   idles without allocating
 *
 * tests/snapshot/snapshot_test.c checks that a kill gives a snapshot (reason, blocks) and
 * tests/host/ that a blocked single-threaded program answers `leaktag --pid`; this test checks
 * the worker's own promises directly, without the launcher. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "shim_probe.h"

static void *volatile sink;

/* The comm of this process ("exe" when started through /proc/self/exe). */
static void own_comm(char *buf, size_t size)
{
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n > 0 ? n : 0] = '\0';
}

/* Checks a snapshot taken for a signal that `sender` sent (named sender_name, or "" when the
 * sender may have ended before the snapshot was written: sender_name NULL). */
static void check_signal_snapshot(unsigned seq, pid_t sender, const char *sender_name)
{
    char comm[32];
    if (!sender_name) {
        own_comm(comm, sizeof(comm));
        sender_name = comm;
    }
    struct lts_snapshot *s = probe_load(getpid(), seq);
    if (strcmp(s->reason, "signal") || s->seq != seq)
        PROBE_FAIL("snapshot %u: reason \"%s\" seq %llu, expected \"signal\" %u", seq, s->reason,
                   (unsigned long long)s->seq, seq);
    uint64_t requests = lts_meta_number(s, "requests", 0);
    uint64_t pid = lts_meta_number(s, "signal_sender_pid", 0);
    const char *name = probe_text(s, "signal_sender");
    bool ended = sender_name == comm && !strcmp(name, ""); /* a child reaped by then */
    if (requests != 1 || pid != (uint64_t)sender || (strcmp(name, sender_name) && !ended))
        PROBE_FAIL("snapshot %u: requests %llu, signal_sender_pid %llu \"%s\"; expected 1, %d "
                   "\"%s\"",
                   seq, (unsigned long long)requests, (unsigned long long)pid, name, (int)sender,
                   sender_name);
    lts_close(s);
}

/* One SIGUSR2 from a child process, which stays alive until the snapshot is there (so that
 * its name can be read); exactly one snapshot follows. The child sends it once fork() has
 * returned in the program: a signal that lands inside leaktag (fork's handlers hold its
 * guard) is the `busy` scenario's. */
static void signal_from_child(unsigned seq)
{
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        char byte;
        if (read(go[0], &byte, 1) != 1)
            _exit(1);
        kill(parent, SIGUSR2);
        ssize_t n = read(go[0], &byte, 1);
        _exit(n == 1 ? 0 : 1);
    }
    CHECK(write(go[1], "x", 1) == 1);
    bool there = probe_wait(getpid(), seq, 5000);
    CHECK(write(go[1], "x", 1) == 1);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    close(go[0]);
    close(go[1]);
    if (!there)
        PROBE_FAIL("no snapshot %u within 5 s of a SIGUSR2 from process %d", seq, (int)child);
    probe_sleep_ms(300);
    if (probe_exists(getpid(), seq + 1))
        PROBE_FAIL("one SIGUSR2 gave more than one snapshot");
    char comm[32];
    own_comm(comm, sizeof(comm)); /* the child's, inherited */
    check_signal_snapshot(seq, child, comm);
}

static int scenario_signal_alone(void)
{
    sink = malloc(100);
    CHECK(probe_task_count() == 1);
    signal_from_child(1);
    signal_from_child(2);
    /* answered in the handler: the program is still single-threaded */
    if (probe_task_count() != 1 || probe_task_named("leaktag"))
        PROBE_FAIL("a single-threaded program has %d threads after its snapshot signals",
                   probe_task_count());
    return 0;
}

static _Atomic int stop;

static void *idle_thread(void *arg)
{
    while (!atomic_load(&stop))
        probe_sleep_ms(2);
    return arg;
}

static int scenario_signal_threads(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0);
    if (!probe_wait_task("leaktag", 2000))
        PROBE_FAIL("no thread named leaktag once the program has a thread of its own");
    signal_from_child(1);
    kill(getpid(), SIGUSR2); /* the program itself */
    if (!probe_wait(getpid(), 2, 5000))
        PROBE_FAIL("no snapshot within 5 s of the program's own SIGUSR2");
    char comm[32];
    own_comm(comm, sizeof(comm));
    check_signal_snapshot(2, getpid(), comm);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

/* ---- thread ------------------------------------------------------------------------------ */

/* SigBlk of a thread, from /proc/self/task/TID/status. */
static unsigned long long blocked_signals(pid_t tid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    const char *line = strstr(buf, "SigBlk:");
    CHECK(line != NULL);
    return strtoull(line + 7, NULL, 16);
}

static void same_fds(const struct probe_fds *before, const char *when)
{
    struct probe_fds now = probe_fds_of("/proc/self/fd");
    int extra = probe_fds_extra(&now, before), gone = probe_fds_extra(before, &now);
    if (extra >= 0 || gone >= 0) {
        char target[256] = "";
        if (extra >= 0)
            probe_fd_target("/proc/self/fd", extra, target, sizeof(target));
        PROBE_FAIL("%s: descriptor %d is %s (%s)", when, extra >= 0 ? extra : gone,
                   extra >= 0 ? "new" : "gone", target);
    }
}

static int scenario_thread(void)
{
    sink = malloc(10);
    struct probe_fds before = probe_fds_of("/proc/self/fd");
    CHECK(before.count > 0);
    CHECK(!probe_task_named("leaktag"));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0);
    /* once the files thread has named itself, one thread is named leaktag */
    pid_t worker = probe_wait_task("leaktag-files", 2000) ? probe_wait_task("leaktag", 2000) : 0;
    if (!worker)
        PROBE_FAIL("no threads named leaktag and leaktag-files once the program has a thread");
    unsigned long long mask = blocked_signals(worker);
    /* every signal a program can block: 1..64 but KILL and STOP (the kernel's) and glibc's
     * own two below SIGRTMIN (thread cancellation and setxid), which it never blocks */
    unsigned long long all = ~0ull & ~(1ull << (SIGKILL - 1)) & ~(1ull << (SIGSTOP - 1));
    for (int sig = 32; sig < SIGRTMIN; sig++)
        all &= ~(1ull << (sig - 1));
    if ((mask & all) != all)
        PROBE_FAIL("leaktag's thread blocks %#llx, not every signal", mask);
    same_fds(&before, "after leaktag's thread started");

    struct leaktag_stats b = lt_test_stats();
    for (unsigned seq = 1; seq <= 3; seq++) {
        kill(getpid(), SIGUSR2);
        if (!probe_wait(getpid(), seq, 5000))
            PROBE_FAIL("no snapshot %u within 5 s of SIGUSR2", seq);
        probe_sleep_ms(20); /* (written: the file is renamed into place last) */
    }
    same_fds(&before, "after three snapshots");
    probe_sleep_ms(1300); /* a round of housekeeping: modules, table, threads */
    same_fds(&before, "after a second of housekeeping");
    struct leaktag_stats a = lt_test_stats();
    if (a.allocations != b.allocations || a.frees != b.frees || a.live_blocks != b.live_blocks)
        PROBE_FAIL("while the program slept leaktag's thread made %lld allocations and %lld "
                   "frees count",
                   (long long)(a.allocations - b.allocations), (long long)(a.frees - b.frees));
    /* The program has two threads: leaktag's are not counted, and marked as leaktag's. */
    CHECK_EQ(a.threads_alive, 2);
    struct lts_snapshot *s = probe_load(getpid(), 3);
    CHECK_EQ(lts_counter(s, "threads_alive", 0), 2);
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *th = &s->threads[i];
        if (th->tid == (uint64_t)worker &&
            (strcmp(th->name, "leaktag") || !(th->state & LT_THREAD_FLAG_INTERNAL)))
            PROBE_FAIL("leaktag's thread is in THREADS as \"%s\", state %u", th->name, th->state);
        if (th->tid != (uint64_t)worker && !strcmp(th->name, "leaktag"))
            PROBE_FAIL("a thread named leaktag (tid %llu) that is not leaktag's thread %d",
                       (unsigned long long)th->tid, (int)worker);
        if (!strncmp(th->name, "leaktag", 7) && (th->live_blocks || th->allocs))
            PROBE_FAIL("leaktag's thread \"%s\" owns %llu blocks, made %llu allocations", th->name,
                       (unsigned long long)th->live_blocks, (unsigned long long)th->allocs);
    }
    lts_close(s);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

/* ---- interval ------------------------------------------------------------------------------ */

static int scenario_interval(void)
{
    sink = malloc(10);
    int64_t t0 = probe_now_ns();
    if (!probe_wait_task("leaktag", 2000))
        PROBE_FAIL("LEAKTAG_INTERVAL is set and there is no thread named leaktag");
    while (probe_now_ns() - t0 < 3700 * 1000000ll)
        probe_sleep_ms(20);
    unsigned n = 0;
    while (probe_exists(getpid(), n + 1))
        n++;
    if (n < 3 || n > 4)
        PROBE_FAIL("%u interval snapshots in 3.7 s", n);
    uint64_t last = 0;
    for (unsigned seq = 1; seq <= n; seq++) {
        struct lts_snapshot *s = probe_load(getpid(), seq);
        if (strcmp(s->reason, "interval") || s->seq != seq)
            PROBE_FAIL("snapshot %u: reason \"%s\" seq %llu", seq, s->reason,
                       (unsigned long long)s->seq);
        if (seq > 1 &&
            (s->time_unix_ns - last < 800000000ull || s->time_unix_ns - last > 1800000000ull))
            PROBE_FAIL("snapshot %u came %.3f s after the one before", seq,
                       (double)(s->time_unix_ns - last) / 1e9);
        last = s->time_unix_ns;
        lts_close(s);
    }
    return 0;
}

/* ---- blocked -------------------------------------------------------------------------------- */

/* The control block `leaktag --pid` reads (preload/control.h): its layout is the same for
 * every pointer width, and these offsets are asserted there. */
#define CONTROL_MAGIC "leaktag-control"
#define CONTROL_WORKER_TID 36
#define CONTROL_FLAGS 40
#define CONTROL_REQUESTS 44
#define CONTROL_FLAG_REQUESTS 2u

static bool usr2_pending(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    const char *line = strstr(buf, "ShdPnd:"); /* process-directed, pending */
    CHECK(line != NULL);
    return (strtoull(line + 7, NULL, 16) >> (SIGUSR2 - 1)) & 1;
}

static int scenario_blocked(void)
{
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    CHECK(sigprocmask(SIG_BLOCK, &usr2, NULL) == 0); /* inherited by every thread after */
    sink = malloc(10);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0);
    pid_t worker = probe_wait_task("leaktag-files", 2000) ? probe_wait_task("leaktag", 2000) : 0;
    if (!worker)
        PROBE_FAIL("no threads named leaktag and leaktag-files");
    char *control = dlsym(RTLD_DEFAULT, "leaktag_control");
    if (!control || memcmp(control, CONTROL_MAGIC, sizeof(CONTROL_MAGIC)) != 0)
        PROBE_FAIL("the shim exports no control block");
    for (int i = 0;
         i < 200 && !__atomic_load_n((int32_t *)(control + CONTROL_WORKER_TID), __ATOMIC_ACQUIRE);
         i++)
        probe_sleep_ms(5);
    uint32_t flags = __atomic_load_n((uint32_t *)(control + CONTROL_FLAGS), __ATOMIC_ACQUIRE);
    int32_t tid = __atomic_load_n((int32_t *)(control + CONTROL_WORKER_TID), __ATOMIC_ACQUIRE);
    if (!(flags & CONTROL_FLAG_REQUESTS) || tid != worker)
        PROBE_FAIL("control block: flags %#x, worker tid %d (leaktag's thread is %d)", flags,
                   (int)tid, (int)worker);

    kill(getpid(), SIGUSR2);
    probe_sleep_ms(500);
    if (probe_exists(getpid(), 1))
        PROBE_FAIL("a snapshot for a SIGUSR2 every thread of the program blocks");
    if (!usr2_pending())
        PROBE_FAIL("the blocked SIGUSR2 is no longer pending: a thread of leaktag's took it");

    /* What `leaktag --pid` does: count `requests` up in this process's memory from another
     * process. */
    pid_t target = getpid();
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        uint32_t requests = 0;
        struct iovec local = {&requests, sizeof(requests)};
        struct iovec remote = {control + CONTROL_REQUESTS, sizeof(requests)};
        if (process_vm_readv(target, &local, 1, &remote, 1, 0) != sizeof(requests))
            _exit(2);
        requests++;
        _exit(process_vm_writev(target, &local, 1, &remote, 1, 0) == sizeof(requests) ? 0 : 3);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        PROBE_FAIL("the request could not be written into the process (status %#x)", status);
    if (!probe_wait(getpid(), 1, 3000))
        PROBE_FAIL("no snapshot within 3 s of a request in the control block");
    struct lts_snapshot *s = probe_load(getpid(), 1);
    if (strcmp(s->reason, "request") || lts_meta_number(s, "requests", 0) != 1)
        PROBE_FAIL("the request's snapshot has reason \"%s\", requests %llu", s->reason,
                   (unsigned long long)lts_meta_number(s, "requests", 0));
    lts_close(s);

    /* Unblocked, the pending signal reaches leaktag's handler: one snapshot more. */
    CHECK(pthread_sigmask(SIG_UNBLOCK, &usr2, NULL) == 0);
    if (!probe_wait(getpid(), 2, 5000))
        PROBE_FAIL("no snapshot within 5 s of unblocking the pending SIGUSR2");
    char comm[32];
    own_comm(comm, sizeof(comm));
    check_signal_snapshot(2, getpid(), comm);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    return 0;
}

/* ---- busy ------------------------------------------------------------------------------------ */

/* A single-threaded program is inside leaktag (here: its own leaktag_snapshot() of a million
 * blocks, written in this thread) when a SIGUSR2 comes, and then idles without allocating, as
 * a server waiting for its next request does. The handler cannot write the snapshot then;
 * the signal must still get one while the program idles. */
#define BUSY_BLOCKS 1000000
static void *busy_heap[BUSY_BLOCKS];

static int scenario_busy(void)
{
    for (int i = 0; i < BUSY_BLOCKS; i++)
        busy_heap[i] = malloc(16 + (size_t)(i % 64));
    int go[2];
    CHECK(pipe(go) == 0);
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        char byte;
        if (read(go[0], &byte, 1) != 1)
            _exit(1);
        probe_sleep_ms(20); /* well inside the snapshot, which takes 100 ms or more */
        kill(parent, SIGUSR2);
        _exit(0);
    }
    CHECK(write(go[1], "x", 1) == 1);
    int64_t t0 = probe_now_ns();
    CHECK(leaktag_snapshot("busy") == 0);
    int64_t took = probe_now_ns() - t0;
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    if (took < 60 * 1000000ll)
        PROBE_SKIP("a snapshot of %d blocks took %.1f ms: the signal may have come after it",
                   BUSY_BLOCKS, took / 1e6);
    if (probe_wait(getpid(), 2, 2000)) {
        check_signal_snapshot(2, child, NULL); /* the sender may have ended meanwhile */
        return 0;
    }
    /* Not while it idles: is it answered at the next allocation? (for the report) */
    sink = malloc(1);
    bool later = probe_wait(getpid(), 2, 2000);
    PROBE_FAIL("a SIGUSR2 that came while the single-threaded program was inside leaktag (a "
               "%.0f ms leaktag_snapshot) got no snapshot in the 2 s the program then idled; %s",
               took / 1e6, later ? "its next malloc brought one" : "nor after its next malloc");
}

/* ---- driver ---------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(void);
    const char *env[4];
} scenarios[] = {
    {"signal-alone", scenario_signal_alone, {"-LEAKTAG_SIGNAL", "-LEAKTAG_INTERVAL"}},
    {"signal-threads", scenario_signal_threads, {"-LEAKTAG_SIGNAL", "-LEAKTAG_INTERVAL"}},
    {"thread", scenario_thread, {"-LEAKTAG_SIGNAL", "-LEAKTAG_INTERVAL"}},
    {"interval", scenario_interval, {"-LEAKTAG_SIGNAL", "LEAKTAG_INTERVAL=1"}},
    {"blocked", scenario_blocked, {"-LEAKTAG_SIGNAL", "-LEAKTAG_INTERVAL"}},
    {"busy", scenario_busy, {"-LEAKTAG_SIGNAL", "-LEAKTAG_INTERVAL", "LEAKTAG_KEEP=2"}},
};

int main(int argc, char **argv)
{
    size_t n = sizeof(scenarios) / sizeof(scenarios[0]);
    if (argc > 1) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(argv[1], scenarios[i].name))
                return scenarios[i].run();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    if (!leaktag_stats)
        PROBE_SKIP("libleaktag.so is not preloaded");
    probe_driver_init("worker");
    struct probe_tally t = {0};
    for (size_t i = 0; i < n; i++)
        probe_tally(&t, scenarios[i].name, probe_run(scenarios[i].name, scenarios[i].env, 10));
    return probe_finish(&t);
}
