/* table.c — lock-free open-addressing hash table of live blocks, sharded by address hash:
 * the slow paths, growth, scans and reclamation (the fast paths are inline in table.h).
 *
 * A slot is three 64-bit words: the key (the block address, or a state) and the packed
 * block. Inserts claim an EMPTY or TOMB slot with one CAS (key -> BUSY|thread), write the two
 * value words and publish the key; removes turn the key into a TOMB with one CAS.
 *
 * Growth (a "migration") rebuilds one shard into a new generation of 2 x live slots while
 * other threads keep going: inserts go to the new generation, removes find a key either
 * still in the old one or marked MOVED there (then they follow `next`). It is triggered
 * when an insert finds no free slot within LT_INSERT_PROBES of home, or a lookup walks too
 * far through tombstones. The old generation is unmapped after a grace period (threads.c:
 * membarrier + per-thread hook_seq). Nothing here calls malloc.
 *
 * The numbers. 64 shards, chosen by the top bits of a multiply, xor-shift, multiply hash of
 * the address (a single multiplicative hash turned a real heap's repeating chunk sizes into
 * long probe runs); 24-byte slots: the key, size:40|kind:4|thread:20 and stack:32|time:32. An
 * insert that finds no free slot within 64 probes of home, or a lookup that walks 256 slots
 * through tombstones, finds the shard crowded: it asks leaktag's thread for a rebuild (one
 * futex wake) and probes further meanwhile; without that thread (a single-threaded program, a
 * fork child before it restarts one) the inserting thread rebuilds, then inserts wherever the
 * new generation has room. A rebuild sizes the new generation for 2 x live (load back to 1/2:
 * about 48 bytes of slots per live block); a shard crowded while half empty is clustered, not
 * full, and gets twice its slots instead, one full of live keys at least 1.25 times its slots
 * (else it would be rebuilt into the same runs forever), and one crowded by tombstones is just
 * swept. The new generation keeps room for the keys still to be copied, counted again once
 * `next` is published, plus one per thread for inserts already under way (keys inserted during
 * the first count were not reserved for); if others use up the rest while the migrator is
 * descheduled, their inserts wait for it (rare). Should the copy still find no room, it waits
 * about 10 ms for a free, then gives the record up (table_lost_records, one warning) rather
 * than stall the program for good. Nothing outside the critical section reads a generation:
 * the insert's prefetch takes the slot count from the shard (slots_hint), statistics hold the
 * retired list's lock. Every 10 s leaktag's thread also rebuilds shards that hold more than
 * eight slots per live block (after mass frees). Without membarrier, retired generations are
 * kept: never a use-after-unmap. A scan holds one shard at a time: migrations of that shard
 * wait, inserts and removes do not, and a block live during the whole scan is seen exactly
 * once. Measured: no allocating thread stalls longer during a 1M-block snapshot than without
 * one (docs/PERFORMANCE.md). fork: the prepare handler holds every shard, so the child
 * inherits no half-done migration; slots left BUSY by threads that do not exist in the child
 * are dropped by the child's migrations. */
#include "table.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

#define MIN_SLOTS 64u
#define LOOKUP_PROBES_MAX 256u /* a lookup this long asks for a rebuild (tombstones) */

struct lt_shard lt_shards[LT_TABLE_SHARDS] __attribute__((aligned(64)));
bool lt_table_filter_on;
_Atomic uint16_t lt_table_filter[1u << LT_FILTER_BITS];

void lt_table_enable_filter(void)
{
    lt_table_filter_on = true; /* at start-up, before any insert */
}
static _Atomic uint64_t migrations;
static void (*_Atomic maintainer_wake)(void);

#define RETIRED_MAX 256
static struct {
    pthread_mutex_t lock;
    unsigned count;
    struct lt_generation *gen[RETIRED_MAX];
} retired = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* How long a migration waits for room before giving a record up (wait_a_little rounds:
 * 64 spins, then yields; about 10 ms on an idle machine). */
#define FULL_PATIENCE 2048u
static _Atomic uint64_t lost_records;

/* True when the thread no longer exists in this process: exited for good, or left behind by
 * fork (its tid is not one of the child's). */
static bool thread_is_gone(const struct lt_thread *t)
{
    int saved = errno;
    bool gone = t->tid <= 0 || (syscall(SYS_tgkill, getpid(), t->tid, 0) != 0 && errno == ESRCH);
    errno = saved;
    return gone;
}

static void wait_a_little(unsigned *spins)
{
    if (++*spins < 64)
        lt_cpu_relax();
    else
        sched_yield();
}

static struct lt_generation *new_generation(uint64_t slots, uint64_t reserved_for_migration)
{
    if (slots < MIN_SLOTS)
        slots = MIN_SLOTS;
    size_t bytes = sizeof(struct lt_generation) + slots * sizeof(struct lt_slot);
    struct lt_generation *g = lt_mem_map(bytes);
    if (!g)
        return NULL;
    g->slots = slots;
    g->map_bytes = bytes;
    atomic_init(&g->insert_limit, slots - lt_min(slots - 1, reserved_for_migration + 1));
    atomic_init(&g->limited, reserved_for_migration != 0);
    return g;
}

int lt_table_init(void)
{
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++) {
        struct lt_generation *g = new_generation(MIN_SLOTS, 0);
        if (!g)
            return -ENOMEM;
        atomic_store_explicit(&lt_shards[i].slots_hint, g->slots, memory_order_relaxed);
        atomic_store_explicit(&lt_shards[i].current, g, memory_order_release);
    }
    return 0;
}

static inline struct lt_generation *newest(struct lt_shard *s)
{
    struct lt_generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
    struct lt_generation *n;
    while ((n = atomic_load_explicit(&g->next, memory_order_acquire)))
        g = n;
    return g;
}

enum insert_result {
    INSERTED,
    REDIRECT, /* the generation is being migrated: insert into the next one */
    WAIT,     /* the generation is a migration's target and its spare room is used up */
    CROWDED,  /* no free slot near home: the shard wants a rebuild */
    FULL,     /* no free slot at all */
};

/* Claims a slot for addr in g. Application inserts (migrated == NULL) look no further than
 * LT_INSERT_PROBES from home, and in a migration's target they stop at insert_limit, which
 * keeps room for the keys still to be copied. The migrator looks everywhere and counts its
 * claims in *migrated, so that the limit applies to application inserts alone. */
static enum insert_result insert_into(struct lt_generation *g, uint64_t h, uint64_t addr,
                                      uint64_t meta, uint64_t where, uint64_t busy,
                                      uint64_t *migrated, bool far)
{
    bool app = migrated == NULL;
    bool limited = app && atomic_load_explicit(&g->limited, memory_order_acquire);
    if (limited && atomic_load_explicit(&g->used, memory_order_relaxed) >=
                       atomic_load_explicit(&g->insert_limit, memory_order_relaxed))
        return atomic_load_explicit(&g->next, memory_order_acquire) ? REDIRECT : WAIT;
    uint64_t i = lt_home_slot(h, g->slots);
    uint64_t reach = app && !limited && !far ? lt_min(g->slots, LT_INSERT_PROBES) : g->slots;
    for (uint64_t probes = 0; probes < reach; probes++) {
        struct lt_slot *sl = &g->slot[i];
        uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
        while (k == LT_KEY_EMPTY || k == LT_KEY_TOMB) {
            if (atomic_compare_exchange_weak_explicit(&sl->key, &k, busy, memory_order_acquire,
                                                      memory_order_acquire)) {
                if (k == LT_KEY_EMPTY && !app)
                    ++*migrated;
                else if (k == LT_KEY_EMPTY && limited)
                    atomic_fetch_add_explicit(&g->used, 1, memory_order_relaxed);
                atomic_store_explicit(&sl->meta, meta, memory_order_relaxed);
                atomic_store_explicit(&sl->where, where, memory_order_relaxed);
                atomic_store_explicit(&sl->key, addr, memory_order_release);
                return INSERTED;
            }
        }
        /* A migration has passed or is passing here: this generation is closed. */
        if (app && (k == LT_KEY_MOVED_EMPTY || (lt_key_is_block(k) && (k & LT_KEY_FLAGS))))
            return REDIRECT;
        if (++i == g->slots)
            i = 0;
    }
    return reach < g->slots ? CROWDED : FULL;
}

enum migrate_result { MIGRATED, NOT_NEEDED, HELD_ELSEWHERE, NO_MEMORY };

/* Why a shard is rebuilt: it is crowded (an insert or lookup went too far), or it is
 * oversized (most of its blocks were freed). */
enum rebuild { REBUILD_CROWDED, REBUILD_OVERSIZED };

static enum migrate_result migrate(struct lt_thread *self, struct lt_shard *s,
                                   struct lt_generation *crowded, enum rebuild why);

/* A crowded generation: ask the maintenance thread to rebuild it. False if there is none. */
static bool request_rebuild(struct lt_shard *s, struct lt_generation *crowded)
{
    void (*wake)(void) = atomic_load_explicit(&maintainer_wake, memory_order_acquire);
    if (!wake)
        return false;
    if (atomic_exchange_explicit(&s->wanted, crowded, memory_order_acq_rel) != crowded)
        wake(); /* a new request (one futex wake); repeats for the same one are free */
    return true;
}

int lt_table_insert_slow(struct lt_thread *self, const struct lt_block *b)
{
    uint64_t h = lt_hash_addr(b->addr);
    struct lt_shard *s = lt_shard_of(h);
    uint64_t meta = lt_pack_meta(b), where = lt_pack_where(b);
    unsigned spins = 0;
    bool far = false; /* probe past LT_INSERT_PROBES: a rebuild is on its way */
    for (;;) {
        enum insert_result r;
        lt_table_enter(self);
        struct lt_generation *g = newest(s);
        while ((r = insert_into(g, h, b->addr, meta, where, lt_busy_key(self->idx), NULL, far)) ==
                   REDIRECT ||
               r == WAIT) {
            /* WAIT: a migrator was descheduled while others filled its target. It finishes
             * once it runs again; dropping the block instead would break exact counts. */
            if (r == WAIT)
                wait_a_little(&spins);
            g = newest(s);
        }
        lt_table_leave(self);
        if (lt_likely(r == INSERTED))
            return 0;
        if (r == CROWDED && request_rebuild(s, g)) {
            far = true;
            continue;
        }
        /* No maintenance thread, or not a single free slot: rebuild here, outside the
         * critical section so that two growers never wait for each other's grace period. */
        enum migrate_result m = migrate(self, s, g, REBUILD_CROWDED);
        if (m == NO_MEMORY)
            return -ENOMEM; /* mem.c has said so, once */
        if (m == HELD_ELSEWHERE)
            wait_a_little(&spins); /* its grower or a scan will be done shortly */
        else
            far = true; /* rebuilt: the new generation has room, wherever it is */
    }
}

bool lt_table_remove_slow(struct lt_thread *self, uint64_t addr, struct lt_block *out)
{
    uint64_t h = lt_hash_addr(addr);
    struct lt_shard *s = lt_shard_of(h);
    bool found = false;
    uint64_t walked = 0;
    lt_table_enter(self);
    struct lt_generation *first = atomic_load_explicit(&s->current, memory_order_acquire);
    for (struct lt_generation *g = first; g && !found;
         g = atomic_load_explicit(&g->next, memory_order_acquire)) {
        uint64_t i = lt_home_slot(h, g->slots);
        bool follow = false;
        for (uint64_t probes = 0; probes < g->slots && !found && !follow; probes++, walked++) {
            struct lt_slot *sl = &g->slot[i];
            unsigned spins = 0;
            for (;;) {
                uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
                if (k == addr) {
                    uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                    uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
                    if (atomic_compare_exchange_strong_explicit(&sl->key, &k, LT_KEY_TOMB,
                                                                memory_order_acq_rel,
                                                                memory_order_acquire)) {
                        lt_unpack(addr, meta, where, out);
                        found = true;
                        break;
                    }
                    continue; /* the migrator got there first */
                }
                if (k == (addr | LT_KEY_MIGRATING)) {
                    wait_a_little(&spins);
                    continue;
                }
                /* MOVED: the key is in the next generation. EMPTY: not in this one, maybe
                 * in a newer one. */
                follow = k == (addr | LT_KEY_MOVED) || k == LT_KEY_EMPTY;
                break;
            }
            if (++i == g->slots)
                i = 0;
        }
    }
    lt_table_leave(self);
    /* Tombstones make searches long; a rebuild clears them. */
    if (walked > LOOKUP_PROBES_MAX && !request_rebuild(s, first))
        migrate(self, s, first, REBUILD_CROWDED);
    return found;
}

static bool try_hold(struct lt_shard *s)
{
    bool expected = false;
    return atomic_compare_exchange_strong_explicit(&s->busy, &expected, true, memory_order_acquire,
                                                   memory_order_relaxed);
}

static void hold(struct lt_shard *s)
{
    unsigned spins = 0;
    while (!try_hold(s))
        wait_a_little(&spins);
}

static void release(struct lt_shard *s)
{
    atomic_store_explicit(&s->busy, false, memory_order_release);
}

static void retire(struct lt_generation *g)
{
    pthread_mutex_lock(&retired.lock);
    if (retired.count < RETIRED_MAX)
        retired.gen[retired.count++] = g;
    else
        lt_log_once("too many retired table generations; %llu bytes are kept for good",
                    (unsigned long long)g->map_bytes);
    pthread_mutex_unlock(&retired.lock);
}

/* Keys in g, counting inserts under way (BUSY); *tombs gets the tombstones. */
static uint64_t count_keys(const struct lt_generation *g, uint64_t *tombs)
{
    uint64_t live = 0;
    *tombs = 0;
    for (uint64_t i = 0; i < g->slots; i++) {
        uint64_t k = atomic_load_explicit(&g->slot[i].key, memory_order_relaxed);
        live += lt_key_is_block(k) || lt_key_is_busy(k);
        *tombs += k == LT_KEY_TOMB;
    }
    return live;
}

/* Moves every key of `crowded` (if it is still the shard's current generation) into a new
 * generation sized for twice the live count. Runs in the thread that found it crowded; if
 * another thread already holds the shard, that one migrates or scans and we retry. */
static LT_COLD enum migrate_result migrate(struct lt_thread *self, struct lt_shard *s,
                                           struct lt_generation *crowded, enum rebuild why)
{
    if (!try_hold(s))
        return HELD_ELSEWHERE;
    struct lt_generation *old = atomic_load_explicit(&s->current, memory_order_acquire);
    if (old != crowded) {
        release(s); /* someone migrated it just before us */
        return NOT_NEEDED;
    }
    uint64_t tombs;
    uint64_t live = count_keys(old, &tombs);
    uint64_t slots = live * 2 + MIN_SLOTS;
    if (why == REBUILD_CROWDED) {
        if ((live + tombs) * 2 <= old->slots) {
            /* Crowded while half empty: the keys cluster. The same size would rebuild the
             * same runs and be crowded again at once; twice the slots breaks them up. */
            slots = lt_max(slots, old->slots * 2);
        } else if (tombs < live) {
            /* Full of live keys: grow by a quarter at least, so that a load just over 1/2
             * cannot be rebuilt at the same size over and over. */
            slots = lt_max(slots, old->slots + old->slots / 4);
        }
        /* Mostly tombstones: 2 x live sweeps them away. */
    }
    struct lt_generation *g = new_generation(slots, live);
    if (!g) {
        release(s);
        return NO_MEMORY;
    }
    atomic_store_explicit(&old->next, g, memory_order_release);

    /* Inserts that found `old` open while we counted were not reserved for. Now that new
     * inserts go to g, only those already under way (one per thread at most) can still add
     * keys to `old`: count again and keep room for all of them, or the copy could find g
     * filled by application inserts and wait for frees that may never come. */
    uint64_t reserve = count_keys(old, &tombs) + lt_threads_count() + 1;
    if (reserve > live + 1) {
        uint64_t limit = g->slots - lt_min(g->slots - 1, reserve);
        uint64_t was = atomic_load_explicit(&g->insert_limit, memory_order_relaxed);
        while (limit < was &&
               !atomic_compare_exchange_weak_explicit(&g->insert_limit, &was, limit,
                                                      memory_order_relaxed, memory_order_relaxed))
            ;
    }

    uint64_t migrated = 0, lost = 0;
    for (uint64_t i = 0; i < old->slots; i++) {
        struct lt_slot *sl = &old->slot[i];
        unsigned spins = 0;
        uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
        for (;;) {
            if (k == LT_KEY_EMPTY || k == LT_KEY_TOMB) {
                if (atomic_compare_exchange_weak_explicit(&sl->key, &k, LT_KEY_MOVED_EMPTY,
                                                          memory_order_acq_rel,
                                                          memory_order_acquire))
                    break;
                continue;
            }
            if (lt_key_is_busy(k)) {
                /* An insert is writing this slot; wait for it, unless its thread is gone
                 * (a fork child inherits the slot but not the thread). A thread that has
                 * only been marked exited may still be running its last destructors and
                 * inserting: it must be gone from the kernel too. */
                struct lt_thread *owner = lt_thread_get((uint32_t)(k >> 3));
                if (owner && !(atomic_load(&owner->state) & LT_THREAD_ALIVE) &&
                    thread_is_gone(owner)) {
                    if (atomic_compare_exchange_weak_explicit(&sl->key, &k, LT_KEY_MOVED_EMPTY,
                                                              memory_order_acq_rel,
                                                              memory_order_acquire))
                        break;
                    continue;
                }
                wait_a_little(&spins);
                k = atomic_load_explicit(&sl->key, memory_order_acquire);
                continue;
            }
            if (atomic_compare_exchange_weak_explicit(&sl->key, &k, k | LT_KEY_MIGRATING,
                                                      memory_order_acq_rel, memory_order_acquire)) {
                uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
                /* FULL should not happen: g reserves room for every key counted after
                 * `next` was published. Should it still, wait a while for a free, then
                 * give the record up rather than the host's progress: inserts into g wait
                 * for this migration to end. */
                enum insert_result r;
                unsigned full_spins = 0;
                while ((r = insert_into(g, lt_hash_addr(k), k, meta, where,
                                        lt_busy_key(LT_THREAD_OVERFLOW), &migrated, true)) ==
                           FULL &&
                       full_spins < FULL_PATIENCE)
                    wait_a_little(&full_spins);
                if (r == FULL) {
                    lost++;
                    atomic_store_explicit(&sl->key, LT_KEY_MOVED_EMPTY, memory_order_release);
                } else {
                    atomic_store_explicit(&sl->key, k | LT_KEY_MOVED, memory_order_release);
                }
                break;
            }
        }
    }
    if (lt_unlikely(lost)) {
        atomic_fetch_add_explicit(&lost_records, lost, memory_order_relaxed);
        lt_log_once("a table rebuild found no room for %llu records: those blocks are no "
                    "longer tracked (their frees will count as unknown)",
                    (unsigned long long)lost);
    }
    /* Application inserts may now fill the generation like any other. */
    atomic_store_explicit(&g->limited, false, memory_order_release);
    atomic_store_explicit(&s->slots_hint, g->slots, memory_order_relaxed);
    atomic_store_explicit(&s->current, g, memory_order_release);
    atomic_fetch_add_explicit(&migrations, 1, memory_order_relaxed);
    release(s);
    retire(old);
    /* Only a request for the generation just replaced is done; a newer one stays. */
    struct lt_generation *expected = old;
    atomic_compare_exchange_strong_explicit(&s->wanted, &expected, NULL, memory_order_acq_rel,
                                            memory_order_relaxed);
    /* In an allocating thread: wait at most 200 us; the worker thread retries later. */
    lt_table_reclaim(self, 200 * 1000);
    return MIGRATED;
}

void lt_table_set_maintainer(void (*wake)(void))
{
    atomic_store_explicit(&maintainer_wake, wake, memory_order_release);
}

void lt_table_maintain(struct lt_thread *self)
{
    for (unsigned si = 0; si < LT_TABLE_SHARDS; si++) {
        struct lt_shard *s = &lt_shards[si];
        struct lt_generation *crowded = atomic_load_explicit(&s->wanted, memory_order_acquire);
        if (!crowded)
            continue;
        unsigned spins = 0;
        enum migrate_result m;
        while ((m = migrate(self, s, crowded, REBUILD_CROWDED)) == HELD_ELSEWHERE)
            wait_a_little(&spins); /* a scan holds it */
        /* NOT_NEEDED: rebuilt meanwhile. Out of memory: a later crowded insert asks again. */
        if (m != MIGRATED)
            atomic_compare_exchange_strong_explicit(&s->wanted, &crowded, NULL,
                                                    memory_order_acq_rel, memory_order_relaxed);
    }
}

void lt_table_compact(struct lt_thread *self)
{
    for (unsigned si = 0; si < LT_TABLE_SHARDS; si++) {
        struct lt_shard *s = &lt_shards[si];
        lt_table_enter(self);
        struct lt_generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
        uint64_t live = 0;
        for (uint64_t i = 0; i < g->slots; i++)
            live += lt_key_is_block(atomic_load_explicit(&g->slot[i].key, memory_order_relaxed));
        /* Eight, not four: a clustered shard may have been doubled to four slots per live
         * block, and shrinking it back would rebuild the clusters. */
        bool oversized = g->slots > 8 * live + MIN_SLOTS;
        lt_table_leave(self);
        if (oversized)
            migrate(self, s, g, REBUILD_OVERSIZED); /* sizes it for 2 x live */
    }
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

void lt_table_scan(struct lt_thread *self, lt_table_visit_fn visit, void *ctx)
{
    for (unsigned si = 0; si < LT_TABLE_SHARDS; si++) {
        struct lt_shard *s = &lt_shards[si];
        hold(s); /* no migration may move keys under the scan */
        lt_table_enter(self);
        struct lt_generation *g = atomic_load_explicit(&s->current, memory_order_acquire);
        for (uint64_t i = 0; i < g->slots; i++) {
            struct lt_slot *sl = &g->slot[i];
            /* The key alone does not prove meta and where belong to it: a free and a malloc
             * of the same address (LIFO reuse) can refill this very slot between our reads.
             * Two reads that agree, with the key unchanged around both, make a torn record
             * very unlikely; a slot that keeps changing is skipped (it is churning). */
            for (unsigned tries = 0; tries < 4; tries++) {
                uint64_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
                if (!lt_key_is_block(k))
                    break;
                uint64_t meta = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                uint64_t where = atomic_load_explicit(&sl->where, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                uint64_t meta2 = atomic_load_explicit(&sl->meta, memory_order_relaxed);
                uint64_t where2 = atomic_load_explicit(&sl->where, memory_order_relaxed);
                atomic_thread_fence(memory_order_acquire);
                if (atomic_load_explicit(&sl->key, memory_order_relaxed) != k || meta2 != meta ||
                    where2 != where)
                    continue;
                struct lt_block b;
                lt_unpack(k, meta, where, &b);
                visit(&b, ctx);
                break;
            }
        }
        lt_table_leave(self);
        release(s);
    }
}

void lt_table_scan_frozen(lt_table_visit_fn visit, void *ctx)
{
    for (unsigned si = 0; si < LT_TABLE_SHARDS; si++) {
        struct lt_generation *g = atomic_load_explicit(&lt_shards[si].current,
                                                       memory_order_relaxed);
        /* A migration caught half-way: its keys are in this generation (MIGRATING: still
         * here, perhaps copied too) or in the next one (MOVED). */
        for (; g; g = atomic_load_explicit(&g->next, memory_order_relaxed)) {
            for (uint64_t i = 0; i < g->slots; i++) {
                struct lt_slot *sl = &g->slot[i];
                uint64_t k = atomic_load_explicit(&sl->key, memory_order_relaxed);
                if (!lt_key_is_block(k) || (k & LT_KEY_MOVED))
                    continue;
                struct lt_block b;
                lt_unpack(k & ~(uint64_t)LT_KEY_FLAGS,
                          atomic_load_explicit(&sl->meta, memory_order_relaxed),
                          atomic_load_explicit(&sl->where, memory_order_relaxed), &b);
                visit(&b, ctx);
            }
        }
    }
}

void lt_table_stats(struct lt_table_stats *out)
{
    memset(out, 0, sizeof(*out));
    /* Held first: a generation replaced while we read it is retired, and retired ones are
     * unmapped only under this lock, so none can vanish under us. */
    pthread_mutex_lock(&retired.lock);
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++) {
        struct lt_generation *g = atomic_load_explicit(&lt_shards[i].current, memory_order_acquire);
        out->slots += g->slots;
        out->bytes += g->map_bytes;
    }
    for (unsigned i = 0; i < retired.count; i++)
        out->bytes += retired.gen[i]->map_bytes;
    pthread_mutex_unlock(&retired.lock);
    out->migrations = atomic_load_explicit(&migrations, memory_order_relaxed);
    out->lost_records = atomic_load_explicit(&lost_records, memory_order_relaxed);
}

void lt_table_fork_prepare(void)
{
    pthread_mutex_lock(&retired.lock);
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++)
        hold(&lt_shards[i]);
}

void lt_table_fork_parent(void)
{
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++)
        release(&lt_shards[i]);
    pthread_mutex_unlock(&retired.lock);
}

void lt_table_fork_child(void)
{
    for (unsigned i = 0; i < LT_TABLE_SHARDS; i++)
        release(&lt_shards[i]);
    pthread_mutex_init(&retired.lock, NULL);
}
