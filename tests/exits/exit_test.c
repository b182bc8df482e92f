/* A program that ends one way or another, after leaving three blocks live from keep_three():
 *   exit_test HOW     (HOW: return exit _exit _Exit quick_exit abort segv bus fpe ill term
 *                      int quit hup invalid-free double-free, and threads-segv threads-abort
 *                      threads-double-free: 16 threads that pass a barrier, then all do it;
 *                      fork-during-exit: exit() while another thread forks children that
 *                      _exit at once, some while the final snapshot is written)
 * test_exits.py runs it plain and under the shim: it must end the same way, and under the
 * shim leave one snapshot whose reason names the way. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile kept[3];
static volatile int zero;

__attribute__((noinline)) static void keep_three(void)
{
    for (int i = 0; i < 3; i++)
        kept[i] = malloc(1000 + (size_t)i);
}

static void at_end(void)
{
    printf("atexit handler ran\n");
}

/* ---- sixteen threads ending the process at once (LSan's double_free_threaded) ---------- */

#define CRASHERS 16
static pthread_barrier_t start_line;
static char *volatile shared_block;

static void *crasher(void *arg)
{
    const char *how = arg;
    pthread_barrier_wait(&start_line);
    if (!strcmp(how, "threads-segv"))
        *(volatile int *)(uintptr_t)zero = 1;
    else if (!strcmp(how, "threads-abort"))
        abort();
    else
        free(shared_block); /* past tcache's sizes: glibc aborts, double free or corruption */
    return NULL;
}

static void all_at_once(const char *how)
{
    shared_block = malloc(4000);
    pthread_barrier_init(&start_line, NULL, CRASHERS);
    pthread_t t[CRASHERS];
    for (int i = 0; i < CRASHERS; i++)
        pthread_create(&t[i], NULL, crasher, (void *)how);
    for (int i = 0; i < CRASHERS; i++)
        pthread_join(t[i], NULL);
}

/* ---- children forked while the final snapshot is written -------------------------------- */

static void *fork_forever(void *arg)
{
    (void)arg;
    for (;;) {
        pid_t child = fork();
        if (child == 0)
            _exit(0); /* its own final snapshot, at once: nobody else writes one for it */
        if (child > 0)
            waitpid(child, NULL, 0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *how = argv[1];
    keep_three();
    atexit(at_end);
    printf("ending by %s\n", how); /* buffered: lost where the process is killed */
    if (!strcmp(how, "return"))
        return 3;
    if (!strcmp(how, "exit"))
        exit(4);
    fflush(stdout);
    if (!strcmp(how, "_exit"))
        _exit(5);
    if (!strcmp(how, "_Exit"))
        _Exit(6);
    if (!strcmp(how, "quick_exit"))
        quick_exit(7);
    if (!strcmp(how, "abort"))
        abort();
    if (!strcmp(how, "segv"))
        return *(volatile int *)(uintptr_t)zero;
    if (!strcmp(how, "bus")) {
        char path[] = "/tmp/exit_test.XXXXXX";
        int fd = mkstemp(path);
        unlink(path);
        volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0); /* an empty file */
        return p[0];
    }
    if (!strcmp(how, "fpe"))
        return 7 / zero; /* (1 / x is compiled into a comparison, no division) */
    if (!strcmp(how, "ill"))
        __builtin_trap();
    static const struct {
        const char *name;
        int sig;
    } sent[] = {{"term", SIGTERM}, {"int", SIGINT}, {"quit", SIGQUIT}, {"hup", SIGHUP}};
    for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++)
        if (!strcmp(how, sent[i].name)) {
            /* its default action, whatever was inherited (a shell's background job ignores
             * SIGQUIT, nohup SIGHUP: the program would wait here for good) */
            signal(sent[i].sig, SIG_DFL);
            kill(getpid(), sent[i].sig);
            pause();
        }
    if (!strcmp(how, "invalid-free")) {
        char *p = malloc(64);
        free(p + 16); /* glibc aborts: free(): invalid pointer */
    }
    if (!strncmp(how, "threads-", 8))
        all_at_once(how);
    if (!strcmp(how, "fork-during-exit")) {
        pthread_t t;
        pthread_create(&t, NULL, fork_forever, NULL);
        usleep(50000);
        exit(8);
    }
    if (!strcmp(how, "double-free")) {
        char *p = malloc(64);
        free(p);
        free(p); /* glibc aborts: double free detected */
    }
    return 99;
}
