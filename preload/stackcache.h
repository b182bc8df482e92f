/* stackcache.h — a per-thread cache of whole allocation stacks, validated against the live
 * stack: an entry remembers, for a (caller, address of the return-address slot) pair, every
 * frame's return address and where it sits on the stack. If all those slots still hold
 * the same return addresses, the call chain is the same and no unwinding is needed — about
 * one load per frame instead of a DWARF step.
 *
 * Reads only the calling thread's own stack, inside the bounds it was created with, at
 * addresses above the current frame: always mapped. Never allocates on a hit.
 *
 * The key of a set: the hook's caller, the address of its return-address slot and frame 1's
 * return address, found through the caller's fixed frame size from its CFI rule (remembered
 * per caller), so that one wrapper's (xmalloc's) many callers do not fight over one set. 4-way
 * sets, 16 at first, doubling up to 256 while more than a quarter of a thread's stores replace
 * a valid entry. A miss unwinds (unwind.c); the result is stored only when every slot lies
 * inside the thread's own stack, in order (stackcache.c). */
#ifndef LT_STACKCACHE_H
#define LT_STACKCACHE_H

#include <stdint.h>
#include <string.h>

#include "arch.h"
#include "compiler.h"
#include "options.h"
#include "unwind.h"

/* Set-associative, and the set is chosen by the caller's caller too: one allocation wrapper
 * (palloc, xmalloc) reaches malloc from the same return address at the same depth for each
 * of its callers, and those chains would otherwise compete for the ways of one set. The
 * caller's frame size is remembered per caller (from the last stack stored for it), so the
 * next frame's return address costs one load. */
/* A cache starts with few sets (26 KiB at depth 32) and doubles, up to the maximum, while
 * more than one store in four replaces a valid entry: only a thread that keeps coming back
 * to more stacks than it holds pays for a bigger one. */
#define LT_STACKCACHE_SETS_MIN 16
#define LT_STACKCACHE_SETS_MAX 256
#define LT_STACKCACHE_WAYS 4
#define LT_STACKCACHE_CALLERS 64
#define LT_STACKCACHE_WINDOW 1024 /* stores between two looks at the replacement rate */
#define LT_STACKCACHE_MISS UINT32_MAX

struct lt_stackcache_entry {
    uint64_t caller;
    uint64_t slot0; /* address of frame 0's return address (the hook's return slot) */
    uint32_t id;    /* stack table id */
    uint32_t depth;
    /* then depth x uint64_t return addresses and depth x uint32_t slot offsets from slot0 */
};

/* How far above a return address's slot its caller's return address lies, when that is
 * fixed by the code (the frame's CFA is SP + a constant); 0 when it is not. */
typedef uint32_t (*lt_stackcache_frame_size_fn)(uint64_t return_address);

struct lt_stackcache_caller {
    uint64_t caller;
    uint64_t frame1_offset; /* frame_size(caller), remembered; 0: not fixed */
};

struct lt_stackcache {
    uint32_t stride; /* bytes per entry */
    uint32_t max_depth;
    uint32_t sets;                 /* a power of two */
    uint32_t next_victim;          /* round-robin replacement within a set */
    uint32_t stores, replacements; /* in the current window */
    uint64_t stack_lo, stack_hi;   /* the thread's stack: entries never point outside it */
    size_t map_bytes;
    lt_stackcache_frame_size_fn frame_size;
    struct lt_stackcache_caller callers[LT_STACKCACHE_CALLERS];
    struct lt_unwind_memo memo; /* the thread's last walk (unwind.h), for the next miss */
    char entries[];
};

uint64_t lt_stackcache_caller_slow(struct lt_stackcache *c, uint64_t caller);

/* Frame 1's return address, where the caller's fixed frame size puts it; 0 if not fixed.
 * The same for the store and for every later find: the set depends on nothing else. */
static inline uint64_t lt_stackcache_frame1(struct lt_stackcache *c, uint64_t caller,
                                            uint64_t slot0)
{
    const struct lt_stackcache_caller *k =
        &c->callers[((caller * 0x9E3779B97F4A7C15ull) >> 58) & (LT_STACKCACHE_CALLERS - 1)];
    uint64_t offset = lt_likely(k->caller == caller) ? k->frame1_offset
                                                     : lt_stackcache_caller_slow(c, caller);
    uint64_t at = slot0 + offset;
    if (!offset || at + LT_ARCH_WORD > c->stack_hi || at < slot0)
        return 0;
    return lt_arch_stack_word((const void *)(uintptr_t)at);
}

static inline unsigned lt_stackcache_set(const struct lt_stackcache *c, uint64_t caller,
                                         uint64_t slot0, uint64_t frame1)
{
    uint64_t h = (caller ^ (slot0 << 7) ^ (frame1 << 21 | frame1 >> 43)) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 52) & (c->sets - 1);
}

static inline struct lt_stackcache_entry *lt_stackcache_entry(const struct lt_stackcache *c,
                                                              unsigned i)
{
    return (struct lt_stackcache_entry *)(c->entries + (size_t)i * c->stride);
}

/* The id of the stack at (caller, slot0) if the stack still holds it, else MISS. */
static inline uint32_t lt_stackcache_find(struct lt_stackcache *c, uint64_t caller,
                                          const uint64_t *slot0)
{
    uint64_t frame1 = lt_stackcache_frame1(c, caller, (uintptr_t)slot0);
    unsigned first = lt_stackcache_set(c, caller, (uintptr_t)slot0, frame1) * LT_STACKCACHE_WAYS;
    for (unsigned way = 0; way < LT_STACKCACHE_WAYS; way++) {
        const struct lt_stackcache_entry *e = lt_stackcache_entry(c, first + way);
        if (e->caller != caller || e->slot0 != (uintptr_t)slot0)
            continue;
        const uint64_t *ips = (const uint64_t *)(e + 1);
        const uint32_t *offsets = (const uint32_t *)(ips + c->max_depth);
        const char *base = (const char *)slot0;
        uint32_t i = 1;
        for (; i < e->depth; i++)
            if (lt_arch_stack_word(base + offsets[i]) != ips[i])
                break;
        if (i == e->depth)
            return e->id;
    }
    return LT_STACKCACHE_MISS;
}

/* A cache of `sets` sets for the calling thread whose stack is [lo, hi); NULL when out of
 * memory. */
struct lt_stackcache *lt_stackcache_new(uint64_t lo, uint64_t hi, uint32_t sets,
                                        lt_stackcache_frame_size_fn frame_size);
void lt_stackcache_free(struct lt_stackcache *c);

/* Remembers a freshly unwound stack: frames[i] is the return address stored at slots[i].
 * Returns the number of sets the cache should have now: more than c->sets when it is too
 * small for the stacks its thread comes back to (the owner then replaces it). */
uint32_t lt_stackcache_store(struct lt_stackcache *c, uint64_t caller, const uint64_t *frames,
                             const uint64_t *slots, unsigned depth, uint32_t id);

#endif
