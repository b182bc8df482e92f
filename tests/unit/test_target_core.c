/* Unit tests of target_core.c, an ELF core file as leaktag-scan's target: a core cut at each
 * of its first lengths (headers, program headers, notes) refused in one line naming it,
 * never a crash; and a whole core (gcore's, of a sleeping process with a marker in its
 * environment) read as the process was: pid, name, executable, width, its thread and stack
 * pointer in its stack, the mapped files' names, the marker at its address; --exe naming the
 * executable instead of the core. Skips when gdb's gcore is not here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sleeper.h"
#include "target.h"
#include "target_core.h"

static char dir[] = "/tmp/leaktag-core.XXXXXX";
static char core[128];
static pid_t core_pid;

/* One core of the sleeper for every case (gcore takes a second or two). */
static int make_core(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    core_pid = sleeper_start();
    char cmd[256];
    snprintf(core, sizeof(core), "%s/c.%d", dir, (int)core_pid);
    snprintf(cmd, sizeof(cmd), "gcore -o %s/c %d >/dev/null 2>&1", dir, (int)core_pid);
    int rc = system(cmd);
    sleeper_stop(core_pid);
    if (rc != 0 || access(core, R_OK) != 0)
        core[0] = '\0'; /* each case skips */
    return 0;
}

static int remove_core(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)!system(cmd);
    return 0;
}

static void test_cut_cores(void **state)
{
    (void)state;
    if (!core[0])
        skip();
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
}

static void test_reads_the_process(void **state)
{
    (void)state;
    if (!core[0])
        skip();
    struct lts_error err;
    struct target *t = NULL;
    if (target_core_open(core, NULL, &t, &err) != 0)
        fail_msg("%s", err.message);
    assert_true(t->is_core);
    assert_int_equal(t->pid, core_pid);
    assert_string_equal(t->name, "sleep");
    assert_string_equal(t->source, core);
    assert_non_null(t->exe);
    assert_non_null(strstr(t->exe, "sleep"));
    assert_int_equal(t->pointer_bytes, sizeof(void *));
    assert_int_equal(t->nthreads, 1);
    assert_int_equal(t->threads[0].tid, core_pid);
    assert_true(t->threads[0].sp != 0); /* from NT_PRSTATUS */
    struct target_map *stack = target_map_at(t, t->threads[0].sp);
    assert_non_null(stack);
    assert_int_equal(stack->kind, TARGET_MAP_STACK);
    bool libc = false; /* NT_FILE names the mapped files */
    for (size_t i = 0; i < t->nmaps; i++)
        libc |= t->maps[i].path && strstr(t->maps[i].path, "libc.so") != NULL;
    assert_true(libc);
    uint64_t mark = sleeper_find_mark(t);
    assert_true(mark != 0);
    char back[sizeof(SLEEPER_MARK)];
    assert_int_equal(target_read(t, mark, back, sizeof(back)), sizeof(back));
    assert_string_equal(back, SLEEPER_MARK);
    assert_int_equal(target_read(t, 0, back, 8), 0); /* in no segment: nothing */
    target_close(t);
}

static void test_exe_given(void **state)
{
    (void)state;
    if (!core[0])
        skip();
    struct lts_error err;
    struct target *t = NULL;
    char exe[160];
    snprintf(exe, sizeof(exe), "%s/sleep-as-built", dir); /* a copy elsewhere: --exe */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "cp /bin/sleep %s", exe);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(target_core_open(core, exe, &t, &err), 0);
    assert_string_equal(t->exe, exe);
    target_close(t);
    /* not a core: one line each */
    assert_int_equal(target_core_open(exe, NULL, &t, &err), -1);
    assert_non_null(strstr(err.message, "not a core"));
    assert_int_equal(target_core_open("/etc/hostname", NULL, &t, &err), -1);
    assert_non_null(strstr(err.message, "not a pid, nor an ELF core file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_cores),
        cmocka_unit_test(test_reads_the_process),
        cmocka_unit_test(test_exe_given),
    };
    return cmocka_run_group_tests(tests, make_core, remove_core);
}
