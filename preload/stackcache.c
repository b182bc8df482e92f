/* stackcache.c — creating per-thread stack caches and filling them after an unwind. Only
 * stacks whose every return-address slot lies inside the thread's own stack, in order, are
 * stored, so a later validation can only ever read that stack. Memory from mmap. */
#include "stackcache.h"

#include "mem.h"

#include <stdbool.h>

struct lt_stackcache *lt_stackcache_new(uint64_t lo, uint64_t hi, uint32_t sets,
                                        lt_stackcache_frame_size_fn frame_size)
{
    uint32_t depth = lt_opt.depth;
    uint32_t stride = (uint32_t)(sizeof(struct lt_stackcache_entry) + depth * sizeof(uint64_t) +
                                 depth * sizeof(uint32_t));
    stride = (stride + 7) & ~7u;
    size_t bytes = sizeof(struct lt_stackcache) + (size_t)stride * sets * LT_STACKCACHE_WAYS;
    struct lt_stackcache *c = lt_mem_map(bytes);
    if (!c)
        return NULL;
    c->stride = stride;
    c->max_depth = depth;
    c->sets = sets;
    c->frame_size = frame_size;
    c->stack_lo = lo;
    c->stack_hi = hi;
    c->map_bytes = bytes;
    return c;
}

void lt_stackcache_free(struct lt_stackcache *c)
{
    if (c)
        lt_mem_unmap(c, c->map_bytes);
}

uint64_t lt_stackcache_caller_slow(struct lt_stackcache *c, uint64_t caller)
{
    struct lt_stackcache_caller *k =
        &c->callers[((caller * 0x9E3779B97F4A7C15ull) >> 58) & (LT_STACKCACHE_CALLERS - 1)];
    k->frame1_offset = c->frame_size ? c->frame_size(caller) : 0;
    k->caller = caller;
    return k->frame1_offset;
}

uint32_t lt_stackcache_store(struct lt_stackcache *c, uint64_t caller, const uint64_t *frames,
                             const uint64_t *slots, unsigned depth, uint32_t id)
{
    if (!depth || depth > c->max_depth || frames[0] != caller)
        return c->sets;
    uint64_t slot0 = slots[0];
    for (unsigned i = 0; i < depth; i++) {
        /* inside our stack, above the previous slot, and holding what was unwound */
        if (slots[i] < c->stack_lo || slots[i] + LT_ARCH_WORD > c->stack_hi ||
            (i && slots[i] <= slots[i - 1]) || slots[i] - slot0 > UINT32_MAX ||
            lt_arch_stack_word((const void *)(uintptr_t)slots[i]) != frames[i])
            return c->sets;
    }
    unsigned first = lt_stackcache_set(c, caller, slot0, lt_stackcache_frame1(c, caller, slot0)) *
                     LT_STACKCACHE_WAYS;
    struct lt_stackcache_entry *e = NULL;
    for (unsigned way = 0; way < LT_STACKCACHE_WAYS && !e; way++) {
        struct lt_stackcache_entry *w = lt_stackcache_entry(c, first + way);
        if (!w->caller) /* a free way first */
            e = w;
    }
    if (!e) {
        e = lt_stackcache_entry(c, first + (c->next_victim++ % LT_STACKCACHE_WAYS));
        c->replacements++;
    }
    uint64_t *ips = (uint64_t *)(e + 1);
    uint32_t *offsets = (uint32_t *)(ips + c->max_depth);
    e->caller = 0; /* invalid while being rewritten (a signal handler may look) */
    for (unsigned i = 0; i < depth; i++) {
        ips[i] = frames[i];
        offsets[i] = (uint32_t)(slots[i] - slot0);
    }
    e->depth = depth;
    e->id = id;
    e->slot0 = slot0;
    __asm__ __volatile__("" ::: "memory");
    e->caller = caller;
    if (++c->stores < LT_STACKCACHE_WINDOW)
        return c->sets;
    bool crowded = c->replacements > c->stores / 4;
    c->stores = c->replacements = 0;
    return crowded && c->sets < LT_STACKCACHE_SETS_MAX ? c->sets * 2 : c->sets;
}
