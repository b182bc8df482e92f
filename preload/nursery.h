/* nursery.h — each thread's young blocks, in front of the shared table (table.h).
 *
 * Most blocks die young and in the thread that allocated them. A thread's nursery is a small
 * set-associative array that only its owner writes: an insert is a few plain stores into a
 * group of four slots, a free by the owner a compare and a store — no locked instruction and
 * no line shared with another core. When a group is full its oldest-placed block moves to
 * the shared table. A block freed by another thread is looked for in the shared table, then
 * in the nursery a page hint names (the thread that last allocated in that page), then in
 * every nursery, and claimed there with a compare-and-swap; then the shared table once more,
 * for a block that moved meanwhile.
 *
 * Moving a block out (eviction) inserts it into the shared table first and then takes it out
 * of its slot with a compare-and-swap: a concurrent free finds it in one place or the other,
 * and whoever loses undoes nothing but its own step. A snapshot scans the nurseries first
 * and then the shared table, skipping what it already saw, so that a block live for the
 * whole scan is written once even if it moves.
 *
 * Off in sampled mode (few blocks are recorded there, and the filter makes the frees of the
 * others cost one load). Threads past LT_NURSERIES_MAX, and the shared overflow entry, use
 * the shared table alone. Nurseries are mmap'd, reused by later threads, never unmapped.
 *
 * A nursery holds 512 blocks at first and grows fourfold, up to 8,192, while more than a
 * quarter of its thread's new blocks push an older one out. The snapshot's scan skips the
 * table's blocks it already wrote from a nursery through a sorted set of their addresses. A
 * thread's nursery is flushed into the shared table when the thread ends (and, in a fork
 * child, every nursery but the forking thread's) before it is reused. */
#ifndef LT_NURSERY_H
#define LT_NURSERY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "log.h"
#include "table.h"
#include "threads.h"

/* A nursery starts with 128 groups (512 blocks, 12 KiB) and grows fourfold, up to 2048 groups
 * (8192 blocks), while more than a quarter of its thread's new blocks push an older one out:
 * a thread that keeps thousands of blocks alive, and frees them at random, then keeps them
 * to itself instead of in the table every core writes. */
#define LT_NURSERY_WAYS 4
#define LT_NURSERY_BITS_MIN 7
#define LT_NURSERY_BITS_MAX 11
#define LT_NURSERY_SIZES 3 /* 7, 9, 11 */
#define LT_NURSERIES_MAX 256

/* A slot's key: EMPTY, a block address, or CLAIMED (the owner is refilling it). */
#define LT_NURSERY_EMPTY 0u
#define LT_NURSERY_CLAIMED 4u

/* A group is one cache line: the four keys and what a free needs (size, kind, thread). The
 * stack and time, which only a move or a snapshot reads, are kept apart. */
struct lt_nursery_group {
    _Atomic uint64_t key[LT_NURSERY_WAYS];
    _Atomic uint64_t meta[LT_NURSERY_WAYS]; /* as the table's: size:40 | kind:4 | thread:20 */
} __attribute__((aligned(64)));

struct lt_nursery {
    uint32_t bits;           /* 1 << bits groups */
    _Atomic uint32_t owner;  /* thread index; LT_THREAD_OVERFLOW while free */
    uint32_t victim;         /* rotates through a full group's ways */
    uint32_t evicted;        /* blocks pushed out since window_allocs */
    uint64_t window_allocs;  /* the owner's allocation count when the window began */
    _Atomic uint64_t *where; /* stack:32 | time_cs:32, by group * 4 + way, after the groups */
    struct lt_nursery *next_free;
    size_t map_bytes;
    struct lt_nursery_group group[] __attribute__((aligned(64)));
};

static inline unsigned lt_nursery_slots(const struct lt_nursery *n)
{
    return LT_NURSERY_WAYS << n->bits;
}

extern bool lt_nursery_on;

int lt_nursery_init(void);

/* The nursery of t; only t itself changes it. */
static inline struct lt_nursery *lt_nursery_of(struct lt_thread *t)
{
    return atomic_load_explicit(&t->nursery, memory_order_relaxed);
}

/* Gives the calling thread a nursery (its first tracked block), or marks it as going
 * without: self->nursery stays NULL then. */
void lt_nursery_attach(struct lt_thread *self);

int lt_nursery_insert_slow(struct lt_thread *self, const struct lt_block *b);
bool lt_nursery_remove_slow(struct lt_thread *self, uint64_t addr, struct lt_block *out);

/* One multiply: a group's ways absorb the clustering a weak hash of heap addresses shows. */
static inline unsigned lt_nursery_group_of(const struct lt_nursery *n, uint64_t addr)
{
    return (unsigned)((addr * 0x9E3779B97F4A7C15ull) >> (64 - n->bits));
}

/* A mask of the group's ways whose key is `key`: four loads and compares, no branch on
 * which way (that would mispredict on nearly every call). */
static inline unsigned lt_nursery_ways_holding(struct lt_nursery_group *g, uint64_t key)
{
    _Static_assert(LT_NURSERY_WAYS == 4, "four ways");
    return (unsigned)(atomic_load_explicit(&g->key[0], memory_order_relaxed) == key) |
           (unsigned)(atomic_load_explicit(&g->key[1], memory_order_relaxed) == key) << 1 |
           (unsigned)(atomic_load_explicit(&g->key[2], memory_order_relaxed) == key) << 2 |
           (unsigned)(atomic_load_explicit(&g->key[3], memory_order_relaxed) == key) << 3;
}

/* The page hint: the thread that last allocated in addr's page. Written only on a change. */
#define LT_NURSERY_HINTS 16384
extern _Atomic uint64_t lt_nursery_hints[LT_NURSERY_HINTS];

static inline unsigned lt_nursery_hint_index(uint64_t page)
{
    return (unsigned)((page * 0x9E3779B97F4A7C15ull) >> (64 - 14));
}

static inline void lt_nursery_hint(uint64_t addr, uint32_t thread)
{
    uint64_t page = addr >> 12;
    uint64_t want = page << 20 | (thread & 0xfffff);
    _Atomic uint64_t *hint = &lt_nursery_hints[lt_nursery_hint_index(page)];
    if (lt_unlikely(atomic_load_explicit(hint, memory_order_relaxed) != want))
        atomic_store_explicit(hint, want, memory_order_relaxed);
}

/* Records a new block of the calling thread. Returns 0, or what lt_table_insert returns. */
LT_INLINE int lt_nursery_insert(struct lt_thread *self, const struct lt_block *b)
{
    struct lt_nursery *n = lt_nursery_of(self);
    if (lt_unlikely(!n))
        return lt_nursery_insert_slow(self, b);
    uint64_t addr = b->addr;
    if (lt_unlikely(!lt_key_is_block(addr) || (addr & 7)))
        return -EINVAL;
    unsigned gi = lt_nursery_group_of(n, addr);
    struct lt_nursery_group *g = &n->group[gi];
    unsigned empty = lt_nursery_ways_holding(g, LT_NURSERY_EMPTY);
    if (lt_unlikely(!empty))
        return lt_nursery_insert_slow(self, b);
    unsigned w = (unsigned)__builtin_ctz(empty);
    /* only the owner writes a slot's contents */
    LT_ASSERT(atomic_load_explicit(&n->owner, memory_order_relaxed) == self->idx);
    atomic_store_explicit(&g->meta[w], lt_pack_meta(b), memory_order_relaxed);
    atomic_store_explicit(&n->where[gi * LT_NURSERY_WAYS + w], lt_pack_where(b),
                          memory_order_relaxed);
    atomic_store_explicit(&g->key[w], addr, memory_order_release);
    lt_nursery_hint(addr, self->idx);
    return 0;
}

/* Removes addr, wherever it is; true with *out filled when it was tracked. */
LT_INLINE bool lt_nursery_remove(struct lt_thread *self, uint64_t addr, struct lt_block *out)
{
    struct lt_nursery *n = lt_nursery_of(self);
    if (lt_likely(n != NULL)) {
        unsigned gi = lt_nursery_group_of(n, addr);
        struct lt_nursery_group *g = &n->group[gi];
        unsigned found = lt_nursery_ways_holding(g, addr);
        if (lt_likely(found)) {
            /* Only the owner writes a slot's contents; another thread can only claim it for
             * a free of the same block, which would be a double free. */
            unsigned w = (unsigned)__builtin_ctz(found);
            LT_ASSERT(atomic_load_explicit(&n->owner, memory_order_relaxed) == self->idx);
            lt_unpack(
                addr, atomic_load_explicit(&g->meta[w], memory_order_relaxed),
                atomic_load_explicit(&n->where[gi * LT_NURSERY_WAYS + w], memory_order_relaxed),
                out);
            atomic_store_explicit(&g->key[w], LT_NURSERY_EMPTY, memory_order_relaxed);
            return true;
        }
    }
    return lt_nursery_remove_slow(self, addr, out);
}

/* The thread of t has ended (or, in a fork child, is gone): its blocks move to the shared
 * table and its nursery is given back. Called by t itself, or for a thread that is gone. */
void lt_nursery_release(struct lt_thread *self, struct lt_thread *t);

/* In a fork child: the nurseries of every thread but self, whose blocks the child still has,
 * move to the shared table. */
void lt_nursery_fork_child(struct lt_thread *self);

/* Calls visit for every block live during the whole scan, nurseries and shared table, once
 * each (lt_table_scan's promise). Maps its scratch memory; if that fails, a block that moves
 * during the scan may be written twice. */
void lt_nursery_scan(struct lt_thread *self, lt_table_visit_fn visit, void *ctx);
/* Every block of the nurseries and the table in a frozen copy of the process (see
 * lt_table_scan_frozen); a block that was moving may be visited twice. */
void lt_nursery_scan_frozen(lt_table_visit_fn visit, void *ctx);

struct lt_nursery_stats {
    uint64_t nurseries, evictions, remote_frees, growths;
};
void lt_nursery_stats(struct lt_nursery_stats *out);

#endif
