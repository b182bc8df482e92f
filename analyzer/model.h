/* model.h — what leaktag-report knows, computed once from the snapshots it read: for each
 * snapshot its symbolizer, every stack's frames after --fold, the block each byte sample was
 * taken from, the thread name families and start routines; the groups (group.h), sorted, and
 * which of them are shown; the newest snapshot's live totals and thread inventory. The
 * renderers (render.h) only read it. */
#ifndef MODEL_H
#define MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "group.h"

/* JSON's samples per group when --samples is not given. */
#define JSON_SAMPLES_DEFAULT 64

struct model_options {
    struct group_options group;
    const struct content_regex *fold;        /* frames whose function matches are skipped */
    const char *fold_pattern, *grep_pattern; /* as given, for the reader of a report */
    size_t top;                              /* groups shown, 0 = all */
    uint64_t min_bytes;                      /* groups with fewer live bytes are not shown */
    bool lost_only;                          /* --lost: only groups with definitely or indirectly
                                          lost blocks (needs a reachability scan) */
    bool count_contents;                     /* strings, --grep, fields of the shown groups */
    size_t keep_samples;                     /* per shown group: samples whose bytes a renderer
                                          prints (census.h) */
};

/* Threads of one name family with one stack reservation: the article's third case is
 * "91 x router-* 32 MiB stack each". */
struct thread_family {
    char name[40];
    uint64_t stack; /* reservation of each */
    uint32_t count;
    const char *start; /* the first one's start routine, or NULL */
};

struct thread_inventory {
    struct thread_family *families; /* largest reservation first */
    size_t nfamilies;
    size_t alive;      /* application threads alive (leaktag's own excluded) */
    uint64_t reserved; /* their stacks together */
    uint64_t space;    /* what they compete for: RLIMIT_AS, else the ABI's */
    bool space_is_rlimit;
    uint64_t rlimit_stack; /* the default thread stack (ulimit -s), 0 = unknown */
    bool matters;          /* many threads, or stacks taking a real share of space */
};

struct model {
    struct analysis *snaps; /* oldest first; the newest is the one described */
    size_t nsnaps;
    struct model_options opt;
    struct grouping grouping;
    bool *shown;        /* per group after sorting: passes --min-bytes and within --top */
    size_t lost_groups; /* groups with definitely or indirectly lost blocks (a verdict) */
    uint64_t live_blocks, live_bytes; /* newest: exact counters, or estimates when sampled */
    struct thread_inventory threads;  /* newest */
};

/* Builds the model over snapshots the caller has read (each entry's path and snap set,
 * oldest first); the model owns them from here on. warn: where symbolization warnings go.
 * Returns 0, or -1 with err filled; model_free releases what there is either way. */
int model_build(struct model *m, struct analysis *snaps, size_t n, const struct model_options *opt,
                FILE *warn, struct lts_error *err);

void model_free(struct model *m);

/* The snapshot the report describes. */
static inline const struct analysis *model_newest(const struct model *m)
{
    return &m->snaps[m->nsnaps - 1];
}

/* Is group i shown (--top, --min-bytes)? */
static inline bool model_shows(const struct model *m, size_t i)
{
    return m->shown && m->shown[i];
}

#endif
