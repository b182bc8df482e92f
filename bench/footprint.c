/* Tracker memory per live block: allocates N blocks in steps and prints, for each step,
 * leaktag's own memory (tables, stacks, registry: leaktag_stats().tracker_bytes) divided
 * by the live blocks. Run under the shim:  footprint 100000 1000000 3000000 */
#include <stdio.h>
#include <stdlib.h>

#include "leaktag.h"

static void *volatile sink;

int main(int argc, char **argv)
{
    if (!leaktag_stats) {
        fprintf(stderr, "footprint: run me under LD_PRELOAD=libleaktag.so\n");
        return 2;
    }
    long have = 0;
    for (int a = 1; a < argc; a++) {
        long want = atol(argv[a]);
        for (; have < want; have++)
            sink = malloc(16 + have % 64);
        struct leaktag_stats s = {.struct_size = sizeof(s)};
        leaktag_stats(&s);
        printf("%llu %llu %.1f\n", (unsigned long long)s.live_blocks,
               (unsigned long long)s.tracker_bytes, (double)s.tracker_bytes / s.live_blocks);
    }
    return 0;
}
