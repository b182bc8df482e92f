/* mallheap.h — glibc malloc's heap read from its chunk headers alone, no debug symbols: the
 * main arena found in libc's data by its shape, the other arenas by its list, each arena's
 * heaps walked chunk by chunk; chunks that headers call in use but that sit in a thread's
 * tcache or an arena's fastbin found by following those lists; mmapped chunks found at the
 * starts of anonymous mappings. On a heap that changes under the walk (a live scan without
 * --freeze) a chunk that fails a check is skipped and counted, never followed. */
#ifndef SCAN_MALLHEAP_H
#define SCAN_MALLHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "target.h"

/* The chunks of one usable size (what malloc_usable_size says of them). */
struct heap_class {
    uint64_t usable;
    uint64_t chunks;  /* in use */
    uint64_t mmapped; /* of those, mmapped ones */
    uint64_t cached;  /* free in a tcache or fastbin (not in chunks) */
};

struct heap_arena {
    uint64_t address; /* its malloc_state */
    bool main;
    unsigned heaps;
    uint64_t bytes; /* its heaps' bytes walked */
    uint64_t top;   /* the top chunk's bytes */
};

struct heap_census {
    bool glibc; /* false: not glibc's heap; `why` says what it is */
    char why[320];
    struct heap_arena *arenas;
    size_t narenas;
    uint64_t heap_bytes;                /* the arenas' heaps, as walked */
    uint64_t inuse_chunks, inuse_bytes; /* usable bytes of chunks in use, caches excluded */
    uint64_t free_chunks, free_bytes;   /* free by their headers, and the cached ones */
    uint64_t largest_free;
    uint64_t cached_chunks, cached_bytes; /* in tcaches and fastbins */
    uint64_t tcaches, tcache_chunks, fastbin_chunks;
    bool fastbins_read;       /* false: the arenas' fastbins could not be followed */
    uint64_t unchecked_small; /* chunks of fastbin and tcache sizes whose status is unknown */
    uint64_t top_bytes;
    uint64_t mmapped_chunks, mmapped_bytes;
    uint64_t overhead_bytes;                /* headers, arena and heap records, tcache structs */
    uint64_t invalid_chunks, skipped_bytes; /* chunks that failed a check, bytes skipped */
    bool changed_under_walk;    /* some of them read otherwise after the walk: --freeze helps */
    struct heap_class *classes; /* most bytes (usable x chunks) first */
    size_t nclasses;
    struct heap_walk *walk; /* what heap_each_chunk walks again */
};

/* The census of t's glibc heap. Returns 0 (c->glibc false when the heap is not glibc's, or
 * malloc never ran), or -1 with err when out of memory. */
int heap_census(struct target *t, struct heap_census *c, struct lts_error *err);

/* Walks the heap again and calls fn with each in-use chunk (not cached) whose usable size is
 * one of sizes[] (bytes: its usable bytes, read from the target; n may be shorter where the
 * read came back short). Returns the chunks visited. */
typedef void (*heap_chunk_fn)(uint64_t address, uint64_t usable, const uint8_t *bytes, size_t n,
                              void *ctx);
uint64_t heap_each_chunk(struct target *t, const struct heap_census *c, const uint64_t *sizes,
                         size_t nsizes, heap_chunk_fn fn, void *ctx);

/* Walks the heap again and calls fn with every chunk in use, not cached (nor a tcache: those
 * are malloc's own), in address order within each arena heap. Returns the chunks visited,
 * 0 when out of memory. */
typedef void (*heap_inuse_fn)(uint64_t address, uint64_t usable, void *ctx);
uint64_t heap_each_inuse(struct target *t, const struct heap_census *c, heap_inuse_fn fn,
                         void *ctx);

/* Is path glibc's libc (libc.so.6, libc-2.NN.so), whose data holds the main arena? */
bool heap_libc_path(const char *path);

void heap_census_free(struct heap_census *c);

#endif
