/* Unit tests of leaktag-scan's target that need no second user or kernel setting: why a
 * live process may not be read (another user, a missing CAP_SYS_PTRACE, each Yama scope,
 * a process that is not dumpable), and core files cut at every length of their headers and
 * notes, which must each be refused in one line, never crash. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "target.h"
#include "target_core.h"
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

/* A core of a small process (sleep: not this one, whose sanitizer shadow would make a core of
 * terabytes) written by gcore, when gdb is here: cut at each of its first lengths, it is
 * refused. */
static void test_cut_cores(void **state)
{
    (void)state;
    char dir[] = "/tmp/leaktag-core.XXXXXX";
    assert_non_null(mkdtemp(dir));
    int exec_done[2];
    assert_int_equal(pipe2(exec_done, O_CLOEXEC), 0);
    pid_t child = fork();
    if (child == 0) {
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    assert_true(child > 0);
    /* The pipe's write end closes when the child has exec'd sleep (close-on-exec): reading
     * end of file means the core will be sleep's, not a copy of this (sanitized) test. */
    close(exec_done[1]);
    char byte;
    while (read(exec_done[0], &byte, 1) < 0 && errno == EINTR) {
    }
    close(exec_done[0]);
    char cmd[256], core[128];
    snprintf(core, sizeof(core), "%s/c.%d", dir, (int)child);
    snprintf(cmd, sizeof(cmd), "gcore -o %s/c %d >/dev/null 2>&1", dir, (int)child);
    int gcore_rc = system(cmd);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    if (gcore_rc != 0 || access(core, R_OK) != 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        (void)!system(cmd);
        skip();
    }
    FILE *f = fopen(core, "rb");
    assert_non_null(f);
    static uint8_t bytes[1 << 16];
    size_t n = fread(bytes, 1, sizeof(bytes), f);
    fclose(f);
    char cut[160];
    snprintf(cut, sizeof(cut), "%s/cut", dir);
    for (size_t len = 0; len < n; len += len < 4096 ? 1 : 997) {
        FILE *g = fopen(cut, "wb");
        assert_non_null(g);
        assert_int_equal(fwrite(bytes, 1, len, g), len);
        fclose(g);
        struct lts_error err;
        struct target *t = NULL;
        assert_int_equal(target_core_open(cut, NULL, &t, &err), -1);
        assert_null(t);
        assert_non_null(strstr(err.message, cut));
        assert_null(strchr(err.message, '\n'));
    }
    struct lts_error err;
    struct target *t = NULL;
    assert_int_equal(target_core_open(core, NULL, &t, &err), 0);
    assert_true(t->is_core && t->nthreads >= 1 && t->pid == child);
    target_close(t);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)!system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cut_cores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
