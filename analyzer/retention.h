/* retention.h — why a reachable block is still alive: one chain of references from a root
 * (a global, a thread's stack or registers) to it, read from the `via` of a snapshot's
 * reachability scan (docs/FORMAT.md, REACH). What valgrind does not give and a growing
 * cache or list needs: which global holds it, through which blocks. */
#ifndef RETENTION_H
#define RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "reader.h"

#define RETENTION_LINKS 12

struct retention_link {
    uint64_t addr;                 /* a block on the chain */
    const struct lts_block *block; /* its record in BLOCKS, NULL if freed since the scan */
    uint64_t word;                 /* where the reference to the next link (or to the
                                     example) lies inside this block */
};

struct retention {
    const struct lts_reach_root *root; /* NULL: no root at the end (a damaged file) */
    uint64_t root_word;                /* where the root's reference lies (0: a register) */
    struct retention_link links[RETENTION_LINKS]; /* root side first; the last is the example */
    size_t nlinks;
    size_t hops; /* links in all: when more than nlinks, the middle
                                          ones were left out after links[nlinks / 2 - 1] */
};

/* Blocks of s by address, to find a chain's blocks: an array of n pointers, sorted. NULL
 * when out of memory. */
const struct lts_block **retention_index(const struct lts_snapshot *s);

/* The chain that keeps the reachable block at addr alive. 0, or -1 when s has no scan, the
 * block is not in it or was not reached from a root. */
int retention_trace(const struct lts_snapshot *s, const struct lts_block **index, uint64_t addr,
                    struct retention *out);

/* "global g_sessions+0x8 (spp_worker)", "the stack of thread handler (tid 1234)", ... */
struct symbolizer;
void retention_root_name(const struct lts_snapshot *s, struct symbolizer *sym,
                         const struct retention *r, char *buf, size_t size);

#endif
