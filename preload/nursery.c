/* nursery.c — the slow paths of the nurseries: giving one to a thread, moving a block out of a
 * full group, frees of blocks another thread holds, a thread's end, fork, and the scan. The
 * protocol is in nursery.h. */
#include "nursery.h"

#include <errno.h>
#include <stddef.h>

#include "log.h"
#include "mem.h"
#include "options.h"

bool lt_nursery_on;
_Atomic uint64_t lt_nursery_hints[LT_NURSERY_HINTS];

static struct lt_nursery *_Atomic all[LT_NURSERIES_MAX];
static _Atomic uint32_t all_count;
static struct lt_nursery *free_list;
static _Atomic bool list_lock; /* free_list and the growth of all[] */
static _Atomic uint64_t evictions, remote_frees;

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

void lt_nursery_attach(struct lt_thread *self)
{
    self->nursery_tried = true;
    if (!lt_nursery_on || self->shared)
        return;
    lock();
    struct lt_nursery *n = free_list;
    if (n) {
        free_list = n->next_free;
    } else if (atomic_load_explicit(&all_count, memory_order_relaxed) < LT_NURSERIES_MAX &&
               (n = lt_mem_map(sizeof(*n))) != NULL) {
        atomic_store_explicit(&all[atomic_load_explicit(&all_count, memory_order_relaxed)], n,
                              memory_order_release);
        atomic_fetch_add_explicit(&all_count, 1, memory_order_release);
    }
    unlock();
    if (!n)
        return; /* this thread uses the shared table alone */
    n->next_free = NULL;
    atomic_store_explicit(&n->owner, self->idx, memory_order_release);
    self->nursery = n;
}

/* ---- moving a block to the shared table ------------------------------------------------ */

/* Takes the block in slot s (key k) out to the shared table, leaving the slot holding `then`
 * (EMPTY, or CLAIMED for a refill). False if another thread freed it first (the slot is
 * EMPTY then) or if the shared table had no room (the slot is unchanged). */
static bool evict(struct lt_thread *self, struct lt_nursery_slot *s, uint64_t k, uint64_t then,
                  bool *no_room)
{
    struct lt_block b;
    lt_unpack(k, atomic_load_explicit(&s->meta, memory_order_relaxed),
              atomic_load_explicit(&s->where, memory_order_relaxed), &b);
    *no_room = false;
    if (lt_table_insert(self, &b) != 0) {
        *no_room = true;
        return false;
    }
    if (atomic_compare_exchange_strong_explicit(&s->key, &k, then, memory_order_acq_rel,
                                                memory_order_acquire)) {
        atomic_fetch_add_explicit(&evictions, 1, memory_order_relaxed);
        return true;
    }
    /* Freed by another thread meanwhile: what we put in the table must go again. */
    struct lt_block gone;
    lt_table_remove(self, b.addr, &gone);
    return false;
}

int lt_nursery_insert_slow(struct lt_thread *self, const struct lt_block *b)
{
    struct lt_nursery *n = self->nursery;
    if (!n) {
        if (!self->nursery_tried)
            lt_nursery_attach(self);
        if (!(n = self->nursery))
            return lt_table_insert(self, b);
        return lt_nursery_insert(self, b);
    }
    if (!lt_key_is_block(b->addr) || (b->addr & 7))
        return -EINVAL;
    struct lt_nursery_slot *g = lt_nursery_group(n, b->addr);
    struct lt_nursery_slot *s = &g[n->victim++ % LT_NURSERY_WAYS];
    uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
    if (lt_key_is_block(k)) { /* (a CLAIMED left by a longjmp out of a hook is free too) */
        bool no_room;
        if (!evict(self, s, k, LT_NURSERY_CLAIMED, &no_room)) {
            if (no_room)
                return lt_table_insert(self, b); /* fails the same way: said by the caller */
            /* freed meanwhile: the slot is EMPTY and ours */
        }
    }
    atomic_store_explicit(&s->meta, lt_pack_meta(b), memory_order_relaxed);
    atomic_store_explicit(&s->where, lt_pack_where(b), memory_order_relaxed);
    atomic_store_explicit(&s->key, b->addr, memory_order_release);
    lt_nursery_hint(b->addr, self->idx);
    return 0;
}

/* ---- frees of blocks another thread holds ---------------------------------------------- */

static bool claim(struct lt_nursery *n, uint64_t addr, struct lt_block *out)
{
    struct lt_nursery_slot *g = lt_nursery_group(n, addr);
    for (unsigned w = 0; w < LT_NURSERY_WAYS; w++) {
        uint64_t k = atomic_load_explicit(&g[w].key, memory_order_acquire);
        if (k != addr)
            continue;
        /* The owner rewrites meta and where only after taking the key away from addr, which
         * would make the compare-and-swap fail: if it succeeds, these belong to addr. */
        uint64_t meta = atomic_load_explicit(&g[w].meta, memory_order_relaxed);
        uint64_t where = atomic_load_explicit(&g[w].where, memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&g[w].key, &k, LT_NURSERY_EMPTY,
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
        hinted = t ? t->nursery : NULL;
        if (hinted && hinted != self->nursery && claim(hinted, addr, out))
            return true;
    }
    uint32_t count = atomic_load_explicit(&all_count, memory_order_acquire);
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_acquire);
        if (n && n != hinted && n != self->nursery && claim(n, addr, out))
            return true;
    }
    /* A block that moved from a nursery to the shared table after the first look. */
    return lt_table_remove(self, addr, out);
}

/* ---- a thread's end, fork -------------------------------------------------------------- */

static void flush(struct lt_thread *self, struct lt_nursery *n)
{
    for (unsigned i = 0; i < LT_NURSERY_SLOTS; i++) {
        struct lt_nursery_slot *s = &n->slot[i];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (!lt_key_is_block(k))
            continue;
        bool no_room;
        if (!evict(self, s, k, LT_NURSERY_EMPTY, &no_room) && no_room) {
            /* No room in the shared table: the block is not tracked any more. */
            atomic_store_explicit(&s->key, LT_NURSERY_EMPTY, memory_order_relaxed);
            lt_log_once("leaktag's memory ran out: blocks of an ended thread are dropped");
        }
    }
}

static void give_back(struct lt_nursery *n)
{
    atomic_store_explicit(&n->owner, LT_THREAD_OVERFLOW, memory_order_release);
    lock();
    n->next_free = free_list;
    free_list = n;
    unlock();
}

void lt_nursery_release(struct lt_thread *self, struct lt_thread *t)
{
    struct lt_nursery *n = t->nursery;
    if (!n)
        return;
    t->nursery = NULL; /* its later blocks (destructors) go to the shared table */
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
        if (!n || (self && n == self->nursery) ||
            atomic_load_explicit(&n->owner, memory_order_relaxed) == LT_THREAD_OVERFLOW)
            continue;
        struct lt_thread *t = lt_thread_get(atomic_load_explicit(&n->owner, memory_order_relaxed));
        if (t && t->nursery == n)
            t->nursery = NULL;
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

static void sift_down(uint64_t *a, size_t at, size_t n)
{
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[at] >= a[child])
            return;
        uint64_t t = a[at];
        a[at] = a[child];
        a[child] = t;
        at = child;
    }
}

/* Heapsort: no allocation, no recursion (the scan may run in a signal handler). */
static void sort(uint64_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end > 1; end--) {
        uint64_t t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sift_down(a, 0, end - 1);
    }
}

static bool was_seen(const struct seen *s, uint64_t addr)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->addr[mid] < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->addr[lo] == addr;
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
    size_t bytes = (size_t)count * LT_NURSERY_SLOTS * sizeof(uint64_t);
    struct seen s = {.addr = count ? lt_mem_map_scratch(bytes) : NULL, .visit = visit,
                     .ctx = ctx};
    for (uint32_t i = 0; i < count; i++) {
        struct lt_nursery *n = atomic_load_explicit(&all[i], memory_order_acquire);
        for (unsigned j = 0; n && j < LT_NURSERY_SLOTS; j++) {
            struct lt_nursery_slot *sl = &n->slot[j];
            uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
            if (!lt_key_is_block(k))
                continue;
            uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
            uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&sl->key, memory_order_relaxed) != k)
                continue; /* freed or moved meanwhile: the table has it if it is still live */
            struct lt_block b;
            lt_unpack(k, meta, where, &b);
            visit(&b, ctx);
            if (s.addr)
                s.addr[s.n++] = k;
        }
    }
    if (s.addr)
        sort(s.addr, s.n);
    lt_table_scan(self, visit_unseen, &s);
    if (s.addr)
        lt_mem_unmap(s.addr, bytes);
}

void lt_nursery_stats(struct lt_nursery_stats *out)
{
    out->nurseries = atomic_load_explicit(&all_count, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&evictions, memory_order_relaxed);
    out->remote_frees = atomic_load_explicit(&remote_frees, memory_order_relaxed);
}
