/* heap_fill — a heap of many small chunks for leaktag-scan to census, without the shim:
 * chunks of SIZE bytes until MIB mebibytes are in use, every tenth freed again (free lists
 * to find), then "ready N" and a wait for SIGTERM.
 *
 *     heap_fill MIB SIZE */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atol(argv[1]) <= 0 || atol(argv[2]) <= 0) {
        fprintf(stderr, "usage: heap_fill MIB SIZE\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    size_t size = (size_t)atol(argv[2]);
    size_t n = ((size_t)atol(argv[1]) << 20) / size;
    void **kept = malloc(n * sizeof(*kept));
    if (!kept)
        return 1;
    for (size_t i = 0; i < n; i++) {
        kept[i] = malloc(size);
        if (!kept[i])
            return 1;
        memset(kept[i], (int)(i & 0x7f) | 0x20, size < 16 ? size : 16);
    }
    for (size_t i = 0; i < n; i += 10) {
        free(kept[i]);
        kept[i] = NULL;
    }
    printf("ready %zu\n", n - (n + 9) / 10);
    fflush(stdout);
    /* SIGTERM blocked but inside sigsuspend: one that comes between the test and the wait
     * (leaktag-scan --freeze letting the process go restarts the wait) would leave a pause()
     * waiting for good, and bench/run.py with it */
    sigset_t term, others;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &others);
    while (!stop)
        sigsuspend(&others);
    return 0;
}
