/* Unit tests of target_live.c, a live process as leaktag-scan's target: why one may not be
 * read (another user, a missing CAP_SYS_PTRACE, each Yama scope, a process that is not
 * dumpable), what is read of one that may (name, executable, width, maps in order, its
 * thread, a marker in its stack's memory), --freeze stopping every thread and leaving it
 * running and untraced afterwards, and a process that is gone. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sleeper.h"
#include "target.h"
#include "target_live.h"

static char why[512];

static void explain(uid_t owner, uid_t self, bool cap, int yama)
{
    target_explain_refusal(why, sizeof(why), 42, owner, self, cap, yama);
}

static void test_refusals(void **state)
{
    (void)state;
    explain(0, 1000, false, -1);
    assert_non_null(strstr(why, "runs as root (uid 0), not as you (uid 1000)"));
    explain(1000, 0, false, -1);
    assert_non_null(strstr(why, "lacks CAP_SYS_PTRACE"));
    explain(1000, 1000, false, 1);
    assert_non_null(strstr(why, "kernel.yama.ptrace_scope is 1: only a process's ancestors"));
    explain(1000, 1000, false, 2);
    assert_non_null(strstr(why, "kernel.yama.ptrace_scope is 2: only CAP_SYS_PTRACE"));
    explain(1000, 1000, true, 3);
    assert_non_null(strstr(why, "kernel.yama.ptrace_scope is 3"));
    explain(1000, 1000, true, 1); /* CAP_SYS_PTRACE passes scope 1: then not dumpable */
    assert_non_null(strstr(why, "not dumpable"));
    explain(1000, 1000, false, 0);
    assert_non_null(strstr(why, "not dumpable"));
}

/* The sleeper as a target: what /proc says of it, and its memory. */
static void test_reads_a_process(void **state)
{
    (void)state;
    pid_t child = sleeper_start();
    assert_true(child > 0);
    struct target *t = NULL;
    struct lts_error err;
    if (target_live_open(child, &t, &err) != 0) {
        sleeper_stop(child);
        fail_msg("%s", err.message);
    }
    assert_false(t->is_core);
    assert_int_equal(t->pid, child);
    assert_string_equal(t->name, "sleep");
    assert_non_null(t->exe);
    assert_non_null(strstr(t->exe, "sleep"));
    assert_int_equal(t->pointer_bytes, sizeof(void *));
    assert_int_equal(t->nthreads, 1);
    assert_int_equal(t->threads[0].tid, child);
    for (size_t i = 1; i < t->nmaps; i++) /* in order, none overlapping */
        assert_true(t->maps[i - 1].end <= t->maps[i].start);
    uint64_t mark = sleeper_find_mark(t);
    assert_true(mark != 0);
    char back[sizeof(SLEEPER_MARK)];
    assert_int_equal(target_read(t, mark, back, sizeof(back)), sizeof(back));
    assert_string_equal(back, SLEEPER_MARK);
    assert_int_equal(target_read(t, 0, back, 8), 0); /* page 0: nothing, no crash */
    target_close(t);
    sleeper_stop(child);
}

/* --freeze stops it (ptrace's group stop: 't'); thawed and closed, it runs on untraced. */
static void test_freeze_and_thaw(void **state)
{
    (void)state;
    pid_t child = sleeper_start();
    struct target *t = NULL;
    struct lts_error err;
    assert_int_equal(target_live_open(child, &t, &err), 0);
    if (target_freeze(t, &err) != 0) {
        target_close(t);
        sleeper_stop(child);
        skip(); /* ptrace refused here (a container without it): said by the scan test */
    }
    assert_int_equal(sleeper_state(child), 't');
    assert_int_equal(sleeper_tracer(child), getpid());
    assert_true(sleeper_find_mark(t) != 0); /* still readable while stopped */
    target_thaw(t);
    target_close(t);
    for (int i = 0; i < 100 && sleeper_tracer(child) != 0; i++)
        usleep(10000);
    assert_int_equal(sleeper_tracer(child), 0);
    assert_true(sleeper_state(child) == 'S' || sleeper_state(child) == 'R'); /* running on */
    sleeper_stop(child);

    /* closed while frozen (leaktag-scan failing midway): it must not stay stopped */
    child = sleeper_start();
    assert_int_equal(target_live_open(child, &t, &err), 0);
    assert_int_equal(target_freeze(t, &err), 0);
    target_close(t);
    for (int i = 0; i < 100 && sleeper_tracer(child) != 0; i++)
        usleep(10000);
    assert_int_equal(sleeper_tracer(child), 0);
    assert_true(sleeper_state(child) == 'S' || sleeper_state(child) == 'R'); /* running on */
    sleeper_stop(child);
}

/* A process that has ended: one line naming it, at open and at a refresh. */
static void test_gone(void **state)
{
    (void)state;
    pid_t child = sleeper_start();
    struct target *t = NULL;
    struct lts_error err;
    assert_int_equal(target_live_open(child, &t, &err), 0);
    sleeper_stop(child);
    assert_int_equal(target_refresh(t, &err), -1);
    assert_non_null(strstr(err.message, t->source));
    assert_null(strchr(err.message, '\n'));
    target_close(t);
    t = NULL;
    assert_int_equal(target_live_open(child, &t, &err), -1);
    assert_null(t);
    char want[64];
    snprintf(want, sizeof(want), "pid %d: no such process", (int)child);
    assert_string_equal(err.message, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reads_a_process),
        cmocka_unit_test(test_freeze_and_thaw),
        cmocka_unit_test(test_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
