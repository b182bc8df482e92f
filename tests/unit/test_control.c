/* Unit tests of control.c, the block `leaktag --pid` reads: read back as the launcher does
 * (process_vm_readv of the test's own pid, two copies, accepted when the sequence is even and
 * the same in both), its layout as control.h documents it (fixed-width fields, one layout
 * for every pointer width), the shim's updates (signal and flags, snapshot count and last
 * path, paths cut to the field), `requests`, which only the launcher writes (with
 * process_vm_writev) and leaktag's thread takes the new ones of, a fork child's fresh block,
 * and no torn copy accepted while the shim writes. */
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
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

/* process_vm_readv/writev of the test's own pid: refused only by a sandbox (seccomp). */
static bool vm_refused(void)
{
    uint32_t probe = 0, here = 1;
    struct iovec local = {&probe, sizeof(probe)}, remote = {&here, sizeof(here)};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(probe);
}

/* The launcher's read (launcher.c, read_control): the block twice in one call, taken when
 * the first copy's sequence is even and the second's the same. */
static bool launcher_read(struct lt_control *c)
{
    static struct lt_control again;
    struct iovec local[2] = {{c, sizeof(*c)}, {&again, sizeof(again)}};
    struct iovec remote[2] = {{&leaktag_control, sizeof(*c)}, {&leaktag_control, sizeof(again)}};
    ssize_t got = process_vm_readv(getpid(), local, 2, remote, 2, 0);
    assert_int_equal(got, (ssize_t)(2 * sizeof(*c)));
    return !(c->sequence & 1) && c->sequence == again.sequence;
}

/* The launcher's request (launcher.c, count_request): requests + 1 written from outside. */
static void launcher_request(void)
{
    uint32_t requests;
    struct iovec local = {&requests, sizeof(requests)};
    struct iovec remote = {&leaktag_control.requests, sizeof(requests)};
    assert_int_equal(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), sizeof(requests));
    requests++;
    assert_int_equal(process_vm_writev(getpid(), &local, 1, &remote, 1, 0), sizeof(requests));
}

static struct lt_control copy; /* 8 KiB: not on the stack */

static void test_layout_and_init(void **state)
{
    (void)state;
    /* control.h's order of fixed-width fields: the same offsets for 32- and 64-bit. */
    assert_int_equal(offsetof(struct lt_control, magic), 0);
    assert_int_equal(offsetof(struct lt_control, version), 16);
    assert_int_equal(offsetof(struct lt_control, size), 20);
    assert_int_equal(offsetof(struct lt_control, pid), 24);
    assert_int_equal(offsetof(struct lt_control, signal), 28);
    assert_int_equal(offsetof(struct lt_control, sequence), 32);
    assert_int_equal(offsetof(struct lt_control, worker_tid), 36);
    assert_int_equal(offsetof(struct lt_control, flags), 40);
    assert_int_equal(offsetof(struct lt_control, requests), 44);
    assert_int_equal(offsetof(struct lt_control, snapshots), 48);
    assert_int_equal(offsetof(struct lt_control, output), 56);
    assert_int_equal(offsetof(struct lt_control, last), 56 + LT_CONTROL_PATH_MAX);
    assert_int_equal(sizeof(struct lt_control), 56 + 2 * LT_CONTROL_PATH_MAX);
    if (vm_refused())
        skip(); /* process_vm_readv refused by this sandbox: the launcher could not read */

    lt_control_init("/var/tmp/leaktag/%e-%p.lts");
    assert_true(launcher_read(&copy));
    assert_memory_equal(copy.magic, "leaktag-control", 16); /* with its NUL */
    assert_int_equal(copy.version, LT_CONTROL_VERSION);
    assert_int_equal(copy.size, sizeof(struct lt_control));
    assert_int_equal(copy.pid, getpid());
    assert_string_equal(copy.output, "/var/tmp/leaktag/%e-%p.lts");
    assert_string_equal(copy.last, "");
    assert_int_equal(copy.snapshots, 0);
    assert_int_equal(copy.signal, 0);
    assert_int_equal(copy.worker_tid, 0);
}

static char long_path[6000];

static void test_updates(void **state)
{
    (void)state;
    if (vm_refused())
        skip(); /* as above */
    assert_true(launcher_read(&copy));
    uint32_t sequence = copy.sequence;

    lt_control_signal(SIGUSR2, LT_CONTROL_KILL_ANSWERED | LT_CONTROL_REQUESTS);
    assert_true(launcher_read(&copy));
    assert_int_equal(copy.signal, SIGUSR2);
    assert_int_equal(copy.flags, LT_CONTROL_KILL_ANSWERED | LT_CONTROL_REQUESTS);
    assert_true(copy.sequence > sequence); /* a change was made, and is over (even) */
    sequence = copy.sequence;

    lt_control_written("/var/tmp/leaktag/a-1.lts");
    lt_control_written("/var/tmp/leaktag/a-2.lts");
    assert_true(launcher_read(&copy));
    assert_int_equal(copy.snapshots, 2);
    assert_string_equal(copy.last, "/var/tmp/leaktag/a-2.lts");
    assert_true(copy.sequence > sequence);

    lt_control_worker(4242);
    assert_true(launcher_read(&copy));
    assert_int_equal(copy.worker_tid, 4242);
    lt_control_worker(0); /* leaktag's thread is gone */
    assert_true(launcher_read(&copy));
    assert_int_equal(copy.worker_tid, 0);

    /* A path longer than the field: its first 4095 bytes and a NUL, nothing past it. */
    memset(long_path, 'x', sizeof(long_path) - 1);
    lt_control_written(long_path);
    lt_control_init(long_path);
    assert_true(launcher_read(&copy));
    assert_int_equal(strnlen(copy.last, LT_CONTROL_PATH_MAX), LT_CONTROL_PATH_MAX - 1);
    assert_int_equal(strnlen(copy.output, LT_CONTROL_PATH_MAX), LT_CONTROL_PATH_MAX - 1);
    assert_int_equal(copy.snapshots, 3);
    /* the init of a running block keeps what it does not set */
    assert_int_equal(copy.signal, SIGUSR2);
    lt_control_init("/var/tmp/leaktag/%e-%p.lts");
}

static void test_requests_from_outside(void **state)
{
    (void)state;
    if (vm_refused())
        skip();                 /* as above */
    lt_control_take_requests(); /* whatever came before */
    assert_int_equal(lt_control_take_requests(), 0);
    launcher_request();
    assert_int_equal(lt_control_take_requests(), 1);
    assert_int_equal(lt_control_take_requests(), 0);
    for (int i = 0; i < 3; i++)
        launcher_request();
    assert_int_equal(lt_control_take_requests(), 3);

    /* The shim never writes the launcher's word: every one of its changes leaves it. */
    assert_true(launcher_read(&copy));
    uint32_t requests = copy.requests;
    lt_control_init("/var/tmp/leaktag/%e-%p.lts");
    lt_control_signal(SIGUSR2, LT_CONTROL_REQUESTS);
    lt_control_written("/var/tmp/leaktag/b.lts");
    lt_control_worker(77);
    assert_true(launcher_read(&copy));
    assert_int_equal(copy.requests, requests);
    assert_int_equal(lt_control_take_requests(), 0);

    /* The counter wraps (a 32-bit word counted up for the process's life). */
    uint32_t near_end = UINT32_MAX - 1;
    struct iovec local = {&near_end, sizeof(near_end)};
    struct iovec remote = {&leaktag_control.requests, sizeof(near_end)};
    assert_int_equal(process_vm_writev(getpid(), &local, 1, &remote, 1, 0), sizeof(near_end));
    lt_control_take_requests();
    launcher_request();
    launcher_request();
    launcher_request(); /* UINT32_MAX, 0, 1 */
    assert_int_equal(lt_control_take_requests(), 3);
}

/* What a fork child reports of its block: the copy, then what it took of requests. */
struct child_report {
    struct lt_control c;
    int32_t pid;
    uint32_t taken_at_once, taken_after_one;
};

static struct child_report report;

static void test_fork_child(void **state)
{
    (void)state;
    if (vm_refused())
        skip(); /* as above */
    lt_control_signal(SIGUSR2, LT_CONTROL_KILL_ANSWERED);
    lt_control_written("/var/tmp/leaktag/parent.lts");
    lt_control_worker(1234);
    launcher_request(); /* one the parent has not taken: not the child's */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        lt_control_fork_child();
        struct child_report r = {.pid = (int32_t)getpid()};
        r.taken_at_once = lt_control_take_requests();
        r.c = leaktag_control;
        launcher_request();
        r.taken_after_one = lt_control_take_requests();
        ssize_t n = write(pipefd[1], &r, sizeof(r));
        _exit(n == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(pipefd[1]);
    size_t got = 0;
    for (ssize_t n; got < sizeof(report) &&
                    (n = read(pipefd[0], (char *)&report + got, sizeof(report) - got)) > 0;)
        got += (size_t)n;
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(got, sizeof(report));
    assert_int_equal(report.c.pid, report.pid); /* its own pid */
    assert_int_equal(report.pid, child);
    assert_int_equal(report.c.worker_tid, 0); /* leaktag's thread did not cross the fork */
    assert_int_equal(report.c.snapshots, 0);
    assert_string_equal(report.c.last, "");
    assert_int_equal(report.c.requests, 0);
    assert_int_equal(report.taken_at_once, 0); /* the parent's request is the parent's */
    assert_int_equal(report.taken_after_one, 1);
    assert_int_equal(report.c.sequence & 1, 0);
    /* inherited as they are: the output template and the signal's disposition */
    assert_string_equal(report.c.output, "/var/tmp/leaktag/%e-%p.lts");
    assert_int_equal(report.c.signal, SIGUSR2);
    assert_int_equal(report.c.flags, LT_CONTROL_KILL_ANSWERED);
    /* and the parent's block is untouched */
    assert_int_equal(leaktag_control.pid, getpid());
    assert_int_equal(lt_control_take_requests(), 1);
    lt_control_worker(0);
}

/* A writer alternating two paths; the snapshot count says which one each copy must show. */
static char path_a[LT_CONTROL_PATH_MAX], path_b[LT_CONTROL_PATH_MAX];
static atomic_bool stop;

static void *writer(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++)
        lt_control_written(i % 2 ? path_b : path_a);
    return NULL;
}

static void test_no_torn_copy(void **state)
{
    (void)state;
    if (vm_refused())
        skip(); /* as above */
    memset(path_a, 'a', sizeof(path_a) - 1);
    memset(path_b, 'b', sizeof(path_b) - 1);
    lt_control_written(path_b); /* the count is even and the path b's whoever reads now */
    if (leaktag_control.snapshots % 2)
        lt_control_written(path_b);
    pthread_t t;
    atomic_store(&stop, false);
    assert_int_equal(pthread_create(&t, NULL, writer, NULL), 0);
    unsigned accepted = 0, torn = 0;
    for (int i = 0; i < 1000000 && (i < 20000 || accepted < 100); i++) {
        if (!launcher_read(&copy))
            continue; /* the launcher retries */
        accepted++;
        /* one path whole, the one the count goes with (a's after an odd number) */
        char want = copy.snapshots % 2 ? 'a' : 'b';
        if (strspn(copy.last, want == 'a' ? "a" : "b") != LT_CONTROL_PATH_MAX - 1)
            torn++;
    }
    atomic_store(&stop, true);
    pthread_join(t, NULL);
    assert_int_equal(torn, 0);
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_init),
        cmocka_unit_test(test_updates),
        cmocka_unit_test(test_requests_from_outside),
        cmocka_unit_test(test_fork_child),
        cmocka_unit_test(test_no_torn_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
