/* A program with a known heap, for leaktag-report's tests. Under the shim it allocates:
 *   alpha:  A blocks of 100 bytes holding "alpha-key=N" (N = 1..A), from alpha_site()
 *   beta:   B blocks of 1000 bytes, from beta_site()
 *   gamma:  3 threads named "worker-1..3", each G blocks of 50 bytes, from gamma_site()
 *   delta:  5 blocks of 77 bytes through a wrapper, xmalloc_wrapper() called by delta_site()
 * then snapshot "one"; then A more alpha blocks, snapshot "two"; A more, snapshot "three".
 * Usage: report_target A B G   (the test computes what the report must say from these) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaktag.h"

#define NOINLINE __attribute__((noinline))

static void *volatile sink;
static int next_key = 1;

NOINLINE static void alpha_site(int n)
{
    for (int i = 0; i < n; i++) {
        char *p = calloc(1, 100);
        snprintf(p, 100, "alpha-key=%d;tag=alpha", next_key++);
        sink = p;
    }
    __asm__ __volatile__("" ::: "memory");
}

NOINLINE static void beta_site(int n)
{
    for (int i = 0; i < n; i++)
        sink = malloc(1000);
    __asm__ __volatile__("" ::: "memory");
}

NOINLINE static void *gamma_site(int n)
{
    for (int i = 0; i < n; i++)
        sink = malloc(50);
    __asm__ __volatile__("" ::: "memory");
    return NULL;
}

static int g_count;

static void *gamma_thread(void *arg)
{
    char name[16];
    snprintf(name, sizeof(name), "worker-%d", (int)(long)arg);
    pthread_setname_np(pthread_self(), name);
    return gamma_site(g_count);
}

NOINLINE void *xmalloc_wrapper(size_t n);
NOINLINE void *xmalloc_wrapper(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    __asm__ __volatile__("" ::: "memory");
    return p;
}

NOINLINE static void delta_site(void)
{
    for (int i = 0; i < 5; i++)
        sink = xmalloc_wrapper(77);
    __asm__ __volatile__("" ::: "memory");
}

int main(int argc, char **argv)
{
    if (argc != 4 || !leaktag_snapshot) {
        fprintf(stderr, "usage: LD_PRELOAD=libleaktag.so report_target A B G\n");
        return 2;
    }
    int a = atoi(argv[1]), b = atoi(argv[2]);
    g_count = atoi(argv[3]);
    static const char *const reasons[] = {"one", "two", "three"};
    for (int round = 0; round < 3; round++) {
        alpha_site(a); /* one call site: the same stack every round, growing */
        if (round == 0) {
            beta_site(b);
            pthread_t t[3];
            for (long i = 0; i < 3; i++)
                pthread_create(&t[i], NULL, gamma_thread, (void *)(i + 1));
            for (int i = 0; i < 3; i++)
                pthread_join(t[i], NULL);
            delta_site();
        }
        if (leaktag_snapshot(reasons[round]) != 0)
            return 1;
    }
    return 0;
}
