/* A known heap for sampled mode: N1 blocks of 100 bytes, N2 of 3000, N3 of 65536, from three
 * call sites, then one snapshot. Run with LEAKTAG_SAMPLE set; the test checks the report's
 * estimates against N1, N2, N3 within bounds derived from the sampling variance.
 * Usage: sampled_target N1 N2 N3 */
#include <stdio.h>
#include <stdlib.h>

#include "leaktag.h"

#define NOINLINE __attribute__((noinline))
static void *volatile sink;

NOINLINE static void small_site(long n)
{
    for (long i = 0; i < n; i++)
        sink = malloc(100);
    __asm__ __volatile__("" ::: "memory");
}

NOINLINE static void medium_site(long n)
{
    for (long i = 0; i < n; i++)
        sink = malloc(3000);
    __asm__ __volatile__("" ::: "memory");
}

NOINLINE static void large_site(long n)
{
    for (long i = 0; i < n; i++)
        sink = malloc(65536);
    __asm__ __volatile__("" ::: "memory");
}

int main(int argc, char **argv)
{
    if (argc != 4 || !leaktag_snapshot || !leaktag_stats) {
        fprintf(stderr, "usage: LD_PRELOAD=libleaktag.so LEAKTAG_SAMPLE=... sampled_target N1 N2 N3\n");
        return 2;
    }
    /* interleaved, as a program would, rather than one site after the other */
    long n[3] = {atol(argv[1]), atol(argv[2]), atol(argv[3])};
    long step[3] = {n[0] / 100, n[1] / 100, n[2] / 100};
    for (int round = 0; round < 100; round++) {
        small_site(step[0]);
        medium_site(step[1]);
        large_site(step[2]);
    }
    struct leaktag_stats st = {.struct_size = sizeof(st)};
    if (leaktag_stats(&st) != 0 || !st.sample_interval)
        return 1;
    return leaktag_snapshot("sampled") != 0;
}
