/* A signal handler that longjmps out of leaktag's malloc hook (jumpy.c raises the signal
 * inside it): tracking must go on afterwards, and the snapshot counts the recoveries.
 * Run with LD_PRELOAD=libleaktag.so:libjumpy.so. */
#include <setjmp.h>
#include <signal.h>

#include "check.h"

void jumpy_arm(int times) __attribute__((weak));

static sigjmp_buf back;
static volatile sig_atomic_t jumps;
void *kept[11];

static void on_signal(int sig)
{
    (void)sig;
    jumps++;
    siglongjmp(back, 1);
}

int main(void)
{
    CHECK(jumpy_arm && leaktag_stats);
    signal(SIGUSR1, on_signal);
    jumpy_arm(5);
    sigsetjmp(back, 1);
    while (jumps < 5)
        kept[0] = malloc(64); /* never returns while armed */
    struct leaktag_stats before = lt_test_stats();
    for (int i = 0; i < 11; i++)
        kept[i] = malloc(100);
    struct leaktag_stats after = lt_test_stats();
    CHECK_EQ(after.live_blocks - before.live_blocks, 11);
    printf("longjmp: %d jumps out of leaktag's hook; the 11 blocks after them are tracked\n",
           (int)jumps);
    return 0;
}
