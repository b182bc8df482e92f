/* fdtable.c — test `fdtable`: preload/fdtable.c, the "leaktag-files" thread that writes
 * snapshots in a descriptor table of its own, from inside a process running the whole shim.
 *
 *   table    once the program has a thread (and so leaktag's threads run), the files
 *            thread's table holds 0, 1 and 2 on /dev/null and nothing of the program's,
 *            before and after a snapshot; the program's table is the same before and after
 *            snapshots, and no descriptor in it names a snapshot file
 *   full     RLIMIT_NOFILE lowered to 64 and every descriptor taken: leaktag_snapshot still
 *            writes a whole snapshot, and the program's table is still full of its own
 *   closed   the program closes every descriptor above 2 (close_range(3, ~0U)): snapshots are
 *            still written, and the program's next open() gets 3 as without the shim
 *   fork     a fork child of a program with threads gets a files thread of its own (started
 *            at its first allocation), whose table is its own: a full table in the child
 *            does not stop its snapshot either
 *   alone    a single-threaded program has no files thread (leaktag's threads start only
 *            when needed): with every descriptor taken its snapshot may fail (-EMFILE, one
 *            line) but must leave its table as it was
 *
 * tests/host/ checks that a thread closing descriptors in a loop does not break interval
 * snapshots, judged by the report; this test looks at the tables themselves. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "shim_probe.h"

static void *volatile sink;
static _Atomic int stop;

static void *idle_thread(void *arg)
{
    while (!atomic_load(&stop))
        probe_sleep_ms(2);
    return arg;
}

/* Starts a thread of the program's; returns the files thread's tid once it runs. */
static pid_t start_threads(pthread_t *t)
{
    CHECK(pthread_create(t, NULL, idle_thread, NULL) == 0);
    pid_t files = probe_wait_task("leaktag-files", 3000);
    if (!files)
        PROBE_FAIL("no thread named leaktag-files 3 s after the program made a thread");
    return files;
}

static void stop_threads(pthread_t t)
{
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
}

/* The files thread's table is 0, 1, 2 on /dev/null and nothing else. */
static void check_files_table(pid_t files, const char *when)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/self/task/%d/fd", (int)files);
    struct probe_fds fds = probe_fds_of(dir);
    if (fds.count != 3 || fds.bits[0] != 7)
        PROBE_FAIL("%s: the files thread holds %d descriptors (%#llx)", when, fds.count,
                   (unsigned long long)fds.bits[0]);
    for (int fd = 0; fd < 3; fd++) {
        char target[256];
        probe_fd_target(dir, fd, target, sizeof(target));
        if (strcmp(target, "/dev/null"))
            PROBE_FAIL("%s: the files thread's descriptor %d is %s", when, fd, target);
    }
}

/* No descriptor of the program's names a file in the snapshot directory. */
static void no_snapshot_open(const char *when)
{
    struct probe_fds fds = probe_fds_of("/proc/self/fd");
    for (int fd = 0; fd < PROBE_FDS_MAX; fd++) {
        if (!(fds.bits[fd / 64] >> (fd % 64) & 1))
            continue;
        char target[512];
        probe_fd_target("/proc/self/fd", fd, target, sizeof(target));
        if (!strncmp(target, probe_dir(), strlen(probe_dir())))
            PROBE_FAIL("%s: the program's descriptor %d is %s", when, fd, target);
    }
}

static void same_table(const struct probe_fds *before, const char *when)
{
    struct probe_fds now = probe_fds_of("/proc/self/fd");
    int extra = probe_fds_extra(&now, before), gone = probe_fds_extra(before, &now);
    if (extra >= 0 || gone >= 0)
        PROBE_FAIL("%s: descriptor %d is %s in the program's table", when,
                   extra >= 0 ? extra : gone, extra >= 0 ? "new" : "gone");
}

/* A snapshot that must be written, and read whole; n is its number. */
static void snapshot_ok(unsigned n, const char *reason)
{
    int rc = leaktag_snapshot(reason);
    if (rc != 0)
        PROBE_FAIL("%s: leaktag_snapshot returned %d", reason, rc);
    if (!probe_exists(getpid(), n))
        PROBE_FAIL("%s: snapshot %u is not there", reason, n);
}

static void read_ok(unsigned n)
{
    struct lts_snapshot *s = probe_load(getpid(), n);
    CHECK(s->seq == n && s->nblocks >= 1);
    lts_close(s);
}

/* Lowers the soft RLIMIT_NOFILE to 64 and opens /dev/null until no descriptor is left. */
static int filled[64], nfilled;

static void fill_table(void)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int fd;
    nfilled = 0;
    while (nfilled < 64 && (fd = open("/dev/null", O_RDONLY)) >= 0)
        filled[nfilled++] = fd;
    CHECK(fd < 0 && errno == EMFILE && nfilled > 0);
}

/* Closes what fill_table opened (the descriptors the program inherited stay). */
static void empty_table(void)
{
    while (nfilled > 0)
        close(filled[--nfilled]);
}

static int scenario_table(void)
{
    sink = malloc(100);
    int mine = open("/proc/self/status", O_RDONLY | O_CLOEXEC); /* a file of the program's */
    CHECK(mine >= 0);
    pthread_t t;
    pid_t files = start_threads(&t);
    check_files_table(files, "once it runs");
    struct probe_fds before = probe_fds_of("/proc/self/fd");
    for (unsigned n = 1; n <= 3; n++)
        snapshot_ok(n, "table");
    check_files_table(files, "after three snapshots");
    same_table(&before, "after three snapshots");
    no_snapshot_open("after three snapshots");
    read_ok(3);
    stop_threads(t);
    close(mine);
    return 0;
}

static int scenario_full(void)
{
    sink = malloc(100);
    pthread_t t;
    pid_t files = start_threads(&t);
    fill_table();
    snapshot_ok(1, "full");
    snapshot_ok(2, "full again");
    /* the table is still the program's, full: the next open fails as before */
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0 || errno != EMFILE)
        PROBE_FAIL("after snapshots in a full table open() gave %d (errno %d)", fd, errno);
    empty_table();
    read_ok(1);
    read_ok(2);
    check_files_table(files, "after snapshots in a full table");
    no_snapshot_open("after snapshots in a full table");
    stop_threads(t);
    return 0;
}

static int scenario_closed(void)
{
    sink = malloc(100);
    pthread_t t;
    pid_t files = start_threads(&t);
    snapshot_ok(1, "before");
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        PROBE_SKIP("close_range: %s", strerror(errno));
    snapshot_ok(2, "after close_range");
    snapshot_ok(3, "after close_range again");
    int fd = open("/dev/null", O_RDONLY);
    if (fd != 3)
        PROBE_FAIL("after close_range(3, ~0U) and two snapshots the next open() gave %d", fd);
    close(fd);
    read_ok(2);
    read_ok(3);
    check_files_table(files, "after close_range and snapshots");
    stop_threads(t);
    return 0;
}

static int scenario_fork(void)
{
    sink = malloc(100);
    pthread_t t;
    start_threads(&t);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        if (probe_task_named("leaktag-files"))
            PROBE_FAIL("child: a files thread before its first allocation");
        sink = malloc(200); /* the first hook starts leaktag's thread, which starts its own */
        pid_t files = probe_wait_task("leaktag-files", 3000);
        if (!files)
            PROBE_FAIL("child: no files thread 3 s after its first allocation");
        check_files_table(files, "child");
        fill_table();
        snapshot_ok(1, "child, full");
        empty_table();
        read_ok(1);
        no_snapshot_open("child");
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        PROBE_FAIL("the child failed (status %#x)", status);
    stop_threads(t);
    return 0;
}

static int scenario_alone(void)
{
    sink = malloc(100);
    if (probe_task_count() != 1)
        PROBE_FAIL("a single-threaded program has %d threads", probe_task_count());
    struct probe_fds before = probe_fds_of("/proc/self/fd");
    fill_table();
    int rc = leaktag_snapshot("alone");
    empty_table();
    if (rc != 0 && rc != -EMFILE)
        PROBE_FAIL("a snapshot in a full table returned %d (0 or %d expected)", rc, -EMFILE);
    if (rc == 0)
        read_ok(1);
    else if (probe_exists(getpid(), 1))
        PROBE_FAIL("a snapshot that failed is in place");
    same_table(&before, "after a snapshot in a full table");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(void);
    } scenarios[] = {
        {"table", scenario_table}, {"full", scenario_full},   {"closed", scenario_closed},
        {"fork", scenario_fork},   {"alone", scenario_alone},
    };
    size_t n = sizeof(scenarios) / sizeof(scenarios[0]);
    if (argc > 1) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(argv[1], scenarios[i].name))
                return scenarios[i].run();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    if (!leaktag_stats)
        PROBE_SKIP("libleaktag.so is not preloaded");
    probe_driver_init("fdtable");
    struct probe_tally t = {0};
    static const char *const env[] = {"-LEAKTAG_INTERVAL", "-LEAKTAG_REACH", "LEAKTAG_QUIET=1",
                                      NULL};
    for (size_t i = 0; i < n; i++)
        probe_tally(&t, scenarios[i].name, probe_run(scenarios[i].name, env, 10));
    return probe_finish(&t);
}
