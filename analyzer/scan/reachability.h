/* reachability.h — the verdict on a process that never had the shim: which in-use chunks of
 * its glibc heap nothing points at any more, in valgrind memcheck's four categories, per size
 * class and in all; and for the classes holding most reachable bytes, one chain of references
 * from a root to a chunk of theirs ("cache or leak?"). The mark and the roots are the shim's
 * own (preload/reach.h): the same rules on a frozen process or a core as in the shim's
 * verdict. The blocks are the chunks with their usable size (the requested size is not
 * kept by glibc): words in a chunk's slack are scanned too. */
#ifndef SCAN_REACHABILITY_H
#define SCAN_REACHABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mallheap.h"
#include "modules.h"
#include "reach.h"
#include "target.h"

#define REACH_RETAINED_CLASSES 5 /* the classes with most reachable bytes get a chain */
#define REACH_CHAIN_KEPT 12      /* links of a chain shown; the middle ones are left out */

struct reach_count {
    uint64_t chunks, bytes;
};

/* One chain, as found while the target was still: the root and the chunks on the way. */
struct reach_chain {
    struct lt_reach_root root;
    uint64_t root_word; /* where the root's reference lies (0: a register) */
    uint64_t frame_pc;  /* a stack root: a code address in the frame holding it, or 0 */
    int tls_tid;        /* the root word is in that thread's TLS or descriptor (0: not) */
    int64_t from_tp;    /* and this far from its thread pointer */
    uint64_t chunk[REACH_CHAIN_KEPT]; /* the first half and the last of them */
    uint64_t usable[REACH_CHAIN_KEPT];
    uint64_t word[REACH_CHAIN_KEPT]; /* where in chunk[k] the reference to the next lies */
    size_t nkept, hops;              /* hops > nkept: links left out after nkept / 2 */
};

struct reach_class {
    uint64_t usable;
    struct reach_count state[LT_VERDICT_COUNT]; /* by enum lt_reach_verdict */
    struct reach_chain *chain;                  /* for the REACH_RETAINED_CLASSES, or NULL */
    char **retained_by;                         /* the chain in words, root first */
    size_t nsteps;
};

struct reachability {
    bool taken; /* false: `why` says why there is no verdict */
    char why[320];
    char caveat[320]; /* a verdict given, and what may make some of it wrong ("" none) */
    uint64_t blocks, roots, bytes_scanned;
    double seconds; /* the walk for the blocks and the mark */
    struct reach_count total[LT_VERDICT_COUNT];
    struct reach_class *classes; /* by usable size */
    size_t nclasses;
    uint64_t *lost; /* definitely and indirectly lost chunks, sorted */
    size_t nlost;
};

/* The verdict on t's heap, whose census is c (t frozen, or a core). 0 with out->taken false
 * and why set when none can be given; -1 with err when out of memory. */
int reachability_take(struct target *t, const struct heap_census *c, struct reachability *out,
                      struct lts_error *err);
/* The chains in words ("global g_cache+0x8 (server)", ...), once the modules are known. -1
 * when out of memory. */
int reachability_describe(struct reachability *rc, struct target *t, struct scan_modules *m);

/* The class of that usable size, or NULL. */
const struct reach_class *reachability_class(const struct reachability *rc, uint64_t usable);
/* A category in words: "definitely lost", ... */
const char *reachability_category(enum lt_reach_verdict v);
/* The classes with a chain, most reachable bytes first, into out (REACH_RETAINED_CLASSES
 * entries); how many. */
size_t reachability_retained(const struct reachability *rc, const struct reach_class **out);
/* Up to max classes, most lost bytes (definitely and indirectly) first, then most possibly
 * lost, then most reachable: the order a verdict's table is read in. How many. */
size_t reachability_ranked(const struct reachability *rc, const struct reach_class **out,
                           size_t max);
/* The chunk at addr was definitely or indirectly lost. */
bool reachability_lost(const struct reachability *rc, uint64_t addr);
/* The class's lost (definitely and indirectly) chunks and bytes. */
struct reach_count reachability_lost_in(const struct reach_class *k);

void reachability_free(struct reachability *rc);

#endif
