/* shim.c — test `shim`: preload/shim.c, the constructor and the public API of
 * include/leaktag.h, from a program that includes the header and links nothing of leaktag's.
 *
 *   api           the constructor has run before the program's own (a snapshot and the
 *                 counters work from a constructor of the program's, and main starts with one
 *                 thread: leaktag's start lazily); leaktag_stats: -EINVAL for NULL and a
 *                 struct_size below its first counter, a smaller (older) or larger (newer)
 *                 struct_size filled up to the smaller of the two sizes and not a byte
 *                 further, version 1, figures that agree with each other; leaktag_snapshot:
 *                 the file is in place when it returns, reason NULL and "" give "api", a
 *                 reason is stored as given, `snapshots` counts each one; neither allocates
 *                 through malloc; the same from a second thread
 *   api-fail      a snapshot that cannot be written (LEAKTAG_OUTPUT in a missing directory)
 *                 returns -ENOENT, prints one "leaktag:" line even with LEAKTAG_QUIET=1, and
 *                 counts nothing; from the main thread and from another
 *   sampled       LEAKTAG_SAMPLE=64K: sample_interval is 65536, and the snapshot says so
 *   not-tracking  the shim loaded but not tracking (libc.so.6 preloaded ahead of it): both
 *                 functions return -ENODEV (NULL still -EINVAL), no file, the program runs
 *   no-shim       the same program without LD_PRELOAD: the weak declarations are NULL and
 *                 the program runs unchanged
 *
 * tests/snapshot/run.sh checks a snapshot's reason and the error line through snapshot_test;
 * this test checks every documented return value and the struct_size contract directly. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/single_threaded.h>

#include "shim_probe.h"

/* ---- the program's own constructor ----------------------------------------------------------- */

static int ctor_stats_rc = 1, ctor_snapshot_rc = 1;

__attribute__((constructor)) static void program_constructor(void)
{
    const char *mode = getenv("PROBE_MODE");
    if (!mode || strcmp(mode, "api") || !leaktag_stats)
        return;
    struct leaktag_stats s = {.struct_size = sizeof(s)};
    ctor_stats_rc = leaktag_stats(&s);
    ctor_snapshot_rc = leaktag_snapshot("constructor");
}

/* ---- api -------------------------------------------------------------------------------- */

static void check_consistent(const struct leaktag_stats *s, const char *who)
{
    if (s->version != 1 || s->live_blocks != s->allocations - s->frees ||
        s->peak_live_bytes < s->live_bytes || s->threads_alive > s->threads_seen ||
        s->threads_alive < 1 || s->sample_interval != 0 || s->untracked_blocks != 0)
        PROBE_FAIL("%s: version %u, live %llu = %llu allocations - %llu frees?, peak %llu >= "
                   "live bytes %llu?, threads %llu alive of %llu seen, sample interval %llu",
                   who, s->version, (unsigned long long)s->live_blocks,
                   (unsigned long long)s->allocations, (unsigned long long)s->frees,
                   (unsigned long long)s->peak_live_bytes, (unsigned long long)s->live_bytes,
                   (unsigned long long)s->threads_alive, (unsigned long long)s->threads_seen,
                   (unsigned long long)s->sample_interval);
}

/* leaktag_stats with a struct_size of `size` into a buffer of 0xee bytes: returns what it
 * returned; checks that nothing past min(size, sizeof) was written. */
static int stats_sized(uint32_t size, struct leaktag_stats *copy)
{
    union {
        struct leaktag_stats s;
        unsigned char bytes[sizeof(struct leaktag_stats) + 64];
    } buf;
    memset(&buf, 0xee, sizeof(buf));
    buf.s.struct_size = size;
    int rc = leaktag_stats(&buf.s);
    size_t filled = size < sizeof(buf.s) ? size : sizeof(buf.s);
    if (filled < sizeof(buf.s.struct_size))
        filled = sizeof(buf.s.struct_size);
    for (size_t i = filled; i < sizeof(buf.bytes); i++)
        if (buf.bytes[i] != 0xee)
            PROBE_FAIL("leaktag_stats with struct_size %u wrote byte %zu", size, i);
    if (rc == 0 && buf.s.struct_size != filled)
        PROBE_FAIL("leaktag_stats with struct_size %u says struct_size %u, expected %zu", size,
                   buf.s.struct_size, filled);
    if (copy)
        memcpy(copy, &buf.s, sizeof(*copy));
    return rc;
}

/* The file is in place when leaktag_snapshot returns; its reason is as expected. */
static void snapshot_now(const char *reason, const char *stored)
{
    struct leaktag_stats before = lt_test_stats();
    unsigned seq = (unsigned)before.snapshots + 1;
    int rc = leaktag_snapshot(reason);
    struct leaktag_stats after = lt_test_stats();
    if (rc != 0)
        PROBE_FAIL("leaktag_snapshot(%s%s%s) returned %d", reason ? "\"" : "",
                   reason ? reason : "NULL", reason ? "\"" : "", rc);
    if (!probe_exists(getpid(), seq))
        PROBE_FAIL("snapshot %u is not in place when leaktag_snapshot returns", seq);
    if (after.snapshots != before.snapshots + 1)
        PROBE_FAIL("snapshots went from %llu to %llu with one snapshot",
                   (unsigned long long)before.snapshots, (unsigned long long)after.snapshots);
    if (after.allocations != before.allocations || after.frees != before.frees)
        PROBE_FAIL("leaktag_snapshot allocated or freed through malloc (%lld, %lld)",
                   (long long)(after.allocations - before.allocations),
                   (long long)(after.frees - before.frees));
    struct lts_snapshot *s = probe_load(getpid(), seq);
    if (strcmp(s->reason, stored))
        PROBE_FAIL("leaktag_snapshot(%s) stored reason \"%s\", expected \"%s\"",
                   reason ? reason : "NULL", s->reason, stored);
    lts_close(s);
}

static void api_calls(const char *who)
{
    CHECK(leaktag_stats(NULL) == -EINVAL);
    for (uint32_t size = 0; size < offsetof(struct leaktag_stats, live_blocks); size++)
        if (stats_sized(size, NULL) != -EINVAL)
            PROBE_FAIL("%s: leaktag_stats with struct_size %u did not return -EINVAL", who, size);
    /* an older caller's structure: struct_size, version and live_blocks only */
    struct leaktag_stats small, full;
    uint32_t old_size = offsetof(struct leaktag_stats, live_bytes);
    CHECK(stats_sized(old_size, &small) == 0);
    /* a newer caller's, larger: filled up to what this shim knows */
    CHECK(stats_sized(sizeof(struct leaktag_stats) + 64, &full) == 0);
    if (small.version != 1 || small.live_blocks != full.live_blocks)
        PROBE_FAIL("%s: the older caller's struct says version %u, %llu live blocks; the full "
                   "one %llu",
                   who, small.version, (unsigned long long)small.live_blocks,
                   (unsigned long long)full.live_blocks);
    check_consistent(&full, who);

    /* leaktag_stats never allocates */
    struct leaktag_stats a = lt_test_stats();
    for (int i = 0; i < 100; i++)
        lt_test_stats();
    struct leaktag_stats b = lt_test_stats();
    if (a.allocations != b.allocations || a.live_blocks != b.live_blocks)
        PROBE_FAIL("%s: 100 calls of leaktag_stats allocated %lld blocks", who,
                   (long long)(b.allocations - a.allocations));
    /* tracking is on: one malloc is one more allocation and live block */
    void *p = malloc(12345);
    b = lt_test_stats();
    if (b.allocations != a.allocations + 1 || b.live_bytes != a.live_bytes + 12345)
        PROBE_FAIL("%s: a malloc of 12345 bytes counted %lld allocations, %lld bytes", who,
                   (long long)(b.allocations - a.allocations),
                   (long long)(b.live_bytes - a.live_bytes));
    free(p);

    char reason[64];
    snprintf(reason, sizeof(reason), "reason of %s", who);
    snapshot_now(NULL, "api");
    snapshot_now("", "api");
    snapshot_now(reason, reason);
}

static void *api_thread(void *arg)
{
    api_calls("a second thread");
    return arg;
}

static int scenario_api(void)
{
    /* the program's constructor ran after the shim's */
    if (ctor_stats_rc != 0 || ctor_snapshot_rc != 0)
        PROBE_FAIL("from the program's constructor leaktag_stats returned %d, leaktag_snapshot "
                   "%d",
                   ctor_stats_rc, ctor_snapshot_rc);
    struct lts_snapshot *s = probe_load(getpid(), 1);
    CHECK(!strcmp(s->reason, "constructor"));
    lts_close(s);
    /* leaktag's threads start when needed: a program that has not made one has one thread */
    if (probe_task_count() != 1 || !__libc_single_threaded)
        PROBE_FAIL("main starts with %d threads (single-threaded: %d)", probe_task_count(),
                   (int)__libc_single_threaded);
    api_calls("the main thread");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, api_thread, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    /* with leaktag's threads running now, from the main thread again */
    CHECK(probe_wait_task("leaktag-files", 2000) != 0);
    api_calls("the main thread, leaktag's threads running");
    return 0;
}

/* ---- api-fail --------------------------------------------------------------------------- */

/* Runs leaktag_snapshot with stderr in a file: its return value, and the lines it printed. */
static int failing_snapshot(int *lines, char *first, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/stderr.%d", probe_dir(), (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0 && dup2(fd, 2) == 2);
    struct leaktag_stats before = lt_test_stats();
    int rc = leaktag_snapshot("unwritable");
    struct leaktag_stats after = lt_test_stats();
    CHECK(dup2(saved, 2) == 2);
    close(saved);
    char text[4096] = {0};
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    close(fd);
    unlink(path);
    *lines = 0;
    for (char *line = text; n > 0 && *line; line = strchr(line, '\n') + 1) {
        if (!strncmp(line, "leaktag:", 8) && (*lines)++ == 0)
            snprintf(first, size, "%.*s", (int)strcspn(line, "\n"), line);
        if (!strchr(line, '\n'))
            break;
    }
    if (after.snapshots != before.snapshots)
        PROBE_FAIL("a snapshot that could not be written was counted");
    return rc;
}

static void check_failing(const char *who)
{
    int lines;
    char first[512] = "";
    int rc = failing_snapshot(&lines, first, sizeof(first));
    if (rc != -ENOENT || lines != 1 || !strstr(first, "No such file or directory"))
        PROBE_FAIL("%s: leaktag_snapshot into a missing directory returned %d (expected %d) "
                   "and printed %d leaktag lines: %s",
                   who, rc, -ENOENT, lines, first);
}

static void *failing_thread(void *arg)
{
    check_failing("a second thread");
    return arg;
}

static int scenario_api_fail(void)
{
    check_failing("the main thread");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, failing_thread, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(probe_wait_task("leaktag-files", 2000) != 0);
    check_failing("the main thread, leaktag's threads running");
    return 0;
}

/* ---- sampled ------------------------------------------------------------------------------ */

static int scenario_sampled(void)
{
    struct leaktag_stats s = lt_test_stats();
    CHECK_EQ(s.sample_interval, 65536);
    CHECK(leaktag_snapshot(NULL) == 0);
    struct lts_snapshot *snap = probe_load(getpid(), 1);
    CHECK_EQ(lts_meta_number(snap, "sample_interval_bytes", 0), 65536);
    lts_close(snap);
    return 0;
}

/* ---- not-tracking and no-shim -------------------------------------------------------------- */

static int scenario_not_tracking(void)
{
    if (!leaktag_stats || !leaktag_snapshot)
        PROBE_FAIL("the shim is not loaded");
    struct leaktag_stats s = {.struct_size = sizeof(s)};
    void *p = malloc(100);
    CHECK(p != NULL);
    int stats_rc = leaktag_stats(&s), snapshot_rc = leaktag_snapshot("none");
    if (stats_rc != -ENODEV || snapshot_rc != -ENODEV || leaktag_stats(NULL) != -EINVAL)
        PROBE_FAIL("not tracking: leaktag_stats returned %d, leaktag_snapshot %d (expected %d)",
                   stats_rc, snapshot_rc, -ENODEV);
    if (probe_exists(getpid(), 1))
        PROBE_FAIL("a snapshot was written by a shim that does not track");
    free(p);
    return 0;
}

static int scenario_no_shim(void)
{
    if (leaktag_stats || leaktag_snapshot)
        PROBE_FAIL("without the shim leaktag_stats is %p and leaktag_snapshot %p, not NULL",
                   (void *)(uintptr_t)leaktag_stats, (void *)(uintptr_t)leaktag_snapshot);
    void *p = malloc(100);
    CHECK(p != NULL);
    free(p);
    return 0;
}

/* ---- driver ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "api"))
            return scenario_api();
        if (!strcmp(argv[1], "api-fail"))
            return scenario_api_fail();
        if (!strcmp(argv[1], "sampled"))
            return scenario_sampled();
        if (!strcmp(argv[1], "not-tracking"))
            return scenario_not_tracking();
        if (!strcmp(argv[1], "no-shim"))
            return scenario_no_shim();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    const char *preload = getenv("LD_PRELOAD");
    if (!leaktag_stats || !preload)
        PROBE_SKIP("libleaktag.so is not preloaded");
    probe_driver_init("shim");
    struct probe_tally t = {0};
    static const char *const api_env[] = {"-LEAKTAG_SAMPLE", "-LEAKTAG_INTERVAL", "LEAKTAG_KEEP=0",
                                          NULL};
    probe_tally(&t, "api", probe_run("api", api_env, 10));
    char missing[600];
    snprintf(missing, sizeof(missing), "LEAKTAG_OUTPUT=%s/missing/s.%%p.%%n.lts", probe_dir());
    const char *const fail_env[] = {missing, "LEAKTAG_QUIET=1", NULL};
    probe_tally(&t, "api-fail", probe_run("api-fail", fail_env, 10));
    static const char *const sampled_env[] = {"LEAKTAG_SAMPLE=64K", NULL};
    probe_tally(&t, "sampled", probe_run("sampled", sampled_env, 10));
    char ahead[4200];
    snprintf(ahead, sizeof(ahead), "LD_PRELOAD=libc.so.6:%s", preload);
    const char *const ahead_env[] = {ahead, "LEAKTAG_QUIET=1", NULL};
    probe_tally(&t, "not-tracking", probe_run("not-tracking", ahead_env, 10));
    static const char *const plain_env[] = {"-LD_PRELOAD", NULL};
    probe_tally(&t, "no-shim", probe_run("no-shim", plain_env, 10));
    return probe_finish(&t);
}
