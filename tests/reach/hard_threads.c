/* The verdict with threads that are hard to stop or many: every thread holds the only
 * reference to its own block (site_held) in a stack variable and then waits — in a system
 * call with every signal blocked, in a futex, or spinning without a call — and the main
 * thread drops 2,000 blocks (site_dropped). A verdict must hold every site_held
 * block reachable and every site_dropped block definitely lost; test_hard_threads.py checks
 * that in each mode, and after a fork in the child.
 *   hard_threads blocked|spinning|many [fork]
 * many: 1,000 threads. The snapshot is taken by leaktag_snapshot() from the main thread. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaktag.h"

#define NOINLINE __attribute__((noinline))
#define DROPPED 2000 /* more than an allocator's thread cache keeps stale pointers to */

static _Atomic int ready, stop;
static int pipe_fds[2];
static const char *mode;

static NOINLINE void *site_held(void)
{
    return malloc(96);
}

static NOINLINE void *site_dropped(void)
{
    return malloc(48);
}

static void *thread_main(void *arg)
{
    (void)arg;
    void *volatile mine = site_held();
    if (!strcmp(mode, "blocked")) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        atomic_fetch_add(&ready, 1);
        char c;
        /* blocked in read(2) with every signal blocked, until main writes */
        if (read(pipe_fds[0], &c, 1) < 0)
            perror("read");
    } else if (!strcmp(mode, "spinning")) {
        atomic_fetch_add(&ready, 1);
        while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        }
    } else {
        atomic_fetch_add(&ready, 1);
        while (!atomic_load(&stop))
            usleep(1000);
    }
    (void)mine;
    return NULL;
}

static int snapshot(void)
{
    return leaktag_snapshot ? leaktag_snapshot("hard-threads") : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: hard_threads blocked|spinning|many [fork]\n");
        return 2;
    }
    mode = argv[1];
    int n = !strcmp(mode, "many") ? 1000 : 4;
    if (pipe(pipe_fds) != 0)
        return 1;
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], &attr, thread_main, NULL) != 0)
            return 1;
    while (atomic_load(&ready) < n)
        usleep(1000);
    for (int i = 0; i < DROPPED; i++)
        site_dropped();
    int rc;
    if (argc > 2 && !strcmp(argv[2], "fork")) {
        /* the child has only this thread: the others' blocks are held by no one there */
        pid_t pid = fork();
        if (pid == 0)
            _exit(snapshot() != 0);
        int status;
        waitpid(pid, &status, 0);
        rc = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    } else {
        rc = snapshot() != 0;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++)
        if (write(pipe_fds[1], "x", 1) != 1)
            return 1;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return rc;
}
