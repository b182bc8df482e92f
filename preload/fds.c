/* fds.c — moving leaktag's descriptors out of the application's way.
 *
 * They sit just below the soft RLIMIT_NOFILE, close-on-exec: pipe2's wrapper moves the pipe
 * libunwind opens from inside leaktag. */
#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"

/* Programs take descriptors from the bottom (the kernel hands out the lowest free one);
 * leaktag's sit just below the soft limit, where only a program that uses nearly all of
 * its descriptors reaches. */
static int high_base(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1000;
    long limit = rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
    return limit > 128 ? (int)(limit - 64) : (int)(limit / 2);
}

static int move_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, high_base());
    if (high < 0)
        return fd; /* no room up there: it stays where it is */
    close(fd);
    return high;
}

int lt_fds_pipe2(int fds[2], int flags)
{
    int rc = lt_real_system()->pipe2(fds, flags | O_CLOEXEC);
    if (rc != 0)
        return rc;
    int saved_errno = errno;
    fds[0] = move_high(fds[0]);
    fds[1] = move_high(fds[1]);
    errno = saved_errno;
    return 0;
}
