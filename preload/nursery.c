/* nursery.c — the slow paths of the nurseries: giving one to a thread, moving a block out of a
 * full group, frees of blocks another thread holds, a thread's end, fork, and the scan. The
 * protocol is in nursery.h. */
#include "nursery.h"

#include <errno.h>
#include <stddef.h>

#include "log.h"
#include "mem.h"
#include "options.h"
#include "sort.h"

bool lt_nursery_on;
_Atomic uint64_t lt_nursery_hints[LT_NURSERY_HINTS];

static struct lt_nursery *_Atomic all[LT_NURSERIES_MAX];
static _Atomic uint32_t all_count;
static struct lt_nursery *free_list[LT_NURSERY_SIZES]; /* by (bits - MIN) / 2 */
static _Atomic bool list_lock;                         /* free_list and the growth of all[] */
static _Atomic uint64_t evictions, remote_frees, growths;

int lt_nursery_init(void)
{
    lt_nursery_on = !lt_opt.sample;
    return 0;
}

static void lock(void)
{
    while (atomic_exchange_explicit(&list_lock, true, memory_order_acquire))
        lt_cpu_relax();
}

static void unlock(void)
{
    atomic_store_explicit(&list_lock, false, memory_order_release);
}

/* A free nursery of 1 << bits groups, registered in all[], or NULL. */
static struct lt_nursery *take(unsigned bits)
{
    unsigned size = (bits - LT_NURSERY_BITS_MIN) / 2;
    lock();
    struct lt_nursery *n = free_list[size];
    if (n) {
        free_list[size] = n->next_free;
    } else if (atomic_load_explicit(&all_count, memory_order_relaxed) < LT_NURSERIES_MAX) {
        size_t groups = (size_t)1 << bits;
        size_t bytes = sizeof(struct lt_nursery) + groups * sizeof(struct lt_nursery_group) +
                       groups * LT_NURSERY_WAYS * sizeof(uint64_t);
        if ((n = lt_mem_map(bytes)) != NULL) {
            n->bits = bits;
            n->map_bytes = bytes;
            n->where = (_Atomic uint64_t *)(void *)&n->group[groups];
            atomic_store_explicit(&n->owner, LT_THREAD_OVERFLOW, memory_order_relaxed);
            atomic_store_explicit(&all[atomic_load_explicit(&all_count, memory_order_relaxed)], n,
                                  memory_order_release);
            atomic_fetch_add_explicit(&all_count, 1, memory_order_release);
        }
    }
    unlock();
    return n;
}

static void adopt(struct lt_thread *self, struct lt_nursery *n)
{
    n->next_free = NULL;
    n->evicted = 0;
    n->window_allocs = atomic_load_explicit(&self->allocs, memory_order_relaxed);
    atomic_store_explicit(&n->owner, self->idx, memory_order_release);
    atomic_store_explicit(&self->nursery, n, memory_order_release);
}

void lt_nursery_attach(struct lt_thread *self)
{
    self->nursery_tried = true;
    if (!lt_nursery_on || self->shared)
        return;
    struct lt_nursery *n = take(LT_NURSERY_BITS_MIN);
    if (n) /* else this thread uses the shared table alone */
        adopt(self, n);
}

/* ---- moving a block to the shared table ------------------------------------------------ */

/* Takes the block in way w of group gi (key k) out to the shared table, leaving its key
 * `then` (EMPTY, or CLAIMED for a refill). False if another thread freed it first (the key
 * is EMPTY then) or if the shared table had no room (nothing changed). */
static bool evict(struct lt_thread *self, struct lt_nursery *n, unsigned gi, unsigned w, uint64_t k,
                  uint64_t then, bool *no_room)
{
    struct lt_nursery_group *g = &n->group[gi];
    struct lt_block b;
    lt_unpack(k, atomic_load_explicit(&g->meta[w], memory_order_relaxed),
              atomic_load_explicit(&n->where[gi * LT_NURSERY_WAYS + w], memory_order_relaxed), &b);
    *no_room = false;
    if (lt_table_insert(self, &b) != 0) {
        *no_room = true;
        return false;
    }
    if (atomic_compare_exchange_strong_explicit(&g->key[w], &k, then, memory_order_acq_rel,
                                                memory_order_acquire)) {
        atomic_fetch_add_explicit(&evictions, 1, memory_order_relaxed);
        return true;
    }
    /* Freed by another thread meanwhile: what we put in the table must go again. */
    struct lt_block gone;
    lt_table_remove(self, b.addr, &gone);
    return false;
}

static void flush(struct lt_thread *self, struct lt_nursery *n);
static void give_back(struct lt_nursery *n);

/* A window of 1024 push-outs has ended: if it took fewer than four times as many new blocks,
 * the thread keeps more young blocks than the nursery holds, and a bigger one replaces it
 * (its blocks move to the shared table: remote frees find them there meanwhile). */
static LT_COLD void maybe_grow(struct lt_thread *self, struct lt_nursery *n)
{
    uint64_t allocs = atomic_load_explicit(&self->allocs, memory_order_relaxed);
    bool crowded = allocs - n->window_allocs < 4 * (uint64_t)n->evicted;
    n->evicted = 0;
    n->window_allocs = allocs;
    if (!crowded || n->bits >= LT_NURSERY_BITS_MAX)
        return;
    struct lt_nursery *bigger = take(n->bits + 2);
    if (!bigger)
        return;
    adopt(self, bigger);
    atomic_fetch_add_explicit(&growths, 1, memory_order_relaxed);
    flush(self, n);
    give_back(n);
}

int lt_nursery_insert_slow(struct lt_thread *self, const struct lt_block *b)
{
    struct lt_nursery *n = lt_nursery_of(self);
    if (!n) {
        if (!self->nursery_tried)
            lt_nursery_attach(self);
        if (!(n = lt_nursery_of(self)))
            return lt_table_insert(self, b);
        return lt_nursery_insert(self, b);
    }
    if (!lt_key_is_block(b->addr) || (b->addr & 7))
        return -EINVAL;
    if (++n->evicted >= 1024) {
        maybe_grow(self, n);
        return lt_nursery_insert(self, b);
    }
    unsigned gi = lt_nursery_group_of(n, b->addr);
    struct lt_nursery_group *g = &n->group[gi];
    unsigned w = n->victim++ % LT_NURSERY_WAYS;
    uint64_t k = atomic_load_explicit(&g->key[w], memory_order_acquire);
    if (lt_key_is_block(k)) { /* (a CLAIMED left by a longjmp out of a hook is free too) */
        bool no_room;
        if (!evict(self, n, gi, w, k, LT_NURSERY_CLAIMED, &no_room) && no_room)
            return lt_table_insert(self, b); /* fails the same way: said by the caller */
        /* else moved, or freed meanwhile: either way the slot is ours now */
    }
    atomic_store_explicit(&g->meta[w], lt_pack_meta(b), memory_order_relaxed);
    atomic_store_explicit(&n->where[gi * LT_NURSERY_WAYS + w], lt_pack_where(b),
                          memory_order_relaxed);
    atomic_store_explicit(&g->key[w], b->addr, memory_order_release);
    lt_nursery_hint(b->addr, self->idx);
    return 0;
}

/* ---- frees of blocks another thread holds ---------------------------------------------- */

static bool claim(struct lt_nursery *n, uint64_t addr, struct lt_block *out)
{
    unsigned gi = lt_nursery_group_of(n, addr);
    struct lt_nursery_group *g = &n->group[gi];
    for (unsigned w = 0; w < LT_NURSERY_WAYS; w++) {
        uint64_t k = atomic_load_explicit(&g->key[w], memory_order_acquire);
        if (k != addr)
            continue;
        /* The owner rewrites meta and where only after taking the key away from addr, which
         * would make the compare-and-swap fail: if it succeeds, these belong to addr. */
        uint64_t meta = atomic_load_explicit(&g->meta[w], memory_order_relaxed);
        uint64_t where = atomic_load_explicit(&n->where[gi * LT_NURSERY_WAYS + w],
                                              memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&g->key[w], &k, LT_NURSERY_EMPTY,
                                                    memory_order_acq_rel, memory_order_relaxed)) {
            lt_unpack(addr, meta, where, out);
            atomic_fetch_add_explicit(&remote_frees, 1, memory_order_relaxed);
            return true;
        }
        return false; /* moved to the shared table just now */
    }
    return false;
}

bool lt_nursery_remove_slow(struct lt_thread *self, uint64_t addr, struct lt_block *out)
{
    if (lt_table_remove(self, addr, out))
        return true;
    if (!lt_nursery_on)
        return false;
    uint64_t page = addr >> 12;
    uint64_t hint = atomic_load_explicit(&lt_nursery_hints[lt_nursery_hint_index(page)],
                                         memory_order_relaxed);
    struct lt_nursery *hinted = NULL;
    if (hint >> 20 == page) {
        struct lt_thread *t = lt_thread_get((uint32_t)(hint & 0xfffff));
        hinted = t ? atomic_load_explicit(&t->nursery, memory_order_acquire) : NULL;
        if (hinted && hinted != lt_nursery_of(self) && claim(hinted, addr, out))
            return true;
    }
    uint32_t count = atomic_load_explicit(&all_count, memory_order_acquire);
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_acquire);
        if (n && n != hinted && n != lt_nursery_of(self) && claim(n, addr, out))
            return true;
    }
    /* A block that moved from a nursery to the shared table after the first look. */
    return lt_table_remove(self, addr, out);
}

/* ---- a thread's end, fork -------------------------------------------------------------- */

static void flush(struct lt_thread *self, struct lt_nursery *n)
{
    for (unsigned gi = 0; gi < 1u << n->bits; gi++) {
        for (unsigned w = 0; w < LT_NURSERY_WAYS; w++) {
            uint64_t k = atomic_load_explicit(&n->group[gi].key[w], memory_order_acquire);
            if (!lt_key_is_block(k))
                continue;
            bool no_room;
            if (!evict(self, n, gi, w, k, LT_NURSERY_EMPTY, &no_room) && no_room) {
                /* No room in the shared table: the block is not tracked any more. */
                atomic_store_explicit(&n->group[gi].key[w], LT_NURSERY_EMPTY, memory_order_relaxed);
                lt_log_once("leaktag's memory ran out: blocks of an ended thread are dropped");
            }
        }
    }
}

static void give_back(struct lt_nursery *n)
{
    atomic_store_explicit(&n->owner, LT_THREAD_OVERFLOW, memory_order_release);
    unsigned size = (n->bits - LT_NURSERY_BITS_MIN) / 2;
    lock();
    n->next_free = free_list[size];
    free_list[size] = n;
    unlock();
}

void lt_nursery_release(struct lt_thread *self, struct lt_thread *t)
{
    struct lt_nursery *n = lt_nursery_of(t);
    if (!n)
        return;
    atomic_store_explicit(&t->nursery, NULL, memory_order_release); /* later blocks: the table */
    t->nursery_tried = true;
    flush(self, n);
    give_back(n);
}

void lt_nursery_fork_child(struct lt_thread *self)
{
    atomic_store_explicit(&list_lock, false, memory_order_relaxed);
    uint32_t count = atomic_load_explicit(&all_count, memory_order_relaxed);
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_relaxed);
        if (!n || (self && n == lt_nursery_of(self)) ||
            atomic_load_explicit(&n->owner, memory_order_relaxed) == LT_THREAD_OVERFLOW)
            continue;
        struct lt_thread *t = lt_thread_get(atomic_load_explicit(&n->owner, memory_order_relaxed));
        if (t && lt_nursery_of(t) == n)
            atomic_store_explicit(&t->nursery, NULL, memory_order_relaxed);
        flush(self, n);
        give_back(n);
    }
}

/* ---- the scan ---------------------------------------------------------------------------- */

struct seen {
    uint64_t *addr;
    size_t n;
    lt_table_visit_fn visit;
    void *ctx;
};

static bool was_seen(const struct seen *s, uint64_t addr)
{
    size_t at = lt_sorted_lower_bound(s->addr, s->n, addr);
    return at < s->n && s->addr[at] == addr;
}

static void visit_unseen(const struct lt_block *b, void *ctx)
{
    const struct seen *s = ctx;
    if (!s->addr || !was_seen(s, b->addr))
        s->visit(b, s->ctx);
}

void lt_nursery_scan(struct lt_thread *self, lt_table_visit_fn visit, void *ctx)
{
    uint32_t count = atomic_load_explicit(&all_count, memory_order_acquire);
    size_t slots = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_acquire);
        slots += n ? lt_nursery_slots(n) : 0;
    }
    size_t bytes = slots * sizeof(uint64_t);
    struct seen s = {.addr = slots ? lt_mem_map_scratch(bytes) : NULL, .visit = visit, .ctx = ctx};
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_acquire);
        for (unsigned j = 0; n && j < lt_nursery_slots(n); j++) {
            struct lt_nursery_group *g = &n->group[j / LT_NURSERY_WAYS];
            _Atomic uint64_t *key = &g->key[j % LT_NURSERY_WAYS];
            uint64_t k = atomic_load_explicit(key, memory_order_acquire);
            if (!lt_key_is_block(k))
                continue;
            uint64_t meta = atomic_load_explicit(&g->meta[j % LT_NURSERY_WAYS],
                                                 memory_order_relaxed);
            uint64_t where = atomic_load_explicit(&n->where[j], memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(key, memory_order_relaxed) != k)
                continue; /* freed or moved meanwhile: the table has it if it is still live */
            struct lt_block b;
            lt_unpack(k, meta, where, &b);
            visit(&b, ctx);
            if (s.addr)
                s.addr[s.n++] = k;
        }
    }
    if (s.addr)
        lt_sort_u64(s.addr, NULL, s.n);
    lt_table_scan(self, visit_unseen, &s);
    if (s.addr)
        lt_mem_unmap(s.addr, bytes);
}

void lt_nursery_scan_frozen(lt_table_visit_fn visit, void *ctx)
{
    uint32_t count = atomic_load_explicit(&all_count, memory_order_relaxed);
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_relaxed);
        for (unsigned j = 0; n && j < lt_nursery_slots(n); j++) {
            struct lt_nursery_group *g = &n->group[j / LT_NURSERY_WAYS];
            uint64_t k = atomic_load_explicit(&g->key[j % LT_NURSERY_WAYS], memory_order_relaxed);
            if (!lt_key_is_block(k))
                continue;
            struct lt_block b;
            lt_unpack(k, atomic_load_explicit(&g->meta[j % LT_NURSERY_WAYS], memory_order_relaxed),
                      atomic_load_explicit(&n->where[j], memory_order_relaxed), &b);
            visit(&b, ctx);
        }
    }
    lt_table_scan_frozen(visit, ctx);
}

void lt_nursery_stats(struct lt_nursery_stats *out)
{
    out->nurseries = atomic_load_explicit(&all_count, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&evictions, memory_order_relaxed);
    out->remote_frees = atomic_load_explicit(&remote_frees, memory_order_relaxed);
    out->growths = atomic_load_explicit(&growths, memory_order_relaxed);
}
