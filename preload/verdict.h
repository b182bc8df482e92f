/* verdict.h — the reachability verdict on the live process (LEAKTAG_REACH): every other
 * thread is stopped with ptrace, its registers taken, a copy-on-write image of the process
 * forked and the threads let go at once; the copy finds the blocks in its frozen tables, its
 * roots in its own maps, runs the mark (reach.h) and hands back a state per block.
 *
 * The results live in a shared mapping owned by the caller until lt_verdict_free. */
#ifndef LT_VERDICT_H
#define LT_VERDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "format.h"
#include "reach.h"

/* What the scan found, or why there is no verdict. */
struct lt_verdict {
    int status;        /* 0: the arrays below are valid; else -errno */
    const char *why;   /* when status != 0: a phrase ("ptrace not permitted", ...) */
    uint64_t pause_ns; /* application threads stopped, first stop to last release */
    uint64_t fork_ns;  /* of which the copy-on-write fork */
    uint64_t scan_ns;  /* the mark, in the copy */
    uint64_t bytes_scanned;
    uint32_t threads; /* threads stopped */
    uint32_t retries; /* rounds of letting threads out of leaktag's hooks before the copy */
    uint32_t nroots;
    uint64_t n;     /* blocks scanned */
    uint64_t *addr; /* sorted */
    uint8_t *state; /* enum lt_reach_verdict */
    uint32_t *via;  /* index into addr, LT_REACH_VIA_ROOT | root, or LT_REACH_VIA_NONE */
    uint64_t *via_addr;
    struct lt_reach_root *roots;

    /* the mapping behind it all */
    void *map;
    uint64_t map_bytes;
};

/* What the verdict needs of the loaded objects, read once at start-up (LEAKTAG_REACH), when
 * no application thread can hold the loader's lock. */
void lt_verdict_init(void);

/* The thread a snapshot is taken for, which waits in leaktag meanwhile: not stopped, and its
 * stack is a root from sp up (its application frames; 0: it has none, leaktag's own thread).
 * The verdict may be taken in another thread of leaktag's (the files thread). */
struct lt_verdict_caller {
    pid_t tid;     /* 0: the thread taking the verdict is the caller */
    uint64_t sp;   /* where its application frames begin, 0 if none */
    uint64_t here; /* an address inside its stack */
};

/* Takes the verdict for *caller. Fills *v; v->status says whether it worked. */
void lt_verdict_take(struct lt_verdict *v, const struct lt_verdict_caller *caller);
void lt_verdict_free(struct lt_verdict *v);

#endif
