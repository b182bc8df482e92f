/* Snapshot cost: N live blocks from S distinct stacks, then leaktag_snapshot() while another
 * thread keeps allocating and measures its worst malloc+free latency.
 *   snapshot_bench BLOCKS STACKS [REQUEST_BYTES]   (under LD_PRELOAD=libleaktag.so)
 * With REQUEST_BYTES, each block is that long and holds an HTTP request with a form body, the
 * article's leaked requests (a census: LEAKTAG_SAMPLES=all copies them all).
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
static size_t request_bytes;
static unsigned long request_seq;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* Text like a real request's: a fixed template around fields that differ per request (ids,
 * a signature, a token of random letters), and one request in 128 with an empty channel. */
static void fill_request(char *p, size_t size, unsigned long seq)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char openid[29], token[65];
    for (int i = 0; i < 28; i++)
        openid[i] = alphabet[mix(seq * 128 + (unsigned)i + 1) & 63];
    openid[28] = 0;
    for (int i = 0; i < 64; i++)
        token[i] = alphabet[mix(seq * 128 + (unsigned)i + 64) & 63];
    token[64] = 0;
    char channel[16] = "";
    if (seq % 128 != 64)
        snprintf(channel, sizeof(channel), "%d", seq % 8 == 7 ? 4099 : 4000 + (int)(seq % 5));
    int n = snprintf(p, size,
                     "POST /api/report HTTP/1.1\r\nHost: itop.example.com\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                     "openid=%s&channelid=%s&areaid=%lu&platid=%lu&partition=%lu&roleid=%llu"
                     "&seq=%lu&ts=%lu&source=h5&access_token=%s&sign=%016llx%016llx"
                     "&extinfo=%%7B%%22device%%22%%3A%%22android%%22%%2C%%22os_ver%%22%%3A%%2212"
                     "%%22%%2C%%22model%%22%%3A%%22SM-G9910%%22%%2C%%22net%%22%%3A%%22wifi%%22%%7D"
                     "&item_list=",
                     openid, channel, 1 + seq % 2, seq % 3, 1000 + seq % 97,
                     76500000000ULL + mix(seq) % 100000000ULL, seq, 1635134468UL + seq / 2000,
                     token, (unsigned long long)mix(seq * 3), (unsigned long long)mix(seq * 5));
    for (unsigned i = 0; n > 0 && (size_t)n + 16 < size; i++)
        n += snprintf(p + n, size - (size_t)n, "%lu%%3A%u%%7C", 10001 + (seq + i * 7) % 500,
                      1 + i % 9);
}
NOINLINE static void *step_a(unsigned n, int depth);
NOINLINE static void *step_b(unsigned n, int depth);
NOINLINE static void *descend(unsigned n, int depth)
{
    if (depth == 0) {
        if (request_bytes) {
            char *p = malloc(request_bytes);
            if (p)
                fill_request(p, request_bytes, request_seq++);
            return p;
        }
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
    __asm__ __volatile__("nop" ::: "memory"); /* not the same code as step_a: never folded */
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
    if (argc < 3 || argc > 4 || !leaktag_snapshot) {
        fprintf(stderr,
                "usage: LD_PRELOAD=libleaktag.so snapshot_bench BLOCKS STACKS [REQUEST_BYTES]\n");
        return 2;
    }
    long blocks = atol(argv[1]);
    unsigned stacks = (unsigned)atol(argv[2]);
    request_bytes = argc == 4 ? (size_t)atol(argv[3]) : 0;
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
    /* Baselines: NO_SNAPSHOT=1 sleeps instead, NO_SNAPSHOT=busy burns a core instead (what a
     * snapshot's CPU alone costs the other thread on a small machine), for BASELINE_SECONDS
     * (default 0.1). */
    const char *baseline = getenv("NO_SNAPSHOT"), *seconds = getenv("BASELINE_SECONDS");
    double length = seconds ? atof(seconds) : 0.1;
    int rc = 0;
    if (!baseline) {
        rc = leaktag_snapshot("bench");
    } else if (!strcmp(baseline, "busy")) {
        for (double until = now() + length; now() < until;)
            __asm__ __volatile__("" ::: "memory");
    } else {
        usleep((useconds_t)(length * 1e6));
    }
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
