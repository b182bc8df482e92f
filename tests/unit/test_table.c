/* Unit tests of the live-block table: exact contents through growth, cross-thread removal,
 * concurrent insert/remove from 8 threads, scans during churn, and reclamation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"
#include "threads.h"

#ifdef THROUGH_NURSERY
/* The same tests through the nurseries in front of the table (test_nursery): evictions,
 * frees of another thread's young blocks, and scans that must see a moving block once. */
#include "nursery.h"
#include "options.h"
#define lt_table_insert lt_nursery_insert
#define lt_table_remove lt_nursery_remove
#define lt_table_scan lt_nursery_scan
#endif

static struct lt_thread *me(void)
{
    static __thread struct lt_thread *self;
    if (!self)
        self = lt_thread_attach();
    return self;
}

/* Distinct fake heap addresses: 16-aligned, well away from page 0. */
static uint64_t addr_of(uint64_t owner, uint64_t i)
{
    return 0x100000000000ull + (owner << 32) + i * 16;
}

static struct lt_block block(uint64_t addr, uint64_t i, uint32_t thread)
{
    return (struct lt_block){.addr = addr, .size = i % 5000 + 1, .stack = (uint32_t)(i % 977),
                             .time_cs = (uint32_t)i, .thread = thread, .kind = i % 13};
}

#ifdef THROUGH_NURSERY
/* As the tracker does: an ended thread's young blocks go to the table. */
static void release_young(struct lt_thread *self, struct lt_thread *t)
{
    lt_nursery_release(self, t);
}
#define RELEASE release_young
#else
#define RELEASE NULL
#endif

static int setup(void **state)
{
    (void)state;
    static int done;
    if (!done) {
        assert_int_equal(lt_threads_init(RELEASE), 0);
        assert_int_equal(lt_table_init(), 0);
#ifdef THROUGH_NURSERY
        assert_int_equal(lt_nursery_init(), 0);
        assert_true(lt_nursery_on);
#endif
        done = 1;
    }
    return 0;
}

struct count_ctx {
    uint64_t blocks, bytes;
    uint64_t lo, hi; /* only count addresses in [lo, hi) */
};

static void count_visit(const struct lt_block *b, void *ctx)
{
    struct count_ctx *c = ctx;
    if (b->addr >= c->lo && b->addr < c->hi) {
        c->blocks++;
        c->bytes += b->size;
    }
}

static struct count_ctx count_range(uint64_t lo, uint64_t hi)
{
    struct count_ctx c = {.lo = lo, .hi = hi};
    lt_table_scan(me(), count_visit, &c);
    return c;
}

static void insert_remove_roundtrip(void **state)
{
    (void)state;
    const uint64_t n = 1000;
    for (uint64_t i = 0; i < n; i++) {
        struct lt_block b = block(addr_of(1, i), i, me()->idx);
        assert_int_equal(lt_table_insert(me(), &b), 0);
    }
    assert_int_equal(count_range(addr_of(1, 0), addr_of(1, n)).blocks, n);
    for (uint64_t i = 0; i < n; i++) {
        struct lt_block got, want = block(addr_of(1, i), i, me()->idx);
        assert_true(lt_table_remove(me(), addr_of(1, i), &got));
        assert_int_equal(got.addr, want.addr);
        assert_int_equal(got.size, want.size);
        assert_int_equal(got.stack, want.stack);
        assert_int_equal(got.time_cs, want.time_cs);
        assert_int_equal(got.thread, want.thread);
        assert_int_equal(got.kind, want.kind);
        assert_false(lt_table_remove(me(), addr_of(1, i), &got)); /* gone */
    }
    assert_int_equal(count_range(addr_of(1, 0), addr_of(1, n)).blocks, 0);
}

static void unknown_remove_is_false(void **state)
{
    (void)state;
    struct lt_block got;
    assert_false(lt_table_remove(me(), addr_of(2, 12345), &got));
}

static void large_sizes_saturate(void **state)
{
    (void)state;
    struct lt_block b = block(addr_of(3, 1), 1, me()->idx), got;
    b.size = 1ull << 45;
    assert_int_equal(lt_table_insert(me(), &b), 0);
    assert_true(lt_table_remove(me(), b.addr, &got));
    assert_int_equal(got.size, LT_BLOCK_SIZE_MAX);
}

static void growth_keeps_every_block(void **state)
{
    (void)state;
    struct lt_table_stats before, after;
    lt_table_stats(&before);
    const uint64_t n = 300000;
    for (uint64_t i = 0; i < n; i++) {
        struct lt_block b = block(addr_of(4, i), i, me()->idx);
        assert_int_equal(lt_table_insert(me(), &b), 0);
    }
    lt_table_stats(&after);
    assert_true(after.migrations > before.migrations);
    assert_true(after.slots >= n);
    /* Load stays between 1/2 and 3/4 after growth: at most 48 bytes of slots per block. */
    assert_true(after.slots * 24 <= n * 48 + LT_TABLE_SHARDS * 64 * 24 * 2);
    struct count_ctx c = count_range(addr_of(4, 0), addr_of(4, n));
    assert_int_equal(c.blocks, n);
    for (uint64_t i = 0; i < n; i += 2) {
        struct lt_block got;
        assert_true(lt_table_remove(me(), addr_of(4, i), &got));
        assert_int_equal(got.size, i % 5000 + 1);
    }
    assert_int_equal(count_range(addr_of(4, 0), addr_of(4, n)).blocks, n / 2);
    for (uint64_t i = 1; i < n; i += 2) {
        struct lt_block got;
        assert_true(lt_table_remove(me(), addr_of(4, i), &got));
    }
    assert_int_equal(count_range(addr_of(4, 0), addr_of(4, n)).blocks, 0);
    /* Nobody else is inside the table: retired generations can all be unmapped. */
    assert_int_equal(lt_table_reclaim(me(), 1000 * 1000 * 1000), 0);
}

/* Growth without a maintenance thread (a single-threaded program: the inserting thread
 * rebuilds) on the addresses a real heap hands out: chunks of 32..96 bytes in a repeating
 * pattern, and random ones. Each rebuild must make progress: a shard rebuilt at the same size
 * would keep the same long runs and be crowded again at once (this used to loop forever). */
static void growth_without_maintainer(void **state)
{
    (void)state;
    lt_table_compact(me());
    lt_table_reclaim(me(), 1000 * 1000 * 1000);
    const uint64_t n = 400000;
    uint64_t *addrs = malloc(n * sizeof(*addrs));
    assert_non_null(addrs);
    for (int pattern = 0; pattern < 2; pattern++) {
        struct lt_table_stats before, after;
        lt_table_stats(&before);
        uint64_t a = 0x200000000000ull, rng = 0x9E3779B97F4A7C15ull;
        for (uint64_t i = 0; i < n; i++) {
            if (pattern == 0) {
                uint64_t chunk = (16 + i % 64 + 8 + 15) & ~15ull; /* glibc: size + header */
                a += chunk < 32 ? 32 : chunk;
            } else {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                a = 0x300000000000ull + (rng % (1ull << 36)) * 16;
            }
            addrs[i] = a;
            struct lt_block b = block(a, i, me()->idx);
            assert_int_equal(lt_table_insert(me(), &b), 0);
        }
        lt_table_stats(&after);
        uint64_t rebuilds = after.migrations - before.migrations;
        /* A rebuild grows a shard by 2 x its load when crowded: 1.5 at a load of 3/4. Even
         * at 1.25 a shard would need log1.25(2 n / 64 / 64) = 24 rebuilds. */
        assert_true(rebuilds <= LT_TABLE_SHARDS * 24);
        assert_true(after.slots * 24 <= n * 48 * 2);
        for (uint64_t i = 0; i < n; i++) {
            struct lt_block got;
            assert_true(lt_table_remove(me(), addrs[i], &got));
        }
        lt_table_compact(me());
        assert_int_equal(lt_table_reclaim(me(), 1000 * 1000 * 1000), 0);
    }
    free(addrs);
}

/* After a mass free, compaction gives the memory back. */
static void compaction_shrinks(void **state)
{
    (void)state;
    struct lt_table_stats before, after;
    lt_table_stats(&before);
    lt_table_compact(me());
    assert_int_equal(lt_table_reclaim(me(), 1000 * 1000 * 1000), 0);
    lt_table_stats(&after);
    assert_true(before.slots > 300000); /* left by growth_keeps_every_block */
    assert_true(after.slots <= LT_TABLE_SHARDS * 128);
}

/* Tombstones from churn at a constant live count must not make the table grow. */
static void churn_reuses_space(void **state)
{
    (void)state;
    const uint64_t live = 5000;
    for (uint64_t i = 0; i < live; i++) {
        struct lt_block b = block(addr_of(5, i), i, me()->idx);
        assert_int_equal(lt_table_insert(me(), &b), 0);
    }
    for (uint64_t round = 1; round < 200; round++) {
        for (uint64_t i = 0; i < live; i++) {
            struct lt_block got;
            assert_true(lt_table_remove(me(), addr_of(5, (round - 1) * live + i), &got));
            struct lt_block b = block(addr_of(5, round * live + i), i, me()->idx);
            assert_int_equal(lt_table_insert(me(), &b), 0);
        }
    }
    struct lt_table_stats st;
    lt_table_stats(&st);
    assert_true(st.slots <= 4 * live + LT_TABLE_SHARDS * 64);
    assert_int_equal(count_range(addr_of(5, 0), addr_of(6, 0)).blocks, live);
    for (uint64_t i = 0; i < live; i++) {
        struct lt_block got;
        assert_true(lt_table_remove(me(), addr_of(5, 199 * live + i), &got));
    }
}

/* lt_table_prefetch and lt_table_stats run outside the critical section that grace periods
 * wait for: while generations are rebuilt and unmapped under them, they must not touch
 * one (an earlier prefetch read the generation's size and crashed here). */
static _Atomic int outside_stop;

static void *prefetch_everywhere(void *arg)
{
    (void)arg;
    uint64_t i = 0;
    while (!atomic_load_explicit(&outside_stop, memory_order_relaxed))
        lt_table_prefetch(addr_of(8, i++ % 4096));
    return NULL;
}

static void *stats_again_and_again(void *arg)
{
    uint64_t *slots = arg;
    while (!atomic_load_explicit(&outside_stop, memory_order_relaxed)) {
        struct lt_table_stats st;
        lt_table_stats(&st);
        *slots += st.slots != 0;
    }
    return NULL;
}

static void readers_outside_during_rebuilds(void **state)
{
    (void)state;
    pthread_t prefetchers[2], stats;
    uint64_t stats_reads = 0;
    atomic_store(&outside_stop, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&prefetchers[i], NULL, prefetch_everywhere, NULL), 0);
    assert_int_equal(pthread_create(&stats, NULL, stats_again_and_again, &stats_reads), 0);
    for (uint64_t round = 0; round < 40; round++) {
        /* grow every shard (rebuilds), empty it, shrink it back (more rebuilds), unmap */
        for (uint64_t i = 0; i < 20000; i++) {
            struct lt_block b = block(addr_of(8, i), i, me()->idx);
            assert_int_equal(lt_table_insert(me(), &b), 0);
        }
        for (uint64_t i = 0; i < 20000; i++) {
            struct lt_block got;
            assert_true(lt_table_remove(me(), addr_of(8, i), &got));
        }
        lt_table_compact(me());
        lt_table_reclaim(me(), 100 * 1000 * 1000);
    }
    atomic_store(&outside_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(prefetchers[i], NULL);
    pthread_join(stats, NULL);
    assert_true(stats_reads > 0);
    struct lt_table_stats st;
    lt_table_stats(&st);
    assert_int_equal(st.lost_records, 0);
}

/* Producer inserts, consumer removes: every free is cross-thread. */
struct handoff {
    uint64_t *ring;
    size_t size;
    _Atomic size_t head, tail;
    uint64_t total;
    _Atomic uint64_t found;
    _Atomic uint64_t insert_failures; /* cmocka asserts only work in the main thread */
};

static void *producer(void *arg)
{
    struct handoff *h = arg;
    for (uint64_t i = 0; i < h->total; i++) {
        struct lt_block b = block(addr_of(6, i), i, me()->idx);
        if (lt_table_insert(me(), &b) != 0)
            atomic_fetch_add(&h->insert_failures, 1);
        while (atomic_load(&h->head) - atomic_load(&h->tail) == h->size)
            sched_yield();
        h->ring[atomic_load(&h->head) % h->size] = b.addr;
        atomic_fetch_add(&h->head, 1);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct handoff *h = arg;
    for (uint64_t i = 0; i < h->total; i++) {
        while (atomic_load(&h->tail) == atomic_load(&h->head))
            sched_yield();
        uint64_t addr = h->ring[atomic_load(&h->tail) % h->size];
        atomic_fetch_add(&h->tail, 1);
        struct lt_block got;
        if (lt_table_remove(me(), addr, &got) && got.addr == addr)
            atomic_fetch_add(&h->found, 1);
    }
    return NULL;
}

static void cross_thread_removal(void **state)
{
    (void)state;
    uint64_t ring[4096];
    struct handoff h = {.ring = ring, .size = 4096, .total = 200000};
    pthread_t p, c;
    pthread_create(&p, NULL, producer, &h);
    pthread_create(&c, NULL, consumer, &h);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    assert_int_equal(atomic_load(&h.insert_failures), 0);
    assert_int_equal(atomic_load(&h.found), h.total);
    assert_int_equal(count_range(addr_of(6, 0), addr_of(6, h.total)).blocks, 0);
#ifdef THROUGH_NURSERY
    /* Both ways out of the producer's nursery were taken: freed there by the consumer, and
     * moved to the table to make room. */
    struct lt_nursery_stats ns;
    lt_nursery_stats(&ns);
    print_message("%llu evictions, %llu frees from another thread's nursery\n",
                  (unsigned long long)ns.evictions, (unsigned long long)ns.remote_frees);
    assert_true(ns.evictions > 1000 && ns.remote_frees > 1000);
#endif
}

/* 8 threads insert and remove; half of the removes hit blocks another thread inserted.
 * Each thread ends with a known set; the table must hold exactly their union. */
#define WORKERS 8
#define PER_WORKER 40000

struct worker {
    unsigned id;
    uint64_t kept;        /* blocks still live at the end */
    uint64_t kept_bytes;
    uint64_t failures;
};

static _Atomic uint64_t mailboxes[WORKERS][PER_WORKER];

#define LAG 256

static void take_offer(struct worker *w, uint64_t i)
{
    unsigned from = (w->id + WORKERS - 1) % WORKERS;
    uint64_t addr;
    while (!(addr = atomic_load(&mailboxes[from][i])))
        sched_yield();
    struct lt_block got;
    if (!lt_table_remove(me(), addr, &got) || got.addr != addr)
        w->failures++;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t owner = 16 + w->id;
    for (uint64_t i = 0; i < PER_WORKER; i++) {
        struct lt_block b = block(addr_of(owner, i), i, me()->idx);
        if (lt_table_insert(me(), &b) != 0)
            w->failures++;
        if (i % 2 == 0) {
            /* Give every second block to the next worker to free. */
            atomic_store(&mailboxes[w->id][i], b.addr);
        } else if (i % 3 == 0) {
            struct lt_block got;
            if (!lt_table_remove(me(), b.addr, &got))
                w->failures++;
        } else {
            w->kept++;
            w->kept_bytes += b.size;
        }
        /* Free what the previous worker offered a little earlier, waiting if need be. */
        if (i % 2 == 0 && i >= LAG)
            take_offer(w, i - LAG);
    }
    for (uint64_t i = PER_WORKER - LAG; i < PER_WORKER; i++)
        if (i % 2 == 0)
            take_offer(w, i);
    return NULL;
}

static void concurrent_exact_count(void **state)
{
    (void)state;
    pthread_t t[WORKERS];
    struct worker w[WORKERS];
    for (unsigned i = 0; i < WORKERS; i++) {
        w[i] = (struct worker){.id = i};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    uint64_t kept = 0, kept_bytes = 0;
    for (unsigned i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
        kept += w[i].kept;
        kept_bytes += w[i].kept_bytes;
    }
    struct count_ctx c = count_range(addr_of(16, 0), addr_of(16 + WORKERS, 0));
    assert_int_equal(c.blocks, kept);
    assert_int_equal(c.bytes, kept_bytes);
    /* Clean up so later tests start from a known table. */
    for (unsigned i = 0; i < WORKERS; i++)
        for (uint64_t j = 1; j < PER_WORKER; j += 2)
            if (j % 3 != 0) {
                struct lt_block got;
                assert_true(lt_table_remove(me(), addr_of(16 + i, j), &got));
            }
    assert_int_equal(lt_table_reclaim(me(), 1000 * 1000 * 1000), 0);
}

/* A scan during churn sees every stable block exactly once, and every churn block it
 * reports was live at some moment of the scan (its record is never stale or torn). */
static _Atomic int churn_stop;
static _Atomic uint64_t churn_progress[3];

static void *churner(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    uint64_t owner = 41 + k, i = 0;
    while (!atomic_load(&churn_stop)) {
        struct lt_block b = block(addr_of(owner, i % 100000), i, me()->idx), got;
        b.time_cs = (uint32_t)i; /* lets the scan check when the block was live */
        lt_table_insert(me(), &b);
        if (i >= 1000)
            lt_table_remove(me(), addr_of(owner, (i - 1000) % 100000), &got);
        atomic_store(&churn_progress[k], ++i);
    }
    for (uint64_t j = i > 1000 ? i - 1000 : 0; j < i; j++) {
        struct lt_block got;
        lt_table_remove(me(), addr_of(owner, j % 100000), &got);
    }
    return NULL;
}

struct churn_check {
    uint64_t before[3], newest[3];
    uint64_t stable, stale;
};

static void churn_visit(const struct lt_block *b, void *ctx)
{
    struct churn_check *c = ctx;
    if (b->addr >= addr_of(40, 0) && b->addr < addr_of(41, 0)) {
        c->stable++;
        return;
    }
    if (b->addr < addr_of(41, 0) || b->addr >= addr_of(44, 0))
        return;
    unsigned k = (unsigned)((b->addr - addr_of(41, 0)) >> 32);
    uint64_t i = b->time_cs;
    /* Block i is live from insert i (counter i -> i+1) until insert i+1000 removes it. */
    if (i > c->newest[k])
        c->newest[k] = i; /* checked against the progress after the scan */
    if (i + 1001 <= c->before[k] || b->addr != addr_of(41 + k, i % 100000) ||
        b->size != i % 5000 + 1) {
        if (c->stale++ < 5)
            fprintf(stderr, "stale: thread %u block %llu (progress before scan %llu) "
                    "addr %llx size %llu\n", k, (unsigned long long)i,
                    (unsigned long long)c->before[k], (unsigned long long)b->addr,
                    (unsigned long long)b->size);
    }
}

static void scan_during_churn(void **state)
{
    (void)state;
    const uint64_t stable = 50000;
    for (uint64_t i = 0; i < stable; i++) {
        struct lt_block b = block(addr_of(40, i), i, me()->idx);
        assert_int_equal(lt_table_insert(me(), &b), 0);
    }
    pthread_t t[3];
    atomic_store(&churn_stop, 0);
    for (uintptr_t i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, churner, (void *)i);
    for (int round = 0; round < 20; round++) {
        struct churn_check c = {0};
        for (int k = 0; k < 3; k++)
            c.before[k] = atomic_load(&churn_progress[k]);
        lt_table_scan(me(), churn_visit, &c);
        for (int k = 0; k < 3; k++)
            assert_true(c.newest[k] <= atomic_load(&churn_progress[k]));
        assert_int_equal(c.stable, stable);
        assert_int_equal(c.stale, 0);
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(count_range(addr_of(41, 0), addr_of(44, 0)).blocks, 0);
    for (uint64_t i = 0; i < stable; i++) {
        struct lt_block got;
        assert_true(lt_table_remove(me(), addr_of(40, i), &got));
    }
}

/* With a maintenance thread registered, crowded shards are rebuilt there while 4 threads
 * keep inserting and removing; the live set stays exact. */
static _Atomic int wakes, maint_stop;

static void count_wake(void)
{
    atomic_fetch_add(&wakes, 1);
}

static void *maintainer(void *arg)
{
    (void)arg;
    while (!atomic_load(&maint_stop)) {
        lt_table_maintain(me());
        sched_yield();
    }
    return NULL;
}

static void *bg_worker(void *arg)
{
    uint64_t owner = 60 + (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < 60000; i++) {
        struct lt_block b = block(addr_of(owner, i), i, me()->idx), got;
        lt_table_insert(me(), &b);
        if (i % 3 == 0)
            lt_table_remove(me(), addr_of(owner, i / 3), &got);
    }
    return NULL;
}

static void background_rebuilds(void **state)
{
    (void)state;
    /* Start small, as after start-up: earlier tests left room for hundreds of thousands. */
    lt_table_compact(me());
    lt_table_reclaim(me(), 1000 * 1000 * 1000);
    struct lt_table_stats before, after;
    lt_table_stats(&before);
    assert_true(before.slots < 8 * 4 * 60000 / 10);
    lt_table_set_maintainer(count_wake);
    atomic_store(&maint_stop, 0);
    pthread_t m, w[4];
    pthread_create(&m, NULL, maintainer, NULL);
    for (uintptr_t i = 0; i < 4; i++)
        pthread_create(&w[i], NULL, bg_worker, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(w[i], NULL);
    atomic_store(&maint_stop, 1);
    pthread_join(m, NULL);
    lt_table_set_maintainer(NULL);
    lt_table_stats(&after);
    assert_true(atomic_load(&wakes) > 0);
    assert_true(after.migrations > before.migrations);
    /* each worker removed i/3 for every i divisible by 3: blocks 0 .. 19999 */
    struct count_ctx c = count_range(addr_of(60, 0), addr_of(64, 0));
    assert_int_equal(c.blocks, 4 * (60000 - 20000));
    for (uint64_t o = 60; o < 64; o++)
        for (uint64_t i = 20000; i < 60000; i++) {
            struct lt_block got;
            assert_true(lt_table_remove(me(), addr_of(o, i), &got));
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(insert_remove_roundtrip, setup),
        cmocka_unit_test_setup(unknown_remove_is_false, setup),
        cmocka_unit_test_setup(large_sizes_saturate, setup),
        cmocka_unit_test_setup(growth_keeps_every_block, setup),
        cmocka_unit_test_setup(compaction_shrinks, setup),
        cmocka_unit_test_setup(growth_without_maintainer, setup),
        cmocka_unit_test_setup(churn_reuses_space, setup),
        cmocka_unit_test_setup(cross_thread_removal, setup),
        cmocka_unit_test_setup(concurrent_exact_count, setup),
        cmocka_unit_test_setup(scan_during_churn, setup),
        cmocka_unit_test_setup(background_rebuilds, setup),
        cmocka_unit_test_setup(readers_outside_during_rebuilds, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
