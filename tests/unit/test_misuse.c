/* Unit tests of misuse.c: one entry per (type, sites, kinds) with its count, a table that
 * fills at LT_MISUSE_MAX and says so once, and the lock across fork: a child can record
 * while the parent's lock was held at the fork. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kind.h"
#include "misuse.h"

static struct lt_misuse list[LT_MISUSE_MAX + 8];

static void test_sites_counted(void **state)
{
    (void)state;
    assert_int_equal(lt_misuse_list(list, LT_MISUSE_MAX), 0);
    for (int i = 0; i < 3; i++) /* delete of a new[]: the same site three times */
        lt_misuse_note(LT_MISUSE_MISMATCH, 7, 9, LT_KIND_NEW_ARRAY, LT_RELEASE_DELETE);
    lt_misuse_note(LT_MISUSE_MISMATCH, 7, 9, LT_KIND_NEW_ARRAY, LT_RELEASE_FREE);
    lt_misuse_note(LT_MISUSE_UNKNOWN_FREE, UINT32_MAX, 12, LT_KIND_COUNT, LT_RELEASE_FREE);
    assert_int_equal(lt_misuse_list(list, LT_MISUSE_MAX), 3);
    assert_int_equal(list[0].type, LT_MISUSE_MISMATCH);
    assert_int_equal(list[0].alloc_stack, 7);
    assert_int_equal(list[0].release_stack, 9);
    assert_int_equal(list[0].alloc_kind, LT_KIND_NEW_ARRAY);
    assert_int_equal(list[0].release_kind, LT_RELEASE_DELETE);
    assert_int_equal(list[0].count, 3);
    assert_int_equal(list[1].release_kind, LT_RELEASE_FREE);
    assert_int_equal(list[1].count, 1);
    assert_int_equal(list[2].type, LT_MISUSE_UNKNOWN_FREE);
    assert_int_equal(list[2].count, 1);
    /* a short list: the first entries, and how many there are */
    memset(list, 0, sizeof(list));
    assert_int_equal(lt_misuse_list(list, 1), 3);
    assert_int_equal(list[0].count, 3);
    assert_int_equal(list[1].count, 0);
}

static char said[4096];

static void test_table_fills(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    int saved = dup(2);
    dup2(pipefd[1], 2);
    for (uint32_t i = 0; i < LT_MISUSE_MAX + 5; i++)
        lt_misuse_note(LT_MISUSE_UNKNOWN_FREE, UINT32_MAX, 1000 + i, LT_KIND_COUNT,
                       LT_RELEASE_FREE);
    dup2(saved, 2);
    close(saved);
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], said, sizeof(said) - 1);
    close(pipefd[0]);
    said[n > 0 ? n : 0] = '\0';
    assert_int_equal(lt_misuse_list(list, LT_MISUSE_MAX + 8), LT_MISUSE_MAX);
    assert_string_equal(said, "leaktag: more than 1024 distinct misuse sites; later ones are only "
                              "counted\n");
    /* a site already in the table still counts */
    lt_misuse_note(LT_MISUSE_MISMATCH, 7, 9, LT_KIND_NEW_ARRAY, LT_RELEASE_DELETE);
    lt_misuse_list(list, LT_MISUSE_MAX);
    assert_int_equal(list[0].count, 4);
}

static void test_fork_with_the_lock_held(void **state)
{
    (void)state;
    lt_misuse_fork_prepare(); /* as pthread_atfork does: the lock is held across fork */
    pid_t child = fork();
    if (child == 0) {
        alarm(5); /* stuck on the lock: ends, and the parent sees a signal, not a hang */
        lt_misuse_fork_child();
        lt_misuse_note(LT_MISUSE_MISMATCH, 7, 9, LT_KIND_NEW_ARRAY, LT_RELEASE_DELETE);
        lt_misuse_list(list, 1);
        _exit(list[0].count == 5 ? 0 : 1);
    }
    lt_misuse_fork_parent();
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    lt_misuse_list(list, 1);
    assert_int_equal(list[0].count, 4); /* the child's note is the child's */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites_counted),
        cmocka_unit_test(test_table_fills),
        cmocka_unit_test(test_fork_with_the_lock_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
