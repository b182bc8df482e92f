/* Unit tests of fds.c, leaktag's descriptors kept high: lt_fds_pipe2's pair sits just below
 * the soft RLIMIT_NOFILE (the test sets the limit), close-on-exec whatever the flags asked,
 * with the flags' O_NONBLOCK kept, a working pipe, and the low descriptors the kernel first
 * gave it free again (the program's next descriptor is the one it would get without
 * leaktag); with no room up there, the pair stays where it is and errno is untouched. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "fds.h"

static struct rlimit saved_limit;

static int setup(void **state)
{
    (void)state;
    return getrlimit(RLIMIT_NOFILE, &saved_limit);
}

static int teardown(void **state)
{
    (void)state;
    return setrlimit(RLIMIT_NOFILE, &saved_limit);
}

static void set_soft_limit(rlim_t soft)
{
    struct rlimit rl = saved_limit;
    if (rl.rlim_max != RLIM_INFINITY && soft > rl.rlim_max)
        skip(); /* the hard limit is lower than the case needs */
    rl.rlim_cur = soft;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* The lowest free descriptor, as the kernel hands them out. */
static int lowest_free(void)
{
    int fd = dup(0);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

static void assert_pipe_works(const int fds[2])
{
    char byte = 'x', got = 0;
    assert_int_equal(write(fds[1], &byte, 1), 1);
    assert_int_equal(read(fds[0], &got, 1), 1);
    assert_int_equal(got, 'x');
}

static void test_high_and_cloexec(void **state)
{
    (void)state;
    /* A common soft limit: the pair in its top 64 descriptors. */
    set_soft_limit(1024);
    int first = lowest_free();
    int fds[2] = {-1, -1};
    assert_int_equal(lt_fds_pipe2(fds, 0), 0);
    for (int i = 0; i < 2; i++) {
        assert_true(fds[i] >= 1024 - 64 && fds[i] < 1024);
        assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC); /* not asked for: given anyway */
    }
    assert_true(fds[0] != fds[1]);
    assert_pipe_works(fds);
    assert_int_equal(lowest_free(), first); /* the kernel's first choice is free again */
    close(fds[0]);
    close(fds[1]);

    /* The flags asked for hold on the moved pair (O_NONBLOCK belongs to the open file,
     * which the new descriptors share). */
    assert_int_equal(lt_fds_pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    char byte;
    for (int i = 0; i < 2; i++) {
        assert_true(fds[i] >= 1024 - 64);
        assert_true(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
    }
    errno = 0;
    assert_int_equal(read(fds[0], &byte, 1), -1); /* empty and nonblocking */
    assert_int_equal(errno, EAGAIN);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(lowest_free(), first);
}

static void test_small_limit(void **state)
{
    (void)state;
    /* A limit of 100: no 64 to spare above the program's, so the upper half. */
    set_soft_limit(100);
    int first = lowest_free();
    int fds[2];
    assert_int_equal(lt_fds_pipe2(fds, 0), 0);
    for (int i = 0; i < 2; i++)
        assert_true(fds[i] >= 50 && fds[i] < 100);
    assert_pipe_works(fds);
    assert_int_equal(lowest_free(), first);
    close(fds[0]);
    close(fds[1]);
}

static void test_no_room_up_there(void **state)
{
    (void)state;
    /* Limit 20: leaktag's room is 10..19. Fill it; the pair keeps the kernel's low numbers,
     * and the failed move leaves errno as it was. */
    set_soft_limit(20);
    int taken[20], ntaken = 0;
    for (int fd = 10; fd < 20; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            assert_int_equal(dup2(0, fd), fd);
            taken[ntaken++] = fd;
        }
    int first = lowest_free();
    if (first + 1 >= 10)
        skip(); /* this runner holds too many low descriptors for the case */
    int fds[2];
    errno = 1234;
    assert_int_equal(lt_fds_pipe2(fds, 0), 0);
    assert_int_equal(errno, 1234);
    assert_int_equal(fds[0], first);
    assert_true(fds[1] > first && fds[1] < 10);
    assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
    assert_pipe_works(fds);
    close(fds[0]);
    close(fds[1]);
    for (int i = 0; i < ntaken; i++)
        close(taken[i]);
}

static void test_failure_passed_on(void **state)
{
    (void)state;
    /* No descriptor at all: pipe2's own failure, -1 and EMFILE, as the program would see. */
    int open_now = lowest_free();
    set_soft_limit((rlim_t)open_now);
    int fds[2] = {-7, -7};
    errno = 0;
    int rc = lt_fds_pipe2(fds, 0);
    int err = errno;
    set_soft_limit(saved_limit.rlim_cur);
    assert_int_equal(rc, -1);
    assert_int_equal(err, EMFILE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_and_cloexec),
        cmocka_unit_test(test_small_limit),
        cmocka_unit_test(test_no_room_up_there),
        cmocka_unit_test(test_failure_passed_on),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
