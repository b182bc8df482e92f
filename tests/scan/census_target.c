/* census_target.c — a heap whose census glibc itself states: the program builds it, prints
 * mallinfo2() as one line of JSON ("mallinfo {...}") and waits for SIGTERM, for
 * leaktag-scan to count the same heap from its chunk headers (test_scan.py Census).
 *   census_target single    chunks of many sizes, some freed (tcache, fastbins, bins)
 *   census_target fork      1,000 chunks, a fork, 19,000 more in the child, which reports:
 *                           its brk heap is two mappings (the kernel keeps the part grown
 *                           after the fork apart)
 *   census_target arenas    four threads, each with chunks in an arena of its own
 *   census_target mmapped   chunks past the mmap threshold, and a few small ones
 *   census_target maps      the executable mapped 40 more times at offset 0, as PostgreSQL
 *                           maps its libraries and shared memory (modules, not the heap) */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile kept[40000];
static volatile sig_atomic_t stop;
static pthread_barrier_t arenas_ready;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* Written without stdio's buffer: nothing may be allocated after mallinfo2 (a large request
 * would even consolidate the fastbins). */
static void report(const char *mode)
{
    struct mallinfo2 m = mallinfo2();
    char line[512];
    int n = snprintf(line, sizeof(line),
                     "mallinfo {\"mode\": \"%s\", \"pid\": %d, \"arena\": %zu, "
                     "\"ordblks\": %zu, \"smblks\": %zu, \"hblks\": %zu, \"hblkhd\": %zu, "
                     "\"fsmblks\": %zu, \"uordblks\": %zu, \"fordblks\": %zu, \"keepcost\": %zu}\n",
                     mode, (int)getpid(), m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd,
                     m.fsmblks, m.uordblks, m.fordblks, m.keepcost);
    if (write(STDOUT_FILENO, line, (size_t)n) != n)
        exit(1);
}

/* SIGTERM blocked but inside sigsuspend: one that comes between the test and the wait (a
 * scan with --freeze letting the process go restarts the wait) would leave a pause() waiting
 * for good. */
static void hold(void)
{
    sigset_t term, others;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &others);
    while (!stop)
        sigsuspend(&others);
    sigprocmask(SIG_SETMASK, &others, NULL);
}

/* n chunks of sizes that cycle through small, middle and larger ones; every seventh freed
 * again (tcache, then fastbins and bins once a size's tcache holds seven). */
static void allocate(size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++) {
        kept[i] = malloc(16 + (i * 37) % 1500);
        memset(kept[i], (int)i, 16);
    }
    for (size_t i = from; i < from + n; i += 7) {
        free(kept[i]);
        kept[i] = NULL;
    }
}

static void *arena_thread(void *arg)
{
    allocate((size_t)(uintptr_t)arg, 2000);
    pthread_barrier_wait(&arenas_ready);
    hold();
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    signal(SIGTERM, on_term);
    if (!strcmp(mode, "single")) {
        allocate(0, 5000);
    } else if (!strcmp(mode, "fork")) {
        allocate(0, 1000);
        pid_t child = fork();
        if (child == 0) {
            allocate(1000, 19000);
            report(mode);
            hold();
            return 0;
        }
        hold(); /* the child reports; the parent ends it when told to end */
        kill(child, SIGTERM);
        int status;
        waitpid(child, &status, 0);
        return 0;
    } else if (!strcmp(mode, "arenas")) {
        pthread_barrier_init(&arenas_ready, NULL, 5);
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, arena_thread, (void *)(uintptr_t)(2000 * (i + 1)));
        allocate(0, 2000);
        pthread_barrier_wait(&arenas_ready);
    } else if (!strcmp(mode, "mmapped")) {
        for (int i = 0; i < 12; i++)
            kept[i] = malloc(200000 + 4096 * (size_t)i);
        allocate(100, 300);
    } else if (!strcmp(mode, "maps")) {
        int fd = open("/proc/self/exe", O_RDONLY);
        for (int i = 0; fd >= 0 && i < 40; i++)
            mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
        allocate(0, 1000);
    } else {
        fprintf(stderr, "usage: census_target single|fork|arenas|mmapped|maps\n");
        return 2;
    }
    report(mode);
    hold();
    return 0;
}
