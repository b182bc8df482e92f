/* leaktag's own memory capped (LEAKTAG_MAX_MEMORY=8M): past the cap new blocks go untracked,
 * exactly one line says so, the counts stay consistent, the program runs on and a snapshot
 * can still be written. */
#include <fcntl.h>

#include "check.h"

#define N 400000
static void *blocks[N];

int main(void)
{
    /* Capture our own stderr to count leaktag's lines. */
    char log_path[] = "/tmp/leaktag-memcap.XXXXXX";
    int log_fd = mkstemp(log_path);
    CHECK(log_fd >= 0);
    int saved = dup(2);
    dup2(log_fd, 2);

    struct leaktag_stats base = lt_test_stats();
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(16);
    struct leaktag_stats s = lt_test_stats();
    CHECK(s.untracked_blocks > 0);
    CHECK_EQ(s.live_blocks - base.live_blocks + s.untracked_blocks, N);
    CHECK(s.tracker_bytes <= 8u << 20);
    CHECK(leaktag_snapshot("capped") == 0); /* snapshot buffers are not held to the cap */
    char snapshot[64];
    snprintf(snapshot, sizeof(snapshot), "/tmp/leaktag-memcap.%d.lts", (int)getpid());
    CHECK(unlink(snapshot) == 0); /* where the test's LEAKTAG_OUTPUT put it */
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    struct leaktag_stats after = lt_test_stats();
    CHECK_EQ(after.live_blocks, base.live_blocks);
    /* frees of the blocks that could not be tracked look like frees of unknown pointers */
    CHECK_EQ(after.unknown_frees - base.unknown_frees, s.untracked_blocks);

    dup2(saved, 2);
    char text[8192] = {0};
    CHECK(pread(log_fd, text, sizeof(text) - 1, 0) >= 0);
    close(log_fd);
    unlink(log_path);
    int lines = 0;
    for (char *p = text; (p = strstr(p, "leaktag's own memory ran out")); p++)
        lines++;
    if (lines != 1) {
        fprintf(stderr, "expected one out-of-memory line, got %d:\n%s", lines, text);
        return 1;
    }
    fprintf(stderr, "memcap: ok (%llu of %d blocks untracked)\n",
            (unsigned long long)s.untracked_blocks, N);
    return 0;
}
