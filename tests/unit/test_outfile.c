/* Unit tests of outfile.c, where a snapshot goes: the LEAKTAG_OUTPUT template's %e %p %n %%
 * (and a % that is not ours kept), relative templates from the starting directory, the
 * temporary ".NAME.tmp-PID-NONCE" file (0600) that is renamed into place only on commit, a
 * failed write that leaves nothing, removal only of the file that was written, and the sweep
 * of what a killed writer left: only a stale, ownerless, snapshot-looking regular file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "format.h"
#include "outfile.h"

static char dir[] = "/tmp/leaktag-test-outfile-XXXXXX";

static bool exists(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* A leftover temporary file, minutes old, owned by pid, holding content. */
static void leftover(const char *name, const char *content, size_t n, int minutes_old)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    struct timeval old[2];
    gettimeofday(&old[0], NULL);
    old[0].tv_sec -= minutes_old * 60;
    old[1] = old[0];
    assert_int_equal(utimes(path, old), 0);
}

static pid_t dead_pid(void)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    return child;
}

/* Must run first: a process sweeps a directory at its first snapshot, then once a minute. */
static void test_sweep_of_leftovers(void **state)
{
    (void)state;
    char gone[128], alive[128], young[128], other[128], notours[128];
    pid_t dead = dead_pid();
    snprintf(gone, sizeof(gone), ".x.lts.tmp-%d-0123456789abcdef", (int)dead);
    snprintf(alive, sizeof(alive), ".y.lts.tmp-%d-0123456789abcdef", (int)getppid());
    snprintf(young, sizeof(young), ".z.lts.tmp-%d-0123456789abcdef", (int)dead);
    snprintf(other, sizeof(other), ".w.lts.tmp-%d-0123456789abcdef", (int)dead);
    snprintf(notours, sizeof(notours), ".v.lts.tmp-%d-0123456789abcdeX", (int)dead);
    leftover(gone, LT_FORMAT_MAGIC "rest", LT_FORMAT_MAGIC_SIZE + 4, 5);
    leftover(alive, LT_FORMAT_MAGIC, LT_FORMAT_MAGIC_SIZE, 5); /* its writer still runs */
    leftover(young, "", 0, 0);                                  /* written just now */
    leftover(other, "not a snapshot", 14, 5);                   /* someone else's file */
    leftover(notours, "", 0, 5);                                /* not our name's shape */
    struct lt_outfile f;
    assert_int_equal(lt_outfile_open(&f, "first.lts", 1), 0);
    lt_outfile_abort(&f);
    assert_false(exists(gone));
    assert_true(exists(alive));
    assert_true(exists(young));
    assert_true(exists(other));
    assert_true(exists(notours));
}

static void test_template_and_commit(void **state)
{
    (void)state;
    struct lt_outfile f;
    assert_int_equal(lt_outfile_open(&f, "snap.%e.%p.%n.%%.%x.lts", 7), 0);
    char want[512];
    snprintf(want, sizeof(want), "%s/snap.test_outfile.%d.7.%%.%%x.lts", dir, (int)getpid());
    assert_string_equal(f.path, want);
    /* the temporary: same directory, ".NAME.tmp-PID-" and 16 hex digits, 0600 */
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "%s/.snap.test_outfile.%d.7.%%.%%x.lts.tmp-%d-", dir,
             (int)getpid(), (int)getpid());
    assert_int_equal(strncmp(f.tmp_path, prefix, strlen(prefix)), 0);
    assert_int_equal(strlen(f.tmp_path), strlen(prefix) + 16);
    struct stat st;
    assert_int_equal(stat(f.tmp_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(access(f.path, F_OK), -1); /* nothing under the name yet */
    assert_int_equal(write(f.fd, "LEAKTAG", 7), 7);
    assert_int_equal(lt_outfile_commit(&f, 0), 0);
    assert_int_equal(stat(f.path, &st), 0);
    assert_int_equal(st.st_size, 7);
    assert_int_equal(access(f.tmp_path, F_OK), -1);
    assert_true(f.ino == st.st_ino && f.dev == st.st_dev);

    /* removal: only the file that was written, not one put there since */
    uint64_t dev = f.dev, ino = f.ino;
    char moved[sizeof(f.path) + 8];
    snprintf(moved, sizeof(moved), "%s.kept", f.path);
    assert_int_equal(rename(f.path, moved), 0);
    int fd = open(f.path, O_WRONLY | O_CREAT | O_EXCL, 0600); /* another file, same name */
    assert_true(fd >= 0);
    close(fd);
    lt_outfile_remove(f.path, dev, ino);
    assert_int_equal(access(f.path, F_OK), 0);
    unlink(f.path);
    assert_int_equal(rename(moved, f.path), 0);
    lt_outfile_remove(f.path, dev, ino);
    assert_int_equal(access(f.path, F_OK), -1);
}

static void test_failures_leave_nothing(void **state)
{
    (void)state;
    struct lt_outfile f;
    assert_int_equal(lt_outfile_open(&f, "broken.lts", 1), 0);
    assert_int_equal(lt_outfile_commit(&f, -EIO), -EIO); /* the writer's error counts */
    assert_false(exists("broken.lts"));
    assert_int_equal(access(f.tmp_path, F_OK), -1);
    assert_int_equal(lt_outfile_open(&f, "aborted.lts", 1), 0);
    lt_outfile_abort(&f);
    assert_false(exists("aborted.lts"));
    assert_int_equal(access(f.tmp_path, F_OK), -1);
    assert_int_equal(lt_outfile_open(&f, "/nonexistent-leaktag-dir/x.lts", 1), -ENOENT);
    char huge[5000];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(lt_outfile_open(&f, huge, 1), -ENAMETOOLONG);
}

static void test_relative_templates(void **state)
{
    (void)state;
    char out[512], want[512];
    lt_outfile_template(out, sizeof(out), "leaktag.%p.lts");
    snprintf(want, sizeof(want), "%s/leaktag.%%p.lts", dir);
    assert_string_equal(out, want);
    lt_outfile_template(out, sizeof(out), "/var/tmp/x.lts");
    assert_string_equal(out, "/var/tmp/x.lts");
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
    return 0;
}

int main(void)
{
    if (!mkdtemp(dir) || chdir(dir) != 0)
        return 1;
    lt_outfile_init(); /* the starting directory: dir */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_of_leftovers),
        cmocka_unit_test(test_template_and_commit),
        cmocka_unit_test(test_failures_leave_nothing),
        cmocka_unit_test(test_relative_templates),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
