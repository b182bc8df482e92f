/* group.h — turns snapshots into the report's groups: live blocks grouped by stack, call
 * site, function or thread name, with exact counts, bytes, ages, the threads involved, the
 * byte samples and their strings and regex matches; and, over several snapshots of one
 * program, each group's growth. Keys are module-relative, so snapshots of different runs of
 * the same binaries (other addresses, other stack ids) line up. Part of the model (model.h):
 * it reads the frames and names the model derived from each snapshot. */
#ifndef GROUP_H
#define GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "error.h"
#include "frames.h"
#include "reader.h"
#include "symbolize.h"

struct retention;

enum group_by { GROUP_BY_STACK, GROUP_BY_SITE, GROUP_BY_FUNCTION, GROUP_BY_THREAD };

struct group_options {
    enum group_by by;
    const struct content_regex *grep; /* counted in each group's samples */
    uint64_t min_age_cs;              /* only blocks at least this old */
};

/* One snapshot with what the model derives from it (model.c fills it; grouping adds
 * stack_bytes, stack_blocks and stack_lost). */
struct analysis {
    const char *path;
    struct lts_snapshot *snap;
    struct symbolizer *sym;
    struct frames *frames;                 /* every stack's frames, after --fold */
    const struct lts_block **sample_block; /* per sample: the live block it is of, or NULL */
    uint64_t *stack_when;                  /* per stack: when its newest block was allocated
                                              (snapshot clock), SYM_ANY_TIME without one */
    char (*families)[40];                  /* per thread record: its name family */
    const char **start_functions;          /* per thread record: its start routine, or NULL */
    uint64_t sample_interval;              /* 0: every block recorded */
    double *stack_bytes;                   /* per stack: live bytes (after --min-age),
                                              weighted when sampled */
    double *stack_blocks;                  /* per stack: live blocks, the same way */
    uint64_t *stack_lost;                  /* per stack: lost bytes (definitely or
                                              indirectly; 0 without a scan) */
    uint64_t heap_lo, heap_hi;             /* from the lowest block to the end of the
                                              highest (model.c; only with samples) */
};

struct thread_share {
    const char *name;
    uint32_t threads;       /* distinct threads of that name with blocks in the group */
    uint64_t blocks, bytes; /* estimates in a sampled snapshot */
    double est_blocks, est_bytes;
};

struct group_sample {
    const struct lts_sample *sample;
    const struct lts_block *block; /* NULL: freed before the scan reached it */
    uint8_t *bytes;                /* census.c: a copy of the first `kept` bytes of the
                                      samples a renderer shows, NULL for the others */
    uint32_t kept;
};

/* A reachability scan's split of some blocks: valgrind's four categories (enum
 * lt_reach_verdict) and the blocks allocated after the scan's copy. */
#define REACH_NOT_SCANNED LT_VERDICT_COUNT
#define REACH_KINDS (LT_VERDICT_COUNT + 1)
struct reach_split {
    uint64_t blocks[REACH_KINDS], bytes[REACH_KINDS];
};

struct group {
    char *key;
    /* Where the group is shown from: the newest snapshot it appears in. */
    const struct analysis *from;
    uint32_t stack;          /* representative stack (most bytes); UINT32_MAX: none (by thread) */
    uint64_t blocks, bytes;  /* exact; in a sampled snapshot, unbiased estimates */
    uint64_t sampled_blocks; /* blocks actually recorded (= blocks unless sampled) */
    double est_blocks, est_bytes;
    uint32_t min_age_cs, max_age_cs;
    struct thread_share *threads;
    size_t nthreads;
    struct group_sample *samples;
    size_t nsamples;
    /* What the samples hold, counted over all of them for the shown groups (census.c);
     * NULL for the others. */
    struct content_histogram *strings;      /* bounded */
    struct content_histogram *shapes;       /* strings with digit runs as '#', bounded */
    struct content_fields *fields;          /* the words at each offset */
    struct content_histogram *matches;      /* --grep: every match */
    struct content_histogram *match_blocks; /* --grep: each match once per block it is in */
    uint64_t grep_searched, grep_matched;   /* --grep: samples searched, and with a match */
    /* Over several snapshots, oldest first; a group absent from one counts 0 there. */
    uint64_t *series_bytes, *series_blocks;
    int64_t delta_bytes, delta_blocks; /* newest minus oldest */
    bool grew_every_interval;
    /* The reachability split, when the newest snapshot of the group has a scan; with
     * several snapshots, lost bytes (definitely + indirectly) in each, and their growth. */
    bool has_reach;
    struct reach_split reach;
    uint64_t reach_example;     /* one reachable block of the group (0: none) */
    struct retention *retained; /* why it is alive (model.c, for shown groups), or NULL */
    uint64_t *series_lost_bytes;
    int64_t delta_lost_bytes;
};

struct grouping {
    struct group *groups;
    size_t ngroups;
    size_t nsnapshots;
    uint64_t live_bytes, live_blocks; /* of the newest snapshot, after --min-age (estimates
                                         when it is sampled) */
    uint64_t sample_interval;         /* of the newest snapshot: 0 = every block recorded */
    bool has_reach;                   /* the newest snapshot has a reachability scan */
    struct reach_split reach;         /* its totals */
};

/* The scan's state of the block at addr in s (enum lt_reach_verdict), REACH_NOT_SCANNED
 * for a block allocated after it, or -1 when s has no successful scan. */
int group_reach_state(const struct lts_snapshot *s, uint64_t addr);
static inline bool group_has_scan(const struct lts_snapshot *s)
{
    return s->nreach_scan && s->reach_scan[0].status == 0;
}
/* Definitely or indirectly lost: what the reports call lost. */
static inline bool reach_state_lost(int state)
{
    return state == LT_VERDICT_DEFINITELY_LOST || state == LT_VERDICT_INDIRECTLY_LOST;
}
static inline uint64_t reach_lost_bytes(const struct reach_split *r)
{
    return r->bytes[LT_VERDICT_DEFINITELY_LOST] + r->bytes[LT_VERDICT_INDIRECTLY_LOST];
}

/* The weight of one recorded block of `size` bytes: 1, or in a snapshot sampled every
 * `interval` bytes on average, 1 / P(sampled) = 1 / (1 - exp(-size / interval)). */
double group_block_weight(uint64_t size, uint64_t interval);

/* Live blocks and bytes of a snapshot: its exact counters, or estimates if it is sampled. */
void group_live_totals(const struct lts_snapshot *s, uint64_t *blocks, uint64_t *bytes);

/* Groups the blocks of one snapshot (n == 1) or compares several of one program, oldest
 * first (n >= 2; groups then hold the newest figures plus the series). Returns 0 or -1 with
 * err filled. */
int group_build(struct analysis *snaps, size_t n, const struct group_options *opt,
                struct grouping *out, struct lts_error *err);

/* Sorts: by bytes descending; with several snapshots, leak suspects (grew in every
 * interval) first, then by growth. */
void group_sort(struct grouping *g);

void group_free(struct grouping *g);

#endif
