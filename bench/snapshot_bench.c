/* Snapshot cost: N live blocks from S distinct stacks, then leaktag_snapshot() while another
 * thread keeps allocating and measures its worst malloc+free latency.
 *   snapshot_bench BLOCKS STACKS   (under LD_PRELOAD=libleaktag.so)
 * Prints: seconds to write, file bytes, bytes per live block, worst stall in microseconds,
 * the stall percentile 99.9 and the number of malloc/free pairs timed during the snapshot.
 * Also usable for the report's speed (the file is kept: LEAKTAG_OUTPUT names it). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "leaktag.h"

#define NOINLINE __attribute__((noinline))

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 14 levels of two different functions: the path taken encodes n, so up to 16384 stacks. */
static void *volatile sink;
NOINLINE static void *step_a(unsigned n, int depth);
NOINLINE static void *step_b(unsigned n, int depth);
NOINLINE static void *descend(unsigned n, int depth)
{
    if (depth == 0) {
        void *p = malloc(16 + n % 200);
        if (p)
            memset(p, 'a' + n % 26, 16);
        return p;
    }
    void *p = n & 1 ? step_a(n >> 1, depth - 1) : step_b(n >> 1, depth - 1);
    __asm__ __volatile__("" ::: "memory");
    return p;
}
NOINLINE static void *step_a(unsigned n, int depth)
{
    void *p = descend(n, depth);
    __asm__ __volatile__("" ::: "memory");
    return p;
}
NOINLINE static void *step_b(unsigned n, int depth)
{
    void *p = descend(n, depth);
    __asm__ __volatile__("" ::: "memory");
    return p;
}

static _Atomic int phase; /* 1: measuring, 2: stop */
static double worst;
static unsigned long timed;
static unsigned long buckets[64]; /* latency histogram, 1 us buckets up to 63 us */

static void *allocator(void *arg)
{
    (void)arg;
    void *ring[256] = {0};
    unsigned k = 0;
    while (atomic_load(&phase) < 2) {
        double t0 = now();
        free(ring[k % 256]);
        ring[k % 256] = malloc(64 + k % 512);
        double dt = now() - t0;
        if (atomic_load(&phase) == 1) {
            if (dt > worst)
                worst = dt;
            buckets[(unsigned)(dt * 1e6) < 63 ? (unsigned)(dt * 1e6) : 63]++;
            timed++;
        }
        k++;
    }
    for (int i = 0; i < 256; i++)
        free(ring[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || !leaktag_snapshot) {
        fprintf(stderr, "usage: LD_PRELOAD=libleaktag.so snapshot_bench BLOCKS STACKS\n");
        return 2;
    }
    long blocks = atol(argv[1]);
    unsigned stacks = (unsigned)atol(argv[2]);
    int depth = 0;
    while ((1u << depth) < stacks)
        depth++;
    for (long i = 0; i < blocks; i++)
        sink = descend((unsigned)(i % stacks), depth);
    /* Let leaktag's thread finish the table growth the fill asked for: we measure the
     * snapshot, not growth (2 cores: a third busy thread would steal the allocator's). */
    sleep(1);
    pthread_t t;
    pthread_create(&t, NULL, allocator, NULL);
    usleep(100000);
    atomic_store(&phase, 1);
    double t0 = now();
    int rc = getenv("NO_SNAPSHOT") ? (usleep(100000), 0) : leaktag_snapshot("bench");
    double took = now() - t0;
    atomic_store(&phase, 2);
    pthread_join(t, NULL);
    if (rc != 0)
        return 1;
    /* The file is LEAKTAG_OUTPUT with %n = 1: find it through the environment. */
    const char *out = getenv("SNAPSHOT_FILE");
    struct stat st = {0};
    if (out)
        stat(out, &st);
    unsigned long below = 0, p999 = 63;
    for (unsigned b = 0; b < 64; b++) {
        below += buckets[b];
        if (below * 1000 >= timed * 999) {
            p999 = b + 1;
            break;
        }
    }
    printf("%.3f %lld %.1f %.0f %lu %lu\n", took, (long long)st.st_size,
           (double)st.st_size / (double)blocks, worst * 1e6, p999, timed);
    return 0;
}
