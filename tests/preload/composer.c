/* composer.c — test `composer`: preload/composer.c, a snapshot from the shim's tables, from
 * inside a process running the whole shim.
 *
 *   contents     three threads (two named with pthread_setname_np) hold blocks of their own,
 *                written with known bytes, from functions in sections of their own; one
 *                leaktag_snapshot() must hold exactly those blocks (addresses, sizes, kinds,
 *                the thread each belongs to), their stacks (frame 0 inside the function that
 *                called malloc, frame 1 inside its caller, one stack per site), each thread
 *                with its name, tid and live counts, COUNTERS equal to leaktag_stats (live
 *                blocks and bytes, allocations, frees, threads), and per stack
 *                LEAKTAG_SAMPLES (8) samples whose bytes are what the program wrote (up to
 *                LEAKTAG_SAMPLE_BYTES, 256)
 *   nonblocking  while one thread writes snapshots of a million blocks in a loop, another's
 *                malloc/free pairs never wait for a whole snapshot: no pair that slept (a
 *                voluntary context switch) or spun (ran for most of its time) takes 50 ms,
 *                while a snapshot takes well over that (pairs the machine merely preempted
 *                are reported, not held against the composer)
 *
 * tests/snapshot/snapshot_test.c (signal8) checks a stable set under churn by size; this test
 * checks every field the composer fills from the tables against what the program knows, and
 * the composer's promise to never block an application thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "shim_probe.h"

/* ---- contents --------------------------------------------------------------------------- */

#define NA 20 /* blocks of thread comp-a: malloc, 300 bytes (samples cut at 256) */
#define NB 12 /* of thread comp-b: calloc, 100 bytes (samples whole) */
#define NM 5  /* of the main thread: malloc, 5000 bytes */
#define SIZE_A 300
#define SIZE_B 100
#define SIZE_M 5000

static void *blocks_a[NA], *blocks_b[NB], *blocks_m[NM];
static pid_t tid_a, tid_b;
static _Atomic int ready, done;

PROBE_RANGE_DECL(composer_alloc_a);
PROBE_RANGE_DECL(composer_alloc_b);
PROBE_RANGE_DECL(composer_alloc_m);
PROBE_RANGE_DECL(composer_thread_a);
PROBE_RANGE_DECL(composer_thread_b);
PROBE_RANGE_DECL(composer_main_blocks);

/* Each block starts with its own text and is filled with a byte of its own after it. */
static void fill(char *p, size_t size, char who, int i)
{
    memset(p, 'a' + i % 26, size);
    snprintf(p, size, "%c-block-%d", who, i);
}

PROBE_SECTION(composer_alloc_a) static void *alloc_a(int i)
{
    char *p = malloc(SIZE_A);
    fill(p, SIZE_A, 'A', i);
    return p;
}

PROBE_SECTION(composer_alloc_b) static void *alloc_b(int i)
{
    char *p = calloc(1, SIZE_B);
    fill(p, SIZE_B, 'B', i);
    return p;
}

PROBE_SECTION(composer_alloc_m) static void *alloc_m(int i)
{
    char *p = malloc(SIZE_M);
    fill(p, SIZE_M, 'M', i);
    return p;
}

static void wait_done(void)
{
    while (!atomic_load(&done))
        probe_sleep_ms(1);
}

PROBE_SECTION(composer_thread_a) static void *thread_a(void *arg)
{
    tid_a = (pid_t)syscall(SYS_gettid);
    pthread_setname_np(pthread_self(), "comp-a");
    for (int i = 0; i < NA; i++)
        blocks_a[i] = alloc_a(i);
    atomic_fetch_add(&ready, 1);
    wait_done();
    return arg;
}

PROBE_SECTION(composer_thread_b) static void *thread_b(void *arg)
{
    tid_b = (pid_t)syscall(SYS_gettid);
    pthread_setname_np(pthread_self(), "comp-b");
    for (int i = 0; i < NB; i++)
        blocks_b[i] = alloc_b(i);
    atomic_fetch_add(&ready, 1);
    wait_done();
    return arg;
}

PROBE_SECTION(composer_main_blocks) static void main_blocks(void)
{
    for (int i = 0; i < NM; i++)
        blocks_m[i] = alloc_m(i);
    __asm__ __volatile__("" ::: "memory");
}

/* One site's blocks, as the program knows them. */
struct site {
    const char *name;
    void **blocks;
    int n;
    uint64_t size;
    uint8_t kind;
    pid_t tid;
    const char *thread_name;
    bool (*in_alloc)(uint64_t), (*in_caller)(uint64_t);
};

static bool in_alloc_a(uint64_t pc)
{
    return PROBE_IN_RANGE(composer_alloc_a, pc);
}
static bool in_alloc_b(uint64_t pc)
{
    return PROBE_IN_RANGE(composer_alloc_b, pc);
}
static bool in_alloc_m(uint64_t pc)
{
    return PROBE_IN_RANGE(composer_alloc_m, pc);
}
static bool in_thread_a(uint64_t pc)
{
    return PROBE_IN_RANGE(composer_thread_a, pc);
}
static bool in_thread_b(uint64_t pc)
{
    return PROBE_IN_RANGE(composer_thread_b, pc);
}
static bool in_main_blocks(uint64_t pc)
{
    return PROBE_IN_RANGE(composer_main_blocks, pc);
}

/* Checks one site's blocks, their stack and their thread; returns the thread's index. */
static uint32_t check_site(const struct lts_snapshot *s, const struct site *site,
                           uint32_t *stack_out)
{
    uint32_t stack = UINT32_MAX, thread = UINT32_MAX;
    for (int i = 0; i < site->n; i++) {
        const struct lts_block *b = probe_block(s, site->blocks[i]);
        if (!b)
            PROBE_FAIL("%s: block %d (%p) is not in the snapshot", site->name, i, site->blocks[i]);
        if (b->size != site->size || b->kind != site->kind)
            PROBE_FAIL("%s: block %d has size %llu kind %u, expected %llu kind %u", site->name, i,
                       (unsigned long long)b->size, b->kind, (unsigned long long)site->size,
                       site->kind);
        if (i && (b->stack != stack || b->thread != thread))
            PROBE_FAIL("%s: block %d has stack %u thread %u, block 0 stack %u thread %u",
                       site->name, i, b->stack, b->thread, stack, thread);
        stack = b->stack;
        thread = b->thread;
    }
    CHECK(stack < s->nstacks);
    const struct lts_stack *st = &s->stacks[stack];
    if (st->depth < 2 || !site->in_alloc(st->frames[0]) || !site->in_caller(st->frames[1]))
        PROBE_FAIL("%s: stack %u (depth %u: %#llx %#llx) is not malloc's caller then its caller",
                   site->name, stack, st->depth,
                   st->depth > 0 ? (unsigned long long)st->frames[0] : 0ull,
                   st->depth > 1 ? (unsigned long long)st->frames[1] : 0ull);
    /* The same site's blocks are all there is of that size: no extra record. */
    int same = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        same += s->blocks[i].size == site->size;
    if (same != site->n)
        PROBE_FAIL("%s: %d blocks of %llu bytes in the snapshot, the program has %d", site->name,
                   same, (unsigned long long)site->size, site->n);
    const struct lts_thread *t = lts_thread(s, thread);
    if (!t)
        PROBE_FAIL("%s: thread %u of its blocks is not in THREADS", site->name, thread);
    if (t->tid != (uint64_t)site->tid || strcmp(t->name, site->thread_name) ||
        !(t->state & LT_THREAD_FLAG_ALIVE) || (t->state & LT_THREAD_FLAG_INTERNAL))
        PROBE_FAIL("%s: thread %u is tid %llu \"%s\" state %u, expected tid %d \"%s\" alive",
                   site->name, thread, (unsigned long long)t->tid, t->name, t->state,
                   (int)site->tid, site->thread_name);
    *stack_out = stack;
    return thread;
}

struct sample_check {
    const struct site *site;
    uint32_t stack;
    int seen;
    const char *bad;
};

static int check_sample(void *ctx, size_t index, const struct lts_sample *sm, const uint8_t *bytes)
{
    (void)index;
    struct sample_check *c = ctx;
    if (sm->stack != c->stack)
        return 0;
    int i = 0;
    while (i < c->site->n && (uint64_t)(uintptr_t)c->site->blocks[i] != sm->addr)
        i++;
    if (i == c->site->n) {
        c->bad = "a sample of the site's stack is at an address the site does not hold";
        return 1;
    }
    uint64_t want = c->site->size < 256 ? c->site->size : 256;
    if (sm->len != want) {
        c->bad = "a sample's length is not min(size, LEAKTAG_SAMPLE_BYTES)";
        return 1;
    }
    if (memcmp(bytes, c->site->blocks[i], want) != 0) {
        c->bad = "a sample's bytes are not what the program wrote into its block";
        return 1;
    }
    c->seen++;
    return 0;
}

static int scenario_contents(void)
{
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, thread_a, NULL) == 0);
    CHECK(pthread_create(&tb, NULL, thread_b, NULL) == 0);
    main_blocks();
    while (atomic_load(&ready) != 2)
        probe_sleep_ms(1);
    char main_name[16] = {0};
    CHECK(pthread_getname_np(pthread_self(), main_name, sizeof(main_name)) == 0);

    struct leaktag_stats before = lt_test_stats();
    CHECK(leaktag_snapshot("contents") == 0);
    struct leaktag_stats after = lt_test_stats();
    CHECK(after.live_blocks == before.live_blocks && after.allocations == before.allocations);

    struct lts_snapshot *s = probe_load(getpid(), 1);
    CHECK(s->pid == (uint64_t)getpid() && s->seq == 1 && !strcmp(s->reason, "contents"));
    const struct site sites[] = {
        {"comp-a", blocks_a, NA, SIZE_A, LT_KIND_MALLOC, tid_a, "comp-a", in_alloc_a, in_thread_a},
        {"comp-b", blocks_b, NB, SIZE_B, LT_KIND_CALLOC, tid_b, "comp-b", in_alloc_b, in_thread_b},
        {"main", blocks_m, NM, SIZE_M, LT_KIND_MALLOC, getpid(), main_name, in_alloc_m,
         in_main_blocks},
    };
    for (size_t k = 0; k < sizeof(sites) / sizeof(sites[0]); k++) {
        uint32_t stack;
        uint32_t thread = check_site(s, &sites[k], &stack);
        /* A thread's live counts are its blocks in BLOCKS; the two threads own only these. */
        const struct lts_thread *t = lts_thread(s, thread);
        uint64_t blocks = 0, bytes = 0;
        for (size_t i = 0; i < s->nblocks; i++)
            if (s->blocks[i].thread == thread)
                blocks++, bytes += s->blocks[i].size;
        if (t->live_blocks != blocks || t->live_bytes != bytes)
            PROBE_FAIL("%s: THREADS says %llu live blocks / %llu bytes, BLOCKS %llu / %llu",
                       sites[k].name, (unsigned long long)t->live_blocks,
                       (unsigned long long)t->live_bytes, (unsigned long long)blocks,
                       (unsigned long long)bytes);
        if (k < 2 &&
            (blocks != (uint64_t)sites[k].n || bytes != (uint64_t)sites[k].n * sites[k].size))
            PROBE_FAIL("%s: the thread owns %llu blocks / %llu bytes, it allocated %d",
                       sites[k].name, (unsigned long long)blocks, (unsigned long long)bytes,
                       sites[k].n);
        struct sample_check c = {&sites[k], stack, 0, NULL};
        struct lts_error err;
        int rc = lts_samples_each(s, check_sample, &c, &err);
        if (rc != 0)
            PROBE_FAIL("%s: %s", sites[k].name, c.bad ? c.bad : err.message);
        int want = sites[k].n < 8 ? sites[k].n : 8;
        if (c.seen != want)
            PROBE_FAIL("%s: %d samples of its stack, expected %d", sites[k].name, c.seen, want);
    }
    /* Threads: the application's three alive, leaktag's own marked as such. */
    int app_alive = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *t = &s->threads[i];
        bool ours = !strncmp(t->name, "leaktag", 7);
        if (ours != !!(t->state & LT_THREAD_FLAG_INTERNAL))
            PROBE_FAIL("thread \"%s\" has state %u", t->name, t->state);
        app_alive += !ours && (t->state & LT_THREAD_FLAG_ALIVE);
    }
    CHECK_EQ(app_alive, 3);
    /* COUNTERS: what BLOCKS holds, and what leaktag_stats says of this quiet process. */
    uint64_t bytes = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        bytes += s->blocks[i].size;
    const struct {
        const char *name;
        uint64_t want;
    } counters[] = {
        {"live_blocks", s->nblocks},
        {"live_bytes", bytes},
        {"live_blocks", before.live_blocks},
        {"live_bytes", before.live_bytes},
        {"allocations", before.allocations},
        {"frees", before.frees},
        {"threads_alive", before.threads_alive},
        {"threads_seen", before.threads_seen},
        {"mismatches", before.mismatches},
        {"unknown_frees", before.unknown_frees},
        {"threads_alive", 3},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        uint64_t got = lts_counter(s, counters[i].name, UINT64_MAX);
        if (got != counters[i].want)
            PROBE_FAIL("COUNTERS %s is %llu, expected %llu", counters[i].name,
                       (unsigned long long)got, (unsigned long long)counters[i].want);
    }
    CHECK(lts_counter(s, "stacks", 0) == s->nstacks);
    lts_close(s);
    atomic_store(&done, 1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    return 0;
}

/* ---- nonblocking -------------------------------------------------------------------------- */

#define HEAP_BLOCKS 1000000
#define BOUND_NS (50 * 1000000ll) /* "not blocked for a whole snapshot", with room for noise */
#define SNAPSHOTS 8

static _Atomic int writing; /* 1 while the snapshot thread is inside leaktag_snapshot */
static _Atomic int finished;
static int64_t snapshot_ns[SNAPSHOTS];

static void *snapshot_loop(void *arg)
{
    for (int i = 0; i < SNAPSHOTS; i++) {
        int64_t t0 = probe_now_ns();
        atomic_store(&writing, 1);
        int rc = leaktag_snapshot("loop");
        atomic_store(&writing, 0);
        snapshot_ns[i] = probe_now_ns() - t0;
        if (rc != 0)
            PROBE_FAIL("snapshot %d failed: %d", i + 1, rc);
    }
    atomic_store(&finished, 1);
    return arg;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One malloc/free pair: how long it took, how much of it this thread ran, and whether it
 * went to sleep (a voluntary context switch: a lock, a futex) on the way. A pair that took
 * long only because the machine ran something else (involuntary switches, no CPU time) is
 * not the composer's doing; one that slept or spun is. */
struct pair {
    int64_t wall, cpu;
    long slept, preempted;
};

static struct pair one_pair(void)
{
    struct rusage a, b;
    getrusage(RUSAGE_THREAD, &a);
    int64_t c0 = thread_cpu_ns(), t0 = probe_now_ns();
    void *p = malloc(64);
    *(volatile char *)p = 1;
    free(p);
    int64_t t1 = probe_now_ns(), c1 = thread_cpu_ns();
    getrusage(RUSAGE_THREAD, &b);
    return (struct pair){t1 - t0, c1 - c0, b.ru_nvcsw - a.ru_nvcsw, b.ru_nivcsw - a.ru_nivcsw};
}

static int cmp_ns(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int scenario_nonblocking(void)
{
    static void *heap[HEAP_BLOCKS];
    for (int i = 0; i < HEAP_BLOCKS; i++)
        heap[i] = malloc(16 + (size_t)(i % 64));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, snapshot_loop, NULL) == 0);
    struct pair worst = {0}, worst_held = {0}; /* of all pairs; of those that slept or spun */
    long during = 0;
    while (!atomic_load(&finished)) {
        int before = atomic_load(&writing);
        struct pair p = one_pair();
        if (!before || !atomic_load(&writing))
            continue; /* only pairs made wholly while a snapshot was being written */
        during++;
        if (p.wall > worst.wall)
            worst = p;
        if ((p.slept || p.cpu > p.wall / 2) && p.wall > worst_held.wall)
            worst_held = p;
    }
    pthread_join(t, NULL);
    qsort(snapshot_ns, SNAPSHOTS, sizeof(snapshot_ns[0]), cmp_ns);
    int64_t median = snapshot_ns[SNAPSHOTS / 2];
    fprintf(stderr,
            "nonblocking: %ld malloc/free pairs during %d snapshots of %d blocks "
            "(median %.1f ms); the worst took %.3f ms (%.3f ms running, %ld sleeps, %ld "
            "preemptions), the worst that slept or ran %.3f ms\n",
            during, SNAPSHOTS, HEAP_BLOCKS, median / 1e6, worst.wall / 1e6, worst.cpu / 1e6,
            worst.slept, worst.preempted, worst_held.wall / 1e6);
    if (worst_held.wall >= BOUND_NS)
        PROBE_FAIL("a malloc/free pair took %.1f ms while a snapshot was written (%.1f ms of it "
                   "running, %ld sleeps; bound %.0f ms, a snapshot %.1f ms)",
                   worst_held.wall / 1e6, worst_held.cpu / 1e6, worst_held.slept, BOUND_NS / 1e6,
                   median / 1e6);
    if (during < 100)
        PROBE_FAIL("only %ld malloc/free pairs ran while snapshots were written", during);
    if (median < 3 * BOUND_NS / 2)
        PROBE_SKIP("snapshots of %d blocks take %.1f ms here: too fast to tell a pair that "
                   "waited for one",
                   HEAP_BLOCKS, median / 1e6);
    for (int i = 0; i < HEAP_BLOCKS; i++)
        free(heap[i]);
    return 0;
}

/* ---- driver ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "contents"))
            return scenario_contents();
        if (!strcmp(argv[1], "nonblocking"))
            return scenario_nonblocking();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    if (!leaktag_stats)
        PROBE_SKIP("libleaktag.so is not preloaded");
    probe_driver_init("composer");
    struct probe_tally t = {0};
    /* the defaults these checks rely on, whatever the environment says */
    static const char *const contents_env[] = {"LEAKTAG_SAMPLES=8", "LEAKTAG_SAMPLE_BYTES=256",
                                               "LEAKTAG_DEPTH=32", "-LEAKTAG_SAMPLE", NULL};
    probe_tally(&t, "contents", probe_run("contents", contents_env, 15));
    static const char *const loop_env[] = {"LEAKTAG_KEEP=1", "-LEAKTAG_REACH", "-LEAKTAG_SAMPLE",
                                           NULL};
    probe_tally(&t, "nonblocking", probe_run("nonblocking", loop_env, 15));
    return probe_finish(&t);
}
