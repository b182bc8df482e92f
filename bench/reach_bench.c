/* The reachability verdict's cost (issue 14): BLOCKS live blocks of BYTES in all (touched,
 * so that a fork has every page table to copy), nine in ten reachable from a global array,
 * THREADS threads allocating and freeing while SNAPSHOTS snapshots with LEAKTAG_REACH=1 are
 * taken; their worst malloc+free is what the application notices.
 *   reach_bench BLOCKS BYTES THREADS SNAPSHOTS   (under LD_PRELOAD=libleaktag.so)
 * Prints: the median time of a plain fork() of this process (the floor of any pause made of
 * one), the worst malloc+free in the allocating threads during the snapshots (us), and the
 * median seconds of one leaktag_snapshot() call. bench/run.py reads the scan's own figures
 * from the snapshots. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leaktag.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *volatile *volatile kept; /* the global root */
static _Atomic int phase;             /* 1: measuring, 2: stop */
static _Atomic uint64_t worst_ns;

static void *allocator(void *arg)
{
    (void)arg;
    void *ring[256] = {0};
    for (unsigned k = 0; atomic_load(&phase) < 2; k++) {
        double t0 = now();
        free(ring[k % 256]);
        ring[k % 256] = malloc(64 + k % 512);
        uint64_t dt = (uint64_t)((now() - t0) * 1e9);
        uint64_t w = atomic_load(&worst_ns);
        while (atomic_load(&phase) == 1 && dt > w && !atomic_compare_exchange_weak(&worst_ns, &w, dt)) {
        }
    }
    for (int i = 0; i < 256; i++)
        free(ring[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 || !leaktag_snapshot) {
        fprintf(stderr, "usage: LD_PRELOAD=libleaktag.so reach_bench BLOCKS BYTES THREADS "
                        "SNAPSHOTS\n");
        return 2;
    }
    long blocks = atol(argv[1]), threads = atol(argv[3]), snapshots = atol(argv[4]);
    double bytes = atof(argv[2]);
    long avg = (long)(bytes / (double)blocks);
    kept = calloc((size_t)blocks, sizeof(void *));
    uint64_t rng = 88172645463325252ull;
    for (long i = 0; i < blocks; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t size = (size_t)(avg / 2 + (long)(rng % (uint64_t)(avg + 1)));
        char *p = malloc(size);
        memset(p, (int)(i & 0x7f), size);
        if (i > 0 && size >= 16)
            memcpy(p, (const void *)&kept[i - 1], sizeof(void *)); /* some pointers inside */
        kept[i] = i % 10 ? p : NULL; /* one in ten is dropped: lost */
    }
    sleep(1); /* leaktag's thread finishes the table growth the fill asked for */

    double forks[5];
    for (int i = 0; i < 5; i++) {
        double t0 = now();
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        forks[i] = now() - t0;
        waitpid(pid, NULL, 0);
    }
    qsort(forks, 5, sizeof(double), by_value);

    pthread_t t[64];
    if (threads > 64)
        threads = 64;
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, allocator, NULL);
    usleep(100000);
    atomic_store(&phase, 1);
    double took[64];
    if (snapshots > 64)
        snapshots = 64;
    int failed = 0;
    for (long i = 0; i < snapshots; i++) {
        double t0 = now();
        failed += leaktag_snapshot("bench") != 0;
        took[i] = now() - t0;
    }
    atomic_store(&phase, 2);
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    qsort(took, (size_t)snapshots, sizeof(double), by_value);
    printf("%.3f %.0f %.3f\n", forks[2] * 1e3, atomic_load(&worst_ns) / 1e3,
           snapshots ? took[snapshots / 2] : 0.0);
    return failed != 0;
}
