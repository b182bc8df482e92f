/* stackcache.h — a per-thread cache of whole allocation stacks, validated against the live
 * stack: an entry remembers, for a (caller, address of the return-address slot) pair, every
 * frame's return address and where it sits on the stack. If all those slots still hold
 * the same return addresses, the call chain is the same and no unwinding is needed — about
 * one load per frame instead of a DWARF step.
 *
 * Reads only the calling thread's own stack, inside the bounds it was created with, at
 * addresses above the current frame: always mapped. Never allocates on a hit. */
#ifndef LT_STACKCACHE_H
#define LT_STACKCACHE_H

#include <stdint.h>
#include <string.h>

#include "compiler.h"
#include "options.h"

/* Set-associative: different call chains often reach the same caller at the same depth (the
 * same key), and a direct-mapped cache would make them evict each other on every call. */
#define LT_STACKCACHE_SETS 16
#define LT_STACKCACHE_WAYS 4
#define LT_STACKCACHE_ENTRIES (LT_STACKCACHE_SETS * LT_STACKCACHE_WAYS)
#define LT_STACKCACHE_MISS UINT32_MAX

struct lt_stackcache_entry {
    uint64_t caller;
    uint64_t slot0; /* address of frame 0's return address (the hook's return slot) */
    uint32_t id;    /* stack table id */
    uint32_t depth;
    /* then depth x uint64_t return addresses and depth x uint32_t slot offsets from slot0 */
};

struct lt_stackcache {
    uint32_t stride;     /* bytes per entry */
    uint32_t max_depth;
    uint32_t next_victim; /* round-robin replacement within a set */
    uint64_t stack_lo, stack_hi; /* the thread's stack: entries never point outside it */
    size_t map_bytes;
    char entries[];
};

static inline unsigned lt_stackcache_set(uint64_t caller, uint64_t slot0)
{
    uint64_t h = (caller ^ (slot0 << 7)) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 60) & (LT_STACKCACHE_SETS - 1);
}

static inline struct lt_stackcache_entry *lt_stackcache_entry(const struct lt_stackcache *c,
                                                              unsigned i)
{
    return (struct lt_stackcache_entry *)(c->entries + (size_t)i * c->stride);
}

/* The id of the stack at (caller, slot0) if the stack still holds it, else MISS. */
static inline uint32_t lt_stackcache_find(const struct lt_stackcache *c, uint64_t caller,
                                          const uint64_t *slot0)
{
    unsigned first = lt_stackcache_set(caller, (uint64_t)slot0) * LT_STACKCACHE_WAYS;
    for (unsigned way = 0; way < LT_STACKCACHE_WAYS; way++) {
        const struct lt_stackcache_entry *e = lt_stackcache_entry(c, first + way);
        if (e->caller != caller || e->slot0 != (uint64_t)slot0)
            continue;
        const uint64_t *ips = (const uint64_t *)(e + 1);
        const uint32_t *offsets = (const uint32_t *)(ips + c->max_depth);
        const char *base = (const char *)slot0;
        uint32_t i = 1;
        for (; i < e->depth; i++) {
            uint64_t now;
            /* a plain 8-byte read of our own stack, whatever object lives there now (the
             * builtin: the shim is compiled with -fno-builtin, and a libc call here would
             * cost more than the whole check) */
            __builtin_memcpy(&now, base + offsets[i], sizeof(now));
            if (now != ips[i])
                break;
        }
        if (i == e->depth)
            return e->id;
    }
    return LT_STACKCACHE_MISS;
}

/* A cache for the calling thread whose stack is [lo, hi); NULL when out of memory. */
struct lt_stackcache *lt_stackcache_new(uint64_t lo, uint64_t hi);
void lt_stackcache_free(struct lt_stackcache *c);

/* Remembers a freshly unwound stack: frames[i] is the return address stored at slots[i]. */
void lt_stackcache_store(struct lt_stackcache *c, uint64_t caller, const uint64_t *frames,
                         const uint64_t *slots, unsigned depth, uint32_t id);

#endif
