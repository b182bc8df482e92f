/* stackcache.c — creating per-thread stack caches and filling them after an unwind. Only
 * stacks whose every return-address slot lies inside the thread's own stack, in order, are
 * stored, so a later validation can only ever read that stack. Memory from mmap. */
#include "stackcache.h"

#include "mem.h"

struct lt_stackcache *lt_stackcache_new(uint64_t lo, uint64_t hi)
{
    uint32_t depth = lt_opt.depth;
    uint32_t stride = (uint32_t)(sizeof(struct lt_stackcache_entry) + depth * sizeof(uint64_t) +
                                 depth * sizeof(uint32_t));
    stride = (stride + 7) & ~7u;
    size_t bytes = sizeof(struct lt_stackcache) + (size_t)stride * LT_STACKCACHE_ENTRIES;
    struct lt_stackcache *c = lt_mem_map(bytes);
    if (!c)
        return NULL;
    c->stride = stride;
    c->max_depth = depth;
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

void lt_stackcache_store(struct lt_stackcache *c, uint64_t caller, const uint64_t *frames,
                         const uint64_t *slots, unsigned depth, uint32_t id)
{
    if (!depth || depth > c->max_depth || frames[0] != caller)
        return;
    uint64_t slot0 = slots[0];
    for (unsigned i = 0; i < depth; i++) {
        /* inside our stack, above the previous slot, and holding what was unwound */
        if (slots[i] < c->stack_lo || slots[i] + sizeof(uint64_t) > c->stack_hi ||
            (i && slots[i] <= slots[i - 1]) || slots[i] - slot0 > UINT32_MAX ||
            *(const uint64_t *)(uintptr_t)slots[i] != frames[i])
            return;
    }
    unsigned first = lt_stackcache_set(caller, slot0) * LT_STACKCACHE_WAYS;
    struct lt_stackcache_entry *e = NULL;
    for (unsigned way = 0; way < LT_STACKCACHE_WAYS && !e; way++) {
        struct lt_stackcache_entry *w = lt_stackcache_entry(c, first + way);
        if (!w->caller) /* a free way first */
            e = w;
    }
    if (!e)
        e = lt_stackcache_entry(c, first + (c->next_victim++ % LT_STACKCACHE_WAYS));
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
}
