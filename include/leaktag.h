/* leaktag.h — the public API of libleaktag.so, for programs that want to look at their own
 * heap while they run under the shim (LD_PRELOAD=libleaktag.so).
 *
 * A program does not need to link against anything: the functions are declared weak, so
 * they are NULL when the shim is not loaded and the program runs unchanged:
 *
 *     struct leaktag_stats st = { .struct_size = sizeof(st) };
 *     if (leaktag_stats && leaktag_stats(&st) == 0)
 *         printf("%llu live blocks\n", (unsigned long long)st.live_blocks);
 *
 * All functions return 0 or a negative errno value and never allocate through malloc. */
#ifndef LEAKTAG_H
#define LEAKTAG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct leaktag_stats {
    uint32_t struct_size;       /* in: sizeof(struct leaktag_stats) as the caller knows it */
    uint32_t version;           /* out: 1 */
    uint64_t live_blocks;       /* blocks allocated and not yet freed */
    uint64_t live_bytes;        /* their requested sizes */
    uint64_t peak_live_bytes;   /* highest live_bytes seen (to within 64 KiB per thread) */
    uint64_t allocations;       /* tracked allocations since start */
    uint64_t frees;             /* frees of tracked blocks */
    uint64_t unknown_frees;     /* frees of pointers leaktag never saw allocated */
    uint64_t mismatches;        /* free of new, delete of malloc, delete of new[] ... */
    uint64_t untracked_blocks;  /* not tracked because leaktag's own memory ran out */
    uint64_t threads_seen;      /* threads that ever allocated */
    uint64_t threads_alive;
    uint64_t stacks;            /* distinct allocation stacks (a snapshot's COUNTERS
                                   `stacks` also counts the empty stack, id 0) */
    uint64_t tracker_bytes;     /* memory leaktag itself holds (tables, stacks, registry) */
    uint64_t snapshots;         /* snapshots written by this process */
    uint64_t sample_interval;   /* LEAKTAG_SAMPLE: 0 = every block is recorded; otherwise the
                                   block counts above are of sampled blocks only */
};

/* Fills *out with the current counters. -EINVAL if out is NULL or struct_size too small. */
int leaktag_stats(struct leaktag_stats *out) __attribute__((weak));

/* Writes a snapshot now, while the calling thread waits (leaktag's files thread writes it,
 * where it runs), to the path LEAKTAG_OUTPUT names; reason
 * (NULL or "": "api"; its first 63 bytes) is stored in it. Returns 0, or -errno when the file could not be written
 * (the reason was also printed as one "leaktag:" line on stderr). */
int leaktag_snapshot(const char *reason) __attribute__((weak));

#ifdef __cplusplus
}
#endif

#endif
