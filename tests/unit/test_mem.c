/* Unit tests of mem.c, leaktag's own memory: page-rounded zeroed mappings counted while
 * mapped and listed for the verdict to leave out of its roots; LEAKTAG_MAX_MEMORY refusing
 * a mapping with one line, once, and errno untouched; snapshot scratch and start-up not held
 * to the cap; a stack with a guard page below it. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem.h"
#include "options.h"

struct listed {
    uint64_t lo, hi;
    bool found;
};

static void find(uint64_t lo, uint64_t hi, void *ctx)
{
    struct listed *l = ctx;
    l->found |= lo == l->lo && hi == l->hi;
}

static bool is_listed(const void *p, size_t bytes)
{
    struct listed l = {(uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)p + bytes, false};
    lt_mem_each_mapping(find, &l);
    return l.found;
}

static void test_counted_and_listed(void **state)
{
    (void)state;
    uint64_t before = lt_mem_in_use();
    unsigned char *p = lt_mem_map(5000); /* two pages */
    assert_non_null(p);
    assert_int_equal(lt_mem_in_use() - before, 8192);
    for (size_t i = 0; i < 8192; i++)
        assert_int_equal(p[i], 0);
    assert_true(is_listed(p, 8192));
    lt_mem_unmap(p, 5000);
    assert_int_equal(lt_mem_in_use(), before);
    assert_false(is_listed(p, 8192));
    lt_mem_unmap(NULL, 100); /* nothing */
}

/* What stderr receives while the cap refuses mappings. */
static char said[4096];

static void test_cap(void **state)
{
    (void)state;
    lt_opt.max_memory = lt_mem_in_use() + 3 * 4096;
    void *a = lt_mem_map(2 * 4096);
    assert_non_null(a);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    int saved = dup(2);
    dup2(pipefd[1], 2);
    errno = 1234;
    void *b = lt_mem_map(2 * 4096); /* past the cap */
    int errno_after = errno;
    void *c = lt_mem_map(4096 * 4); /* again: no second line */
    dup2(saved, 2);
    close(saved);
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], said, sizeof(said) - 1);
    close(pipefd[0]);
    said[n > 0 ? n : 0] = '\0';
    assert_null(b);
    assert_null(c);
    assert_int_equal(errno_after, 1234);
    assert_non_null(strstr(said, "leaktag: leaktag's own memory ran out ("));
    assert_non_null(strstr(said, "would pass LEAKTAG_MAX_MEMORY"));
    assert_ptr_equal(strchr(said, '\n'), said + strlen(said) - 1); /* one line */

    void *scratch = lt_mem_map_scratch(16 * 4096); /* a snapshot's buffers: not capped */
    assert_non_null(scratch);
    lt_mem_unmap(scratch, 16 * 4096);
    lt_mem_starting(true); /* start-up's fixed structures: not capped either */
    void *fixed = lt_mem_map(16 * 4096);
    lt_mem_starting(false);
    assert_non_null(fixed);
    lt_mem_unmap(fixed, 16 * 4096);
    lt_mem_unmap(a, 2 * 4096);
    lt_opt.max_memory = 0;
    void *d = lt_mem_map(64 * 4096); /* no cap */
    assert_non_null(d);
    lt_mem_unmap(d, 64 * 4096);
}

static void test_stack_has_a_guard(void **state)
{
    (void)state;
    uint64_t before = lt_mem_in_use();
    char *top = lt_mem_map_stack(64 * 1024);
    assert_non_null(top);
    assert_int_equal((uintptr_t)top % 4096, 0);
    assert_int_equal(lt_mem_in_use(), before); /* address space, not memory held */
    top[-1] = 1;                               /* the stack's first byte, from the top */
    top[-64 * 1024] = 1;                       /* its last */
    assert_true(is_listed(top - 64 * 1024 - 4096, 64 * 1024 + 4096));
    pid_t child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: the fault must end the child */
        top[-64 * 1024 - 1] = 1;  /* the guard page */
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counted_and_listed),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_stack_has_a_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
