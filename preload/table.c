/* table.c — lock-free open-addressing hash table of live blocks, sharded by address hash.
 *
 * A slot is three 64-bit words: the key (the block address, or a state below) and the packed
 * block. Inserts claim an empty or tombstone slot with one CAS; removes turn the key into a
 * tombstone with one CAS. No lock is taken on either path.
 *
 * Growth migrates one shard into a new generation while other threads keep going: inserts
 * go to the new generation, removes find a key either still in the old one or marked MOVED
 * there (then they follow `next`). The old generation is unmapped after a grace period
 * (threads.c: membarrier + per-thread hook_seq). Must never call malloc. */
#include "table.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "compiler.h"
#include "log.h"
#include "mem.h"

/* Key encoding. Heap addresses are at least 8-aligned and never in the first page, so:
 *   below 4096 with bit 2 clear: a state (EMPTY, TOMB, MOVED_EMPTY);
 *   bit 2 set: BUSY, an insert is writing the slot; the rest is the inserting thread's index
 *              (so that a fork child can tell slots left half-written by vanished threads);
 *   otherwise a block address, with bit 0 MIGRATING and bit 1 MOVED set during growth. */
#define KEY_EMPTY 0u
#define KEY_TOMB 8u         /* removed */
#define KEY_MOVED_EMPTY 16u /* empty or tombstone when its generation was migrated */
#define KEY_BUSY_BIT 4u
#define KEY_MIGRATING 1u    /* flag: the migrator is copying this key */
#define KEY_MOVED 2u        /* flag: this key now lives in the next generation */
#define KEY_FLAGS (KEY_MIGRATING | KEY_MOVED)

static inline bool key_is_busy(uint64_t k)
{
    return k & KEY_BUSY_BIT;
}

static inline bool key_is_block(uint64_t k)
{
    return k >= 4096 && !(k & KEY_BUSY_BIT);
}

static inline uint64_t busy_key(uint32_t thread)
{
    return (uint64_t)thread << 3 | KEY_BUSY_BIT;
}

#define MIN_SLOTS 64u

struct slot {
    _Atomic uint64_t key;
    _Atomic uint64_t meta;  /* size:40 | kind:4 | thread:20 */
    _Atomic uint64_t where; /* stack:32 | time_cs:32 */
};

struct generation {
    /* Read by every operation: kept apart from the counter that inserts write. */
    uint64_t slots;
    uint64_t grow_at;               /* used count that asks for a migration */
    _Atomic uint64_t insert_limit;  /* used count past which application inserts give up */
    uint64_t map_bytes;
    struct generation *_Atomic next;
    char pad[64 - 5 * 8];
    _Atomic uint64_t used;          /* slots ever claimed from EMPTY (live + tombstones) */
    char pad2[64 - 8];
    struct slot slot[];
};

struct shard {
    struct generation *_Atomic current;
    _Atomic bool busy; /* a migration or a scan holds the shard */
    char pad[64 - sizeof(void *) - sizeof(bool)];
};

static struct shard shards[LT_TABLE_SHARDS] __attribute__((aligned(64)));
static _Atomic uint64_t migrations;

#define RETIRED_MAX 256
static struct {
    pthread_mutex_t lock;
    unsigned count;
    struct generation *gen[RETIRED_MAX];
} retired = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline uint64_t hash_addr(uint64_t addr)
{
    return (addr >> 3) * 0x9E3779B97F4A7C15ull;
}

static inline struct shard *shard_of(uint64_t h)
{
    return &shards[h >> 58];
}

/* Multiply-shift range reduction: any slot count works, not only powers of two. */
static inline uint64_t home_slot(uint64_t h, uint64_t slots)
{
    return (uint64_t)(((unsigned __int128)(h << 6) * slots) >> 64);
}

static inline uint64_t pack_meta(const struct lt_block *b)
{
    uint64_t size = b->size > LT_BLOCK_SIZE_MAX ? LT_BLOCK_SIZE_MAX : b->size;
    return size | (uint64_t)(b->kind & 0xf) << 40 | (uint64_t)(b->thread & 0xfffff) << 44;
}

static inline uint64_t pack_where(const struct lt_block *b)
{
    return b->stack | (uint64_t)b->time_cs << 32;
}

static inline void unpack(uint64_t addr, uint64_t meta, uint64_t where, struct lt_block *out)
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
static inline void enter(struct lt_thread *self)
{
    atomic_store_explicit(&self->hook_seq,
                          atomic_load_explicit(&self->hook_seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void leave(struct lt_thread *self)
{
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&self->hook_seq,
                          atomic_load_explicit(&self->hook_seq, memory_order_relaxed) + 1,
                          memory_order_release);
}

static void wait_a_little(unsigned *spins)
{
    if (++*spins < 64)
        lt_cpu_relax();
    else
        sched_yield();
}

static struct generation *new_generation(uint64_t slots, uint64_t reserved_for_migration)
{
    if (slots < MIN_SLOTS)
        slots = MIN_SLOTS;
    size_t bytes = sizeof(struct generation) + slots * sizeof(struct slot);
    struct generation *g = lt_mem_map(bytes);
    if (!g)
        return NULL;
    g->slots = slots;
    g->map_bytes = bytes;
    g->grow_at = slots * 3 / 4;
    atomic_init(&g->insert_limit, slots - lt_min(slots - 1, reserved_for_migration + 1));
    return g;
}

int lt_table_init(void)
{
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++) {
        struct generation *g = new_generation(MIN_SLOTS, 0);
        if (!g)
            return -ENOMEM;
        atomic_store_explicit(&shards[i].current, g, memory_order_release);
    }
    return 0;
}

static inline struct generation *newest(struct shard *s)
{
    struct generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
    struct generation *n;
    while ((n = atomic_load_explicit(&g->next, memory_order_acquire)))
        g = n;
    return g;
}

enum insert_result {
    INSERTED,
    INSERTED_GROW, /* and the generation asks to grow */
    REDIRECT,      /* the generation is being migrated: insert into the next one */
    WAIT,          /* the generation is a migration's target and its spare room is used up */
    FULL,
};

/* Claims a slot for addr in g. Application inserts (migrated == NULL) respect insert_limit,
 * which keeps room for the keys a migration still has to copy in. The migrator may use every
 * slot and counts its claims in *migrated, added to `used` when it is done, so that the
 * limit applies to application inserts alone. */
static enum insert_result insert_into(struct generation *g, uint64_t h, uint64_t addr,
                                      uint64_t meta, uint64_t where, uint64_t busy,
                                      uint64_t *migrated)
{
    bool app = migrated == NULL;
    if (app) {
        uint64_t limit = atomic_load_explicit(&g->insert_limit, memory_order_relaxed);
        if (atomic_load_explicit(&g->used, memory_order_relaxed) >= limit) {
            if (atomic_load_explicit(&g->next, memory_order_acquire))
                return REDIRECT;
            return limit < g->slots - 1 ? WAIT : FULL;
        }
    }
    uint64_t i = home_slot(h, g->slots);
    for (uint64_t probes = 0; probes < g->slots; probes++) {
        struct slot *sl = &g->slot[i];
        uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
        while (k == KEY_EMPTY || k == KEY_TOMB) {
            if (atomic_compare_exchange_weak_explicit(&sl->key, &k, busy,
                                                      memory_order_acquire,
                                                      memory_order_acquire)) {
                bool grow = false;
                if (k == KEY_EMPTY && !app)
                    ++*migrated;
                else if (k == KEY_EMPTY)
                    grow = atomic_fetch_add_explicit(&g->used, 1, memory_order_relaxed) + 1 >=
                           g->grow_at;
                atomic_store_explicit(&sl->meta, meta, memory_order_relaxed);
                atomic_store_explicit(&sl->where, where, memory_order_relaxed);
                atomic_store_explicit(&sl->key, addr, memory_order_release);
                return grow ? INSERTED_GROW : INSERTED;
            }
        }
        /* A migration has passed or is passing here: this generation is closed. */
        if (app && (k == KEY_MOVED_EMPTY || (key_is_block(k) && (k & KEY_FLAGS))))
            return REDIRECT;
        if (++i == g->slots)
            i = 0;
    }
    return FULL;
}

enum migrate_result { MIGRATED, NOT_NEEDED, HELD_ELSEWHERE, NO_MEMORY };

static enum migrate_result migrate(struct lt_thread *self, struct shard *s);
static void try_reclaim_quickly(struct lt_thread *self);

int lt_table_insert(struct lt_thread *self, const struct lt_block *b)
{
    if (lt_unlikely(!key_is_block(b->addr) || (b->addr & 7)))
        return -EINVAL; /* not a pointer a conforming allocator hands out */
    uint64_t h = hash_addr(b->addr);
    struct shard *s = shard_of(h);
    uint64_t meta = pack_meta(b), where = pack_where(b);
    unsigned spins = 0;
    for (;;) {
        enum insert_result r;
        enter(self);
        struct generation *g = newest(s);
        while ((r = insert_into(g, h, b->addr, meta, where, busy_key(self->idx), NULL)) ==
                   REDIRECT || r == WAIT) {
            /* WAIT: a migrator was descheduled while others filled its target. It finishes
             * once it runs again; dropping the block instead would break exact counts. */
            if (r == WAIT)
                wait_a_little(&spins);
            g = newest(s);
        }
        leave(self);
        if (lt_likely(r == INSERTED))
            return 0;
        /* Out of line of the common case: grow outside the critical section, so that two
         * growers never wait for each other's grace period. */
        enum migrate_result m = migrate(self, s);
        if (r == INSERTED_GROW)
            return 0;
        if (m == NO_MEMORY) {
            lt_log_once("out of memory for the block table; some blocks are not tracked "
                        "(see untracked_blocks)");
            return -ENOMEM;
        }
        if (m == HELD_ELSEWHERE)
            wait_a_little(&spins); /* its grower or a scan will be done shortly */
    }
}

bool lt_table_remove(struct lt_thread *self, uint64_t addr, struct lt_block *out)
{
    uint64_t h = hash_addr(addr);
    struct shard *s = shard_of(h);
    bool found = false;
    enter(self);
    struct generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
    while (g) {
        uint64_t i = home_slot(h, g->slots);
        bool follow = false;
        for (uint64_t probes = 0; probes < g->slots && !found && !follow; probes++) {
            struct slot *sl = &g->slot[i];
            unsigned spins = 0;
            for (;;) {
                uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
                if (k == addr) {
                    uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                    uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
                    if (atomic_compare_exchange_strong_explicit(&sl->key, &k, KEY_TOMB,
                                                                memory_order_acq_rel,
                                                                memory_order_acquire)) {
                        unpack(addr, meta, where, out);
                        found = true;
                        break;
                    }
                    continue; /* the migrator got there first */
                }
                if (k == (addr | KEY_MIGRATING)) {
                    wait_a_little(&spins);
                    continue;
                }
                if (k == (addr | KEY_MOVED))
                    follow = true;
                else if (k == KEY_EMPTY)
                    follow = true; /* not in this generation; maybe in a newer one */
                break;
            }
            if (++i == g->slots)
                i = 0;
        }
        if (found)
            break;
        g = atomic_load_explicit(&g->next, memory_order_acquire);
    }
    leave(self);
    return found;
}

static bool try_hold(struct shard *s)
{
    bool expected = false;
    return atomic_compare_exchange_strong_explicit(&s->busy, &expected, true,
                                                   memory_order_acquire, memory_order_relaxed);
}

static void hold(struct shard *s)
{
    unsigned spins = 0;
    while (!try_hold(s))
        wait_a_little(&spins);
}

static void release(struct shard *s)
{
    atomic_store_explicit(&s->busy, false, memory_order_release);
}

static void retire(struct generation *g)
{
    pthread_mutex_lock(&retired.lock);
    if (retired.count < RETIRED_MAX)
        retired.gen[retired.count++] = g;
    else
        lt_log_once("too many retired table generations; %llu bytes are kept for good",
                    (unsigned long long)g->map_bytes);
    pthread_mutex_unlock(&retired.lock);
}

/* Moves every key of the shard's current generation into a new one sized for twice the
 * live count. Runs in the thread whose insert crossed the threshold; if another thread
 * already holds the shard, that one will do it. */
static LT_COLD enum migrate_result migrate(struct lt_thread *self, struct shard *s)
{
    if (!try_hold(s))
        return HELD_ELSEWHERE;
    struct generation *old = atomic_load_explicit(&s->current, memory_order_acquire);
    if (atomic_load_explicit(&old->used, memory_order_relaxed) < old->grow_at) {
        release(s); /* someone migrated it just before us */
        return NOT_NEEDED;
    }
    uint64_t live = 0;
    for (uint64_t i = 0; i < old->slots; i++) {
        uint64_t k = atomic_load_explicit(&old->slot[i].key, memory_order_relaxed);
        live += key_is_block(k) || key_is_busy(k);
    }
    struct generation *g = new_generation(live * 2 + MIN_SLOTS, live);
    if (!g) {
        release(s);
        return NO_MEMORY;
    }
    atomic_store_explicit(&old->next, g, memory_order_release);

    uint64_t migrated = 0;
    for (uint64_t i = 0; i < old->slots; i++) {
        struct slot *sl = &old->slot[i];
        unsigned spins = 0;
        uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
        for (;;) {
            if (k == KEY_EMPTY || k == KEY_TOMB) {
                if (atomic_compare_exchange_weak_explicit(&sl->key, &k, KEY_MOVED_EMPTY,
                                                          memory_order_acq_rel,
                                                          memory_order_acquire))
                    break;
                continue;
            }
            if (key_is_busy(k)) {
                /* An insert is writing this slot; wait for it, unless its thread is gone
                 * (a fork child inherits the slot but not the thread). */
                struct lt_thread *owner = lt_thread_get((uint32_t)(k >> 3));
                if (owner && !(atomic_load(&owner->state) & LT_THREAD_ALIVE)) {
                    if (atomic_compare_exchange_weak_explicit(&sl->key, &k, KEY_MOVED_EMPTY,
                                                              memory_order_acq_rel,
                                                              memory_order_acquire))
                        break;
                    continue;
                }
                wait_a_little(&spins);
                k = atomic_load_explicit(&sl->key, memory_order_acquire);
                continue;
            }
            if (atomic_compare_exchange_weak_explicit(&sl->key, &k, k | KEY_MIGRATING,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
                /* Cannot fail: the new generation reserves room for every live key. */
                while (insert_into(g, hash_addr(k), k, meta, where, busy_key(LT_THREAD_OVERFLOW),
                                   &migrated) == FULL)
                    wait_a_little(&spins);
                atomic_store_explicit(&sl->key, k | KEY_MOVED, memory_order_release);
                break;
            }
        }
    }
    /* Application inserts may now fill the generation like any other. */
    atomic_fetch_add_explicit(&g->used, migrated, memory_order_relaxed);
    atomic_store_explicit(&g->insert_limit, g->slots - 1, memory_order_relaxed);
    atomic_store_explicit(&s->current, g, memory_order_release);
    atomic_fetch_add_explicit(&migrations, 1, memory_order_relaxed);
    release(s);
    retire(old);
    try_reclaim_quickly(self);
    return MIGRATED;
}

unsigned lt_table_reclaim(struct lt_thread *self, int64_t timeout_ns)
{
    pthread_mutex_lock(&retired.lock);
    unsigned waiting = retired.count;
    if (waiting && lt_threads_quiesce(self, timeout_ns)) {
        for (unsigned i = 0; i < retired.count; i++)
            lt_mem_unmap(retired.gen[i], retired.gen[i]->map_bytes);
        retired.count = 0;
        waiting = 0;
    }
    pthread_mutex_unlock(&retired.lock);
    return waiting;
}

/* In an allocating thread: wait at most 200 us; the worker thread retries later. */
static void try_reclaim_quickly(struct lt_thread *self)
{
    lt_table_reclaim(self, 200 * 1000);
}

void lt_table_scan(struct lt_thread *self, lt_table_visit_fn visit, void *ctx)
{
    for (unsigned si = 0; si < LT_TABLE_SHARDS; si++) {
        struct shard *s = &shards[si];
        hold(s); /* no migration may move keys under the scan */
        enter(self);
        struct generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
        for (uint64_t i = 0; i < g->slots; i++) {
            struct slot *sl = &g->slot[i];
            uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
            if (!key_is_block(k))
                continue;
            uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
            uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&sl->key, memory_order_relaxed) != k)
                continue; /* freed while we looked */
            struct lt_block b;
            unpack(k, meta, where, &b);
            visit(&b, ctx);
        }
        leave(self);
        release(s);
    }
}

void lt_table_stats(struct lt_table_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++) {
        struct generation *g = atomic_load_explicit(&shards[i].current, memory_order_acquire);
        out->slots += g->slots;
        out->bytes += g->map_bytes;
    }
    pthread_mutex_lock(&retired.lock);
    for (unsigned i = 0; i < retired.count; i++)
        out->bytes += retired.gen[i]->map_bytes;
    pthread_mutex_unlock(&retired.lock);
    out->migrations = atomic_load_explicit(&migrations, memory_order_relaxed);
}

void lt_table_fork_prepare(void)
{
    pthread_mutex_lock(&retired.lock);
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++)
        hold(&shards[i]);
}

void lt_table_fork_parent(void)
{
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++)
        release(&shards[i]);
    pthread_mutex_unlock(&retired.lock);
}

void lt_table_fork_child(void)
{
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++)
        release(&shards[i]);
    pthread_mutex_init(&retired.lock, NULL);
}
