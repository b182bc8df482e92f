/* A single-threaded program with a million live blocks: leaktag starts no thread of its own
 * here, so the allocating thread grows the table itself. Sizes repeat like a real request
 * loop's (glibc then hands out addresses in a repeating stride pattern, which once made the
 * table rebuild the same crowded shard forever). Every block must be counted, every free
 * found, and the run must finish well inside the test's timeout. */
#include "check.h"

#define N 1000000
static void *blocks[N];

int main(void)
{
    struct leaktag_stats base = lt_test_stats();
    for (int i = 0; i < N; i++)
        CHECK((blocks[i] = malloc(16 + i % 64)) != NULL);
    struct leaktag_stats s = lt_test_stats();
    CHECK_EQ(s.live_blocks - base.live_blocks, N);
    CHECK_EQ(s.untracked_blocks, 0);
    CHECK(s.tracker_bytes / N <= 64); /* about 42 bytes per block */
    for (int i = 0; i < N; i += 2)
        free(blocks[i]);
    for (int i = 1; i < N; i += 2)
        free(blocks[i]);
    struct leaktag_stats after = lt_test_stats();
    CHECK_EQ(after.live_blocks, base.live_blocks);
    CHECK_EQ(after.unknown_frees, base.unknown_frees);
    return 0;
}
