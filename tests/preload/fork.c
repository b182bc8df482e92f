/* fork() in a multithreaded program under the shim: threads hammer malloc/free while the
 * main thread forks repeatedly; each child keeps allocating, sees exactly the blocks it
 * inherited plus its own, and exits cleanly; the parent's counts are undisturbed. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "check.h"

static _Atomic int stop, go;

static void *hammer(void *arg)
{
    (void)arg;
    while (!atomic_load(&go))
        sched_yield();
    void *keep[64] = {0};
    unsigned long i = 0;
    while (!atomic_load(&stop)) {
        unsigned k = i++ % 64;
        free(keep[k]);
        keep[k] = malloc(16 + i % 3000); /* many stacks' worth of sizes, table growth */
    }
    for (int k = 0; k < 64; k++)
        free(keep[k]);
    return NULL;
}

int main(void)
{
    fprintf(stderr, "fork: start\n");
    /* Threads exist before the baseline: creating one allocates glibc blocks of its own. */
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    struct leaktag_stats base = lt_test_stats();
    atomic_store(&go, 1);
    void *mine = malloc(12345);

    for (int round = 0; round < 40; round++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            /* Only this thread exists here. Its own allocations and frees must work. */
            struct leaktag_stats before = lt_test_stats();
            void *blocks[1000];
            for (int i = 0; i < 1000; i++)
                blocks[i] = malloc(100);
            struct leaktag_stats mid = lt_test_stats();
            if (mid.live_blocks != before.live_blocks + 1000)
                _exit(2);
            for (int i = 0; i < 1000; i++)
                free(blocks[i]);
            free(mine); /* inherited, still known */
            struct leaktag_stats after = lt_test_stats();
            if (after.live_blocks != before.live_blocks - 1 ||
                after.unknown_frees != before.unknown_frees)
                _exit(3);
            if (after.threads_alive != 1)
                _exit(4);
            /* a thread in the child works too */
            pthread_t ct;
            if (pthread_create(&ct, NULL, hammer, NULL))
                _exit(5);
            atomic_store(&stop, 1);
            pthread_join(ct, NULL);
            _exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork: child round %d failed: status %d\n", round, status);
            return 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    free(mine);
    struct leaktag_stats s = lt_test_stats();
    CHECK_EQ(s.live_blocks, base.live_blocks);
    CHECK_EQ(s.live_bytes, base.live_bytes);
    CHECK_EQ(s.unknown_frees, base.unknown_frees);
    fprintf(stderr, "fork: ok\n");
    return 0;
}
