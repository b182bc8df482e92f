/* table.h — the live-block table: heap address -> size, kind, thread, stack, time.
 * Insert and remove are lock-free from any thread (a block freed by another thread is found
 * in O(1) expected time); shards grow one at a time while the other threads keep working.
 * All memory comes from mmap.
 *
 * The common cases of insert and remove are inline below: a handful of loads, one CAS, no
 * shared counter. Anything unusual (a migration under way, a long probe) goes out of line
 * to table.c, which also holds the whole algorithm in its comments. */
#ifndef LT_TABLE_H
#define LT_TABLE_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"

#include "compiler.h"
#include "log.h"
#include "threads.h"

#define LT_TABLE_SHARDS 64
#define LT_BLOCK_SIZE_MAX ((1ull << 40) - 1) /* larger sizes are recorded as this */

struct lt_block {
    uint64_t addr;
    uint64_t size;
    uint32_t stack;   /* stack table id */
    uint32_t time_cs; /* allocation time, lt_clock_cs() */
    uint32_t thread;  /* thread registry index */
    uint8_t kind;     /* enum lt_kind */
};

int lt_table_init(void);

/* Returns 0; -ENOMEM when leaktag's own memory ran out, -EINVAL for an address no conforming
 * allocator returns (not 8-aligned, or in page 0): the block is then not tracked. */
static inline int lt_table_insert(struct lt_thread *self, const struct lt_block *b);

/* Removes addr; true with *out filled when it was tracked. */
static inline bool lt_table_remove(struct lt_thread *self, uint64_t addr, struct lt_block *out);

/* Sampled mode: a counting filter of the addresses in the table, so that a free of a block
 * that was never recorded (nearly all of them) costs one load instead of a table lookup.
 * No false negatives; false positives only cost the lookup. Off unless enabled at start. */
#define LT_FILTER_BITS 16
extern bool lt_table_filter_on;
extern _Atomic uint16_t lt_table_filter[1u << LT_FILTER_BITS];
void lt_table_enable_filter(void);

static inline unsigned lt_filter_slot(uint64_t addr)
{
    return (unsigned)(((addr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - LT_FILTER_BITS));
}

static inline bool lt_table_may_contain(uint64_t addr)
{
    return !lt_table_filter_on ||
           atomic_load_explicit(&lt_table_filter[lt_filter_slot(addr)], memory_order_relaxed);
}

/* Calls visit for every block live during the whole scan, shard by shard. Blocks inserted
 * or removed while the scan runs may or may not be seen. Only one shard is held at a time,
 * and holding it only delays that shard's growth, never an insert or a remove. */
typedef void (*lt_table_visit_fn)(const struct lt_block *b, void *ctx);
void lt_table_scan(struct lt_thread *self, lt_table_visit_fn visit, void *ctx);
/* The same in a frozen copy of the process (a reachability scan's child, where nothing else
 * runs and a lock held at the copy is never released): holds nothing. A block caught in a
 * migration may be visited twice. */
void lt_table_scan_frozen(lt_table_visit_fn visit, void *ctx);

/* Rebuilds happen in a maintenance thread when one is registered: a crowded insert then asks
 * for one (calling `wake`, at most once per shard until it is done) and probes on instead of
 * rebuilding in the allocating thread. lt_table_maintain does the asked-for rebuilds.
 * wake must be async-signal-safe and cheap (a futex wake). NULL: rebuild inline. */
void lt_table_set_maintainer(void (*wake)(void));
void lt_table_maintain(struct lt_thread *self);

/* Rebuilds shards that hold more than eight slots per live block (after many frees), so the
 * table's memory follows the live set down as well as up. For a background thread. */
void lt_table_compact(struct lt_thread *self);

/* Frees table generations retired by growth once no thread can still read them.
 * Returns the number still waiting. Never called with a shard held. */
unsigned lt_table_reclaim(struct lt_thread *self, int64_t timeout_ns);

struct lt_table_stats {
    uint64_t slots; /* capacity of the current generations */
    uint64_t bytes; /* mapped by the table, retired generations included */
    uint64_t migrations;
    uint64_t lost_records; /* given up by a rebuild that found no room (should stay 0) */
};
void lt_table_stats(struct lt_table_stats *out);

/* fork(): no shard may be mid-migration in the child. */
void lt_table_fork_prepare(void);
void lt_table_fork_parent(void);
void lt_table_fork_child(void);

/* ---- layout, shared with the inline fast paths ------------------------------------------ */

/* Key encoding. Heap addresses are at least 8-aligned and never in the first page, so:
 *   below 4096 with bit 2 clear: a state (EMPTY, TOMB, MOVED_EMPTY);
 *   bit 2 set: BUSY, an insert is writing the slot; the rest is the inserting thread's index
 *              (so that a fork child can tell slots left half-written by vanished threads);
 *   otherwise a block address, with bit 0 MIGRATING and bit 1 MOVED set during growth. */
#define LT_KEY_EMPTY 0u
#define LT_KEY_TOMB 8u         /* removed */
#define LT_KEY_MOVED_EMPTY 16u /* empty or tombstone when its generation was migrated */
#define LT_KEY_BUSY_BIT 4u
#define LT_KEY_MIGRATING 1u /* flag: the migrator is copying this key */
#define LT_KEY_MOVED 2u     /* flag: this key now lives in the next generation */
#define LT_KEY_FLAGS (LT_KEY_MIGRATING | LT_KEY_MOVED)

/* An insert that finds no free slot this close to home asks for the shard to be rebuilt;
 * this bounds probe lengths without any shared fill counter on the hot path. */
#define LT_INSERT_PROBES 64

struct lt_slot {
    _Atomic uint64_t key;
    _Atomic uint64_t meta;  /* size:40 | kind:4 | thread:20 */
    _Atomic uint64_t where; /* stack:32 | time_cs:32 */
};

struct lt_generation {
    /* Read by every operation, written only while the generation is created or migrated. */
    uint64_t slots;
    _Atomic uint64_t insert_limit; /* while `limited`: used count at which inserts wait */
    uint64_t map_bytes;
    struct lt_generation *_Atomic next; /* set when this generation is being migrated */
    _Atomic bool limited;               /* a migration is still filling this generation */
    char pad[64 - 4 * 8 - sizeof(bool)];
    _Atomic uint64_t used; /* while `limited`: slots claimed by application inserts */
    char pad2[64 - 8];
    struct lt_slot slot[];
};

struct lt_shard {
    struct lt_generation *_Atomic current;
    /* The generation found crowded: the maintenance thread should rebuild it (if it is
     * still current when it gets there; only compared, never dereferenced). */
    struct lt_generation *_Atomic wanted;
    /* current's slot count, for lt_table_prefetch, which must not dereference current: it
     * runs outside the critical section, where a replaced generation may be unmapped. */
    _Atomic uint64_t slots_hint;
    _Atomic bool busy; /* a migration or a scan holds the shard */
    char pad[64 - 2 * sizeof(void *) - sizeof(uint64_t) - sizeof(bool)];
};

extern struct lt_shard lt_shards[LT_TABLE_SHARDS];

int lt_table_insert_slow(struct lt_thread *self, const struct lt_block *b);
bool lt_table_remove_slow(struct lt_thread *self, uint64_t addr, struct lt_block *out);

static inline bool lt_key_is_busy(uint64_t k)
{
    return k & LT_KEY_BUSY_BIT;
}

static inline bool lt_key_is_block(uint64_t k)
{
    return k >= 4096 && !(k & LT_KEY_BUSY_BIT);
}

static inline uint64_t lt_busy_key(uint32_t thread)
{
    return (uint64_t)thread << 3 | LT_KEY_BUSY_BIT;
}

/* Shard and home slot come from the top bits. One multiply is not enough: a heap's addresses
 * step by a repeating pattern of chunk sizes, and one multiplicative hash maps such a pattern
 * to clustered homes (probe runs over 32 at a load of 1/2). The second round breaks it up. */
static inline uint64_t lt_hash_addr(uint64_t addr)
{
    uint64_t h = (addr >> 3) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return h * 0xBF58476D1CE4E5B9ull;
}

static inline struct lt_shard *lt_shard_of(uint64_t h)
{
    return &lt_shards[h >> 58];
}

/* Multiply-shift range reduction: any slot count works, not only powers of two. */
static inline uint64_t lt_home_slot(uint64_t h, uint64_t slots)
{
    return lt_arch_mul_high(h << 6, slots);
}

static inline uint64_t lt_pack_meta(const struct lt_block *b)
{
    uint64_t size = b->size > LT_BLOCK_SIZE_MAX ? LT_BLOCK_SIZE_MAX : b->size;
    return size | (uint64_t)(b->kind & 0xf) << 40 | (uint64_t)(b->thread & 0xfffff) << 44;
}

static inline uint64_t lt_pack_where(const struct lt_block *b)
{
    return b->stack | (uint64_t)b->time_cs << 32;
}

static inline void lt_unpack(uint64_t addr, uint64_t meta, uint64_t where, struct lt_block *out)
{
    out->addr = addr;
    out->size = meta & LT_BLOCK_SIZE_MAX;
    out->kind = (meta >> 40) & 0xf;
    out->thread = (uint32_t)(meta >> 44);
    out->stack = (uint32_t)where;
    out->time_cs = (uint32_t)(where >> 32);
}

/* The hook_seq critical section that protects a thread's view of generations from being
 * unmapped under it. A plain store: the reclaimer's membarrier supplies the fence. */
static inline void lt_table_enter(struct lt_thread *self)
{
    /* odd while inside: never entered twice (a grace period would wait on itself) */
    LT_ASSERT(!(atomic_load_explicit(&self->hook_seq, memory_order_relaxed) & 1));
    atomic_store_explicit(&self->hook_seq,
                          atomic_load_explicit(&self->hook_seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void lt_table_leave(struct lt_thread *self)
{
    LT_ASSERT(atomic_load_explicit(&self->hook_seq, memory_order_relaxed) & 1);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&self->hook_seq,
                          atomic_load_explicit(&self->hook_seq, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* Starts fetching the line of addr's home slot (for writing), so that the miss overlaps the
 * work done before the insert (capturing the stack). A hint only, taken outside the critical
 * section: the generation may be replaced and unmapped under us, so it is never read here
 * (its size comes from the shard), and a prefetch of an unmapped address does not fault. */
static inline void lt_table_prefetch(uint64_t addr)
{
    uint64_t h = lt_hash_addr(addr);
    struct lt_shard *s = lt_shard_of(h);
    uintptr_t g = (uintptr_t)atomic_load_explicit(&s->current, memory_order_relaxed);
    uint64_t slots = atomic_load_explicit(&s->slots_hint, memory_order_relaxed);
    __builtin_prefetch((const void *)(uintptr_t)(g + offsetof(struct lt_generation, slot) +
                                                 lt_home_slot(h, slots) * sizeof(struct lt_slot)),
                       1, 3);
}

static inline int lt_table_insert_unfiltered(struct lt_thread *self, const struct lt_block *b);

static inline int lt_table_insert(struct lt_thread *self, const struct lt_block *b)
{
    int err = lt_table_insert_unfiltered(self, b);
    if (lt_unlikely(lt_table_filter_on) && err == 0)
        atomic_fetch_add_explicit(&lt_table_filter[lt_filter_slot(b->addr)], 1,
                                  memory_order_relaxed);
    return err;
}

/* Fast path: the shard's only generation, a free slot within LT_INSERT_PROBES. */
static inline int lt_table_insert_unfiltered(struct lt_thread *self, const struct lt_block *b)
{
    uint64_t addr = b->addr;
    if (lt_unlikely(!lt_key_is_block(addr) || (addr & 7)))
        return -EINVAL; /* not a pointer a conforming allocator hands out */
    uint64_t h = lt_hash_addr(addr);
    struct lt_shard *s = lt_shard_of(h);
    lt_table_enter(self);
    struct lt_generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
    if (lt_likely(!atomic_load_explicit(&g->next, memory_order_acquire) &&
                  !atomic_load_explicit(&g->limited, memory_order_relaxed))) {
        uint64_t i = lt_home_slot(h, g->slots);
        for (unsigned probes = 0; probes < LT_INSERT_PROBES; probes++) {
            struct lt_slot *sl = &g->slot[i];
            uint64_t k = atomic_load_explicit(&sl->key, memory_order_relaxed);
            if (k == LT_KEY_EMPTY || k == LT_KEY_TOMB) {
                if (!atomic_compare_exchange_strong_explicit(&sl->key, &k, lt_busy_key(self->idx),
                                                             memory_order_acquire,
                                                             memory_order_relaxed))
                    break; /* raced: let the slow path sort it out */
                atomic_store_explicit(&sl->meta, lt_pack_meta(b), memory_order_relaxed);
                atomic_store_explicit(&sl->where, lt_pack_where(b), memory_order_relaxed);
                atomic_store_explicit(&sl->key, addr, memory_order_release);
                lt_table_leave(self);
                return 0;
            }
            if (lt_unlikely(k == LT_KEY_MOVED_EMPTY || (k & LT_KEY_FLAGS)))
                break; /* a migration started under us */
            if (++i == g->slots)
                i = 0;
        }
    }
    lt_table_leave(self);
    return lt_table_insert_slow(self, b);
}

static inline bool lt_table_remove_unfiltered(struct lt_thread *self, uint64_t addr,
                                              struct lt_block *out);

static inline bool lt_table_remove(struct lt_thread *self, uint64_t addr, struct lt_block *out)
{
    if (!lt_table_may_contain(addr))
        return false;
    bool found = lt_table_remove_unfiltered(self, addr, out);
    if (lt_unlikely(lt_table_filter_on) && found)
        atomic_fetch_sub_explicit(&lt_table_filter[lt_filter_slot(addr)], 1, memory_order_relaxed);
    return found;
}

/* Fast path: the shard's only generation, the key within a few probes, no migration flag. */
static inline bool lt_table_remove_unfiltered(struct lt_thread *self, uint64_t addr,
                                              struct lt_block *out)
{
    uint64_t h = lt_hash_addr(addr);
    struct lt_shard *s = lt_shard_of(h);
    lt_table_enter(self);
    struct lt_generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
    if (lt_likely(!atomic_load_explicit(&g->next, memory_order_acquire))) {
        uint64_t i = lt_home_slot(h, g->slots);
        for (unsigned probes = 0; probes < LT_INSERT_PROBES; probes++) {
            struct lt_slot *sl = &g->slot[i];
            uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
            if (k == addr) {
                uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
                if (!atomic_compare_exchange_strong_explicit(
                        &sl->key, &k, LT_KEY_TOMB, memory_order_acq_rel, memory_order_relaxed))
                    break; /* a migration flagged it: the slow path follows it */
                lt_table_leave(self);
                lt_unpack(addr, meta, where, out);
                return true;
            }
            /* No newer generation existed when we looked, so an EMPTY ends the search:
             * a block inserted into a newer one would have made `next` visible to us. */
            if (k == LT_KEY_EMPTY) {
                lt_table_leave(self);
                return false;
            }
            if (lt_unlikely(k == (addr | LT_KEY_MIGRATING) || k == (addr | LT_KEY_MOVED)))
                break;
            if (++i == g->slots)
                i = 0;
        }
    }
    lt_table_leave(self);
    return lt_table_remove_slow(self, addr, out);
}

#endif
