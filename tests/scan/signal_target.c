/* signal_target — counts the real-time signals it is sent while leaktag-scan --freeze stops
 * and releases it, for test_scan.py: a signal that reaches a thread while it is being
 * stopped must be handed back to it, never dropped. Real-time signals queue (none
 * coalesces with another), so every one sent is one handled.
 *
 *     signal_target    prints "ready", counts SIGRTMIN until SIGTERM, prints "handled N"
 *                      (SIGTERM comes before queued real-time signals: the test sends it once
 *                      none is pending) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t handled, stop;

static void on_rt(int sig)
{
    (void)sig;
    handled++;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_rt;
    sigaction(SIGRTMIN, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    /* a heap for the scan to walk */
    for (int i = 0; i < 1000; i++)
        if (!malloc(64))
            return 1;
    /* SIGTERM blocked but inside sigsuspend: one that came between the test and the wait (a
     * scan letting the process go restarts the wait) would leave it waiting for good. The
     * real-time signals are taken at any time: blocked, one per sigsuspend, their queue
     * would fill and the kernel merge what comes after. */
    sigset_t term, others;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &others);
    printf("ready\n");
    fflush(stdout);
    while (!stop)
        sigsuspend(&others);
    printf("handled %d\n", (int)handled);
    return 0;
}
