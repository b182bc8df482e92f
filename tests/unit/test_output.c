/* Unit tests of output.c: a file the analyzer writes appears whole or not at all, 0600, with
 * no temporary left behind; a directory that is not there, and a write that fails, are each
 * one error naming the path. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "output.h"

static char dir[] = "/tmp/leaktag-test-output-XXXXXX";

static size_t entries(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_whole_or_nothing(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/report.txt", dir);
    struct output o;
    struct lts_error err;
    assert_int_equal(output_open(&o, path, &err), 0);
    fputs("half", o.out);
    fflush(o.out);
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* not under its name while being written */
    assert_int_equal(entries(), 1);        /* the temporary */
    assert_int_equal(stat(o.tmp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fputs(" and whole\n", o.out);
    assert_int_equal(output_close(&o, true, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 15);
    assert_int_equal(entries(), 1);

    /* not kept: nothing new appears, and the old file stays as it was */
    assert_int_equal(output_open(&o, path, &err), 0);
    fputs("replacement", o.out);
    assert_int_equal(output_close(&o, false, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 15);
    assert_int_equal(entries(), 1);
    unlink(path);
    rmdir(dir);
}

static void test_errors_name_the_path(void **state)
{
    (void)state;
    struct output o;
    struct lts_error err;
    assert_int_equal(output_open(&o, "/nonexistent-leaktag-dir/r.txt", &err), -1);
    assert_string_equal(err.message, "/nonexistent-leaktag-dir/r.txt: No such file or directory");
    /* standard output that cannot be written (o.tmp NULL): the flush fails */
    o = (struct output){fopen("/dev/full", "w"), "-", NULL};
    if (!o.out)
        skip();
    fputs("lost", o.out);
    assert_int_equal(output_close(&o, true, &err), -1);
    assert_non_null(strstr(err.message, "failed"));
    fclose(o.out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_or_nothing),
        cmocka_unit_test(test_errors_name_the_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
