/* tracker.c — test `tracker`: preload/tracker.c, start-up and bookkeeping, from inside a
 * process running the whole shim (leaktag_stats and the BLOCKS of a snapshot).
 *
 *   startup     a block allocated from .preinit_array (before every constructor, the shim's
 *               too: its first hook starts it) and one from the program's constructor (after
 *               the shim's) are tracked with their sizes and stacks, and the LEAKTAG_*
 *               options are in force all the same (the snapshot goes to LEAKTAG_OUTPUT)
 *   family      each of the 9 C allocation functions and the 8 operators new counts exactly
 *               one allocation, its bytes and its kind; each matching release one free; a
 *               release by the wrong function counts a mismatch (the block still goes); a
 *               failing new(nothrow) or calloc tracks nothing
 *   realloc     a realloc that moves: the old address leaves the table, the new one is a
 *               realloc block of the new size; one that shrinks in place re-records it; one
 *               that fails puts the old record back as it was (kind, stack, size)
 *   fork        the child starts from the parent's table (another thread's young blocks
 *               included); each then frees and allocates, and neither sees the other's
 *               changes, in leaktag_stats or in its snapshot's BLOCKS
 *   crossthread blocks freed by a thread other than their own, while the owner lives (its
 *               nursery) and after it ended: exact counts, no unknown frees, no stale record
 *   peak        peak_live_bytes follows the high-water mark (to 64 KiB per thread)
 *
 * alloc_api.c, cxx_ops.cpp, fork.c and threads.c check live counts; this test checks the
 * tracker's other promises (allocations/frees/mismatches, kinds, records after realloc and
 * fork) and what the table holds, through snapshots. */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "shim_probe.h"

/* Opaque, so that the compiler neither warns about nor folds the impossible requests. */
static volatile size_t half_max = SIZE_MAX / 2, wraps_to_16 = SIZE_MAX / 16 + 2;
static void *volatile sink;

static struct leaktag_stats stats(void)
{
    return lt_test_stats();
}

/* The change of every counter the tracker keeps, between two leaktag_stats calls. */
struct delta {
    long long blocks, bytes, allocations, frees, mismatches, unknown;
};

static struct delta diff(const struct leaktag_stats *a, const struct leaktag_stats *b)
{
    return (struct delta){(long long)(b->live_blocks - a->live_blocks),
                          (long long)(b->live_bytes - a->live_bytes),
                          (long long)(b->allocations - a->allocations),
                          (long long)(b->frees - a->frees),
                          (long long)(b->mismatches - a->mismatches),
                          (long long)(b->unknown_frees - a->unknown_frees)};
}

static void expect(const struct leaktag_stats *before, struct delta want, const char *what)
{
    struct leaktag_stats now = stats();
    struct delta d = diff(before, &now);
    if (memcmp(&d, &want, sizeof(d)) != 0)
        PROBE_FAIL("%s: blocks %+lld bytes %+lld allocations %+lld frees %+lld mismatches "
                   "%+lld unknown frees %+lld; expected %+lld %+lld %+lld %+lld %+lld %+lld",
                   what, d.blocks, d.bytes, d.allocations, d.frees, d.mismatches, d.unknown,
                   want.blocks, want.bytes, want.allocations, want.frees, want.mismatches,
                   want.unknown);
}

/* ---- startup ------------------------------------------------------------------------------ */

PROBE_RANGE_DECL(tracker_ctor_alloc);
PROBE_RANGE_DECL(tracker_preinit_alloc);
static void *ctor_block, *preinit_block;

PROBE_SECTION(tracker_ctor_alloc) static void *ctor_alloc(void)
{
    void *p = malloc(7777);
    __asm__ __volatile__("" ::: "memory"); /* not a tail call: frame 0 is in here */
    return p;
}

PROBE_SECTION(tracker_preinit_alloc) static void *preinit_alloc(void)
{
    void *p = malloc(6666);
    __asm__ __volatile__("" ::: "memory");
    return p;
}

static bool startup_mode(void)
{
    const char *mode = getenv("PROBE_MODE");
    return mode && !strcmp(mode, "startup");
}

/* Before any library's constructor, the shim's included: its first hook starts it. glibc
 * passes the environment (getenv may not work yet). */
static void program_preinit(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv;
    for (char **e = envp; e && *e; e++)
        if (!strcmp(*e, "PROBE_MODE=startup"))
            preinit_block = preinit_alloc();
}
__attribute__((section(".preinit_array"),
               used)) static void (*const preinit)(int, char **, char **) = program_preinit;

/* The program's constructor: the shim's (priority 101, in a library loaded first) has run. */
__attribute__((constructor)) static void program_constructor(void)
{
    if (startup_mode())
        ctor_block = ctor_alloc();
}

static void check_early(const struct lts_snapshot *snap, void *block, uint64_t size, bool in_range,
                        const char *when)
{
    const struct lts_block *b = probe_block(snap, block);
    if (!b || b->size != size || b->kind != LT_KIND_MALLOC)
        PROBE_FAIL("the block allocated %s (%p) is %s", when, block,
                   b ? "recorded with another size or kind" : "not in the snapshot");
    if (!in_range)
        PROBE_FAIL("frame 0 of the block allocated %s is not in the function that called "
                   "malloc",
                   when);
}

static uint64_t frame0_of(const struct lts_snapshot *s, const void *block)
{
    const struct lts_block *b = probe_block(s, block);
    if (!b || b->stack >= s->nstacks || !s->stacks[b->stack].depth)
        return 0;
    return s->stacks[b->stack].frames[0];
}

static int scenario_startup(void)
{
    CHECK(preinit_block != NULL && ctor_block != NULL);
    struct leaktag_stats s = stats();
    CHECK(s.version == 1);
    CHECK(s.allocations >= 2 && s.live_blocks >= 2 && s.live_bytes >= 7777 + 6666);
    CHECK(leaktag_snapshot("startup") == 0);
    /* Where LEAKTAG_OUTPUT says, or, if the options were never read, at the default name
     * (in the current directory, the test's own) */
    char fallback[64];
    snprintf(fallback, sizeof(fallback), "leaktag.probe.%d.1.lts", (int)getpid());
    bool options_read = probe_exists(getpid(), 1);
    struct lts_snapshot *snap;
    struct lts_error err;
    if (options_read)
        snap = probe_load(getpid(), 1);
    else if (lts_open(fallback, &snap, &err) != 0)
        PROBE_FAIL("leaktag_snapshot returned 0 and there is no snapshot, neither where "
                   "LEAKTAG_OUTPUT says nor at %s",
                   fallback);
    check_early(snap, preinit_block, 6666,
                PROBE_IN_RANGE(tracker_preinit_alloc, frame0_of(snap, preinit_block)),
                "before every constructor (.preinit_array)");
    check_early(snap, ctor_block, 7777,
                PROBE_IN_RANGE(tracker_ctor_alloc, frame0_of(snap, ctor_block)),
                "in the program's constructor");
    lts_close(snap);
    if (!options_read)
        PROBE_FAIL("started by a malloc from .preinit_array, the shim read none of the LEAKTAG_* "
                   "options: the snapshot went to the default %s, not LEAKTAG_OUTPUT",
                   fallback);
    free(ctor_block);
    free(preinit_block);
    return 0;
}

/* ---- family ------------------------------------------------------------------------------- */

/* The operators new and delete, by their Itanium names, as the shim exports them (this C
 * program has no C++ runtime: the shim's are the only ones). */
#if defined(__LP64__)
#define SZ "m"
#else
#define SZ "j"
#endif
static struct {
    void *(*nw)(size_t), *(*na)(size_t);
    void *(*nw_nt)(size_t, const void *), *(*na_nt)(size_t, const void *);
    void *(*nw_al)(size_t, size_t), *(*na_al)(size_t, size_t);
    void *(*nw_al_nt)(size_t, size_t, const void *), *(*na_al_nt)(size_t, size_t, const void *);
    void (*dl)(void *), (*da)(void *);
    void (*dl_sz)(void *, size_t), (*da_sz)(void *, size_t);
    void (*dl_nt)(void *, const void *), (*da_nt)(void *, const void *);
    void (*dl_al)(void *, size_t), (*da_al)(void *, size_t);
    void (*dl_sz_al)(void *, size_t, size_t), (*da_sz_al)(void *, size_t, size_t);
    void (*dl_al_nt)(void *, size_t, const void *), (*da_al_nt)(void *, size_t, const void *);
} op;
static const char nothrow_tag; /* std::nothrow: only its address is passed */

static void *operator(const char *name)
{
    void *f = dlsym(RTLD_DEFAULT, name);
    if (!f)
        PROBE_FAIL("the shim exports no %s", name);
    return f;
}

static void find_operators(void)
{
    *(void **)&op.nw = operator("_Znw" SZ);
    *(void **)&op.na = operator("_Zna" SZ);
    *(void **)&op.nw_nt = operator("_Znw" SZ "RKSt9nothrow_t");
    *(void **)&op.na_nt = operator("_Zna" SZ "RKSt9nothrow_t");
    *(void **)&op.nw_al = operator("_Znw" SZ "St11align_val_t");
    *(void **)&op.na_al = operator("_Zna" SZ "St11align_val_t");
    *(void **)&op.nw_al_nt = operator("_Znw" SZ "St11align_val_tRKSt9nothrow_t");
    *(void **)&op.na_al_nt = operator("_Zna" SZ "St11align_val_tRKSt9nothrow_t");
    *(void **)&op.dl = operator("_ZdlPv");
    *(void **)&op.da = operator("_ZdaPv");
    *(void **)&op.dl_sz = operator("_ZdlPv" SZ);
    *(void **)&op.da_sz = operator("_ZdaPv" SZ);
    *(void **)&op.dl_nt = operator("_ZdlPvRKSt9nothrow_t");
    *(void **)&op.da_nt = operator("_ZdaPvRKSt9nothrow_t");
    *(void **)&op.dl_al = operator("_ZdlPvSt11align_val_t");
    *(void **)&op.da_al = operator("_ZdaPvSt11align_val_t");
    *(void **)&op.dl_sz_al = operator("_ZdlPv" SZ "St11align_val_t");
    *(void **)&op.da_sz_al = operator("_ZdaPv" SZ "St11align_val_t");
    *(void **)&op.dl_al_nt = operator("_ZdlPvSt11align_val_tRKSt9nothrow_t");
    *(void **)&op.da_al_nt = operator("_ZdaPvSt11align_val_tRKSt9nothrow_t");
}

/* Every way to allocate, with the kind the snapshot must give it; each is released by a
 * matching function (the operators delete in all their variants). */
enum way {
    W_MALLOC,
    W_CALLOC,
    W_REALLOC,
    W_REALLOCARRAY,
    W_POSIX_MEMALIGN,
    W_ALIGNED_ALLOC,
    W_MEMALIGN,
    W_VALLOC,
    W_PVALLOC,
    W_NEW,
    W_NEW_ARRAY,
    W_NEW_NOTHROW,
    W_NEW_ARRAY_NOTHROW,
    W_NEW_ALIGNED,
    W_NEW_ARRAY_ALIGNED,
    W_NEW_ALIGNED_NOTHROW,
    W_NEW_ARRAY_ALIGNED_NOTHROW,
    W_COUNT
};
static const uint8_t way_kind[W_COUNT] = {
    LT_KIND_MALLOC,
    LT_KIND_CALLOC,
    LT_KIND_REALLOC,
    LT_KIND_REALLOCARRAY,
    LT_KIND_POSIX_MEMALIGN,
    LT_KIND_ALIGNED_ALLOC,
    LT_KIND_MEMALIGN,
    LT_KIND_VALLOC,
    LT_KIND_PVALLOC,
    LT_KIND_NEW,
    LT_KIND_NEW_ARRAY,
    LT_KIND_NEW,
    LT_KIND_NEW_ARRAY,
    LT_KIND_NEW_ALIGNED,
    LT_KIND_NEW_ARRAY_ALIGNED,
    LT_KIND_NEW_ALIGNED,
    LT_KIND_NEW_ARRAY_ALIGNED,
};

static void *allocate(enum way w, size_t size)
{
    void *p = NULL;
    switch (w) {
    case W_MALLOC: return malloc(size);
    case W_CALLOC: return calloc(1, size);
    case W_REALLOC: return realloc(NULL, size);
    case W_REALLOCARRAY: return reallocarray(NULL, 1, size);
    case W_POSIX_MEMALIGN: return posix_memalign(&p, 64, size) == 0 ? p : NULL;
    case W_ALIGNED_ALLOC: return aligned_alloc(64, size);
    case W_MEMALIGN: return memalign(128, size);
    case W_VALLOC: return valloc(size);
    case W_PVALLOC: return pvalloc(size);
    case W_NEW: return op.nw(size);
    case W_NEW_ARRAY: return op.na(size);
    case W_NEW_NOTHROW: return op.nw_nt(size, &nothrow_tag);
    case W_NEW_ARRAY_NOTHROW: return op.na_nt(size, &nothrow_tag);
    case W_NEW_ALIGNED: return op.nw_al(size, 64);
    case W_NEW_ARRAY_ALIGNED: return op.na_al(size, 64);
    case W_NEW_ALIGNED_NOTHROW: return op.nw_al_nt(size, 64, &nothrow_tag);
    case W_NEW_ARRAY_ALIGNED_NOTHROW: return op.na_al_nt(size, 64, &nothrow_tag);
    default: return NULL;
    }
}

static void release(enum way w, void *p, size_t size)
{
    switch (w) {
    case W_NEW: op.dl(p); break;
    case W_NEW_ARRAY: op.da(p); break;
    case W_NEW_NOTHROW: op.dl_sz(p, size); break;
    case W_NEW_ARRAY_NOTHROW: op.da_sz(p, size); break;
    case W_NEW_ALIGNED: op.dl_al(p, 64); break;
    case W_NEW_ARRAY_ALIGNED: op.da_al(p, 64); break;
    case W_NEW_ALIGNED_NOTHROW: op.dl_sz_al(p, size, 64); break;
    case W_NEW_ARRAY_ALIGNED_NOTHROW: op.da_sz_al(p, size, 64); break;
    default: free(p); break;
    }
}

static int scenario_family(void)
{
    find_operators(); /* dlsym may allocate: before the baseline */
    void *block[W_COUNT];
    size_t size[W_COUNT];
    struct leaktag_stats base = stats();
    long long bytes = 0;
    char what[64];
    for (int w = 0; w < W_COUNT; w++) {
        size[w] = 1000 + (size_t)w * 8; /* a multiple of 8 for aligned_alloc's sake */
        block[w] = allocate((enum way)w, size[w]);
        if (!block[w])
            PROBE_FAIL("allocation way %d returned NULL", w);
        bytes += (long long)size[w];
        snprintf(what, sizeof(what), "after allocation way %d", w);
        expect(&base, (struct delta){w + 1, bytes, w + 1, 0, 0, 0}, what);
    }
    CHECK(leaktag_snapshot("family") == 0); /* checked once everything is released */
    for (int w = 0; w < W_COUNT; w++) {
        release((enum way)w, block[w], size[w]);
        bytes -= (long long)size[w];
        snprintf(what, sizeof(what), "after the release of way %d", w);
        expect(&base, (struct delta){W_COUNT - w - 1, bytes, W_COUNT, w + 1, 0, 0}, what);
    }
    /* the other remaining deletes, on blocks of their own kind */
    struct leaktag_stats b = stats();
    op.dl_nt(op.nw(10), &nothrow_tag);
    op.da_nt(op.na(10), &nothrow_tag);
    op.dl_al_nt(op.nw_al(10, 64), 64, &nothrow_tag);
    op.da_al_nt(op.na_al(10, 64), 64, &nothrow_tag);
    op.da_sz_al(op.na_al(10, 64), 10, 64);
    expect(&b, (struct delta){0, 0, 5, 5, 0, 0}, "nothrow and sized deletes");

    /* the wrong release: counted as a mismatch, and the block is gone all the same */
    b = stats();
    op.dl(malloc(33));
    op.dl(op.na(34));
    free(op.nw(35));
    op.da_al(op.nw_al(36, 64), 64);
    expect(&b, (struct delta){0, 0, 4, 4, 4, 0}, "mismatched releases");

    /* failures track nothing (errno as glibc leaves it) */
    b = stats();
    errno = 0;
    CHECK(calloc(half_max, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(wraps_to_16, 16) == NULL && errno == ENOMEM); /* the product wraps to 16 */
    expect(&b, (struct delta){0, 0, 0, 0, 0, 0}, "failed callocs");

    struct lts_snapshot *s = probe_load(getpid(), 1);
    for (int w = 0; w < W_COUNT; w++) {
        const struct lts_block *rec = probe_block(s, block[w]);
        if (!rec)
            PROBE_FAIL("way %d: block %p is not in the snapshot", w, block[w]);
        if (rec->size != size[w] || rec->kind != way_kind[w])
            PROBE_FAIL("way %d: size %llu kind %u in the snapshot, expected %zu kind %u", w,
                       (unsigned long long)rec->size, rec->kind, size[w], way_kind[w]);
    }
    lts_close(s);

    /* A failing operator new(nothrow) returns NULL and tracks nothing, also in a program
     * without a C++ runtime to forward to (this one): nothing of the shim's own lookups may
     * be recorded as the program's. */
    b = stats();
    CHECK(op.nw_nt(half_max, &nothrow_tag) == NULL);
    expect(&b, (struct delta){0, 0, 0, 0, 0, 0}, "a failed new(nothrow)");
    CHECK(op.na_al_nt(half_max, 64, &nothrow_tag) == NULL);
    expect(&b, (struct delta){0, 0, 0, 0, 0, 0}, "a failed aligned new[](nothrow)");
    return 0;
}

/* ---- realloc ------------------------------------------------------------------------------ */

PROBE_RANGE_DECL(tracker_site_first);
PROBE_RANGE_DECL(tracker_site_resize);

PROBE_SECTION(tracker_site_first) static void *site_first(size_t size)
{
    void *p = malloc(size);
    __asm__ __volatile__("" ::: "memory");
    return p;
}

PROBE_SECTION(tracker_site_resize) static void *site_resize(void *p, size_t size)
{
    void *q = realloc(p, size);
    __asm__ __volatile__("" ::: "memory");
    return q;
}

static uint64_t frame0(const struct lts_snapshot *s, const struct lts_block *b)
{
    CHECK(b->stack < s->nstacks && s->stacks[b->stack].depth >= 1);
    return s->stacks[b->stack].frames[0];
}

static int scenario_realloc(void)
{
    void *p = site_first(100);
    void *fence = malloc(100); /* right after p: growing p cannot happen in place */
    void *kept = site_first(321);
    struct leaktag_stats b = stats();

    void *moved = site_resize(p, 100000);
    CHECK(moved != NULL);
    if (moved == p)
        PROBE_SKIP("realloc grew the block in place: cannot check a move here");
    expect(&b, (struct delta){0, 100000 - 100, 1, 1, 0, 0}, "realloc that moves");
    void *shrunk = site_resize(moved, 40);
    CHECK(shrunk == moved); /* glibc shrinks in place */
    expect(&b, (struct delta){0, 40 - 100, 2, 2, 0, 0}, "realloc that shrinks");
    errno = 0;
    CHECK(site_resize(kept, half_max) == NULL && errno == ENOMEM);
    expect(&b, (struct delta){0, 40 - 100, 2, 2, 0, 0}, "realloc that fails");
    CHECK(leaktag_snapshot("realloc") == 0);

    struct lts_snapshot *s = probe_load(getpid(), 1);
    const struct lts_block *old = probe_block(s, p), *now = probe_block(s, shrunk);
    if (old && old != now)
        PROBE_FAIL("the moved-from address %p is still a block (size %llu)", p,
                   (unsigned long long)old->size);
    if (!now || now->size != 40 || now->kind != LT_KIND_REALLOC)
        PROBE_FAIL("the resized block: %s, size %llu, kind %u (expected 40, realloc)",
                   now ? "present" : "absent", now ? (unsigned long long)now->size : 0ull,
                   now ? now->kind : 0u);
    if (!PROBE_IN_RANGE(tracker_site_resize, frame0(s, now)))
        PROBE_FAIL("the resized block's frame 0 is not in the function that called realloc");
    /* A failed realloc puts the record back as it was: the first site's, a malloc. */
    const struct lts_block *k = probe_block(s, kept);
    if (!k || k->size != 321 || k->kind != LT_KIND_MALLOC ||
        !PROBE_IN_RANGE(tracker_site_first, frame0(s, k)))
        PROBE_FAIL(
            "after a failed realloc the block is %s: size %llu kind %u, frame 0 %s",
            k ? "present" : "absent", k ? (unsigned long long)k->size : 0ull, k ? k->kind : 0u,
            k && PROBE_IN_RANGE(tracker_site_first, frame0(s, k)) ? "its malloc's" : "elsewhere");
    lts_close(s);
    free(shrunk), free(fence), free(kept);
    return 0;
}

/* ---- fork ----------------------------------------------------------------------------------- */

#define NA 10
#define NB 20
static void *fa[NA], *fb[NB];
static _Atomic int fork_phase;

/* Allocates its blocks (young: in its nursery when the process forks) and waits. */
static void *fork_thread(void *arg)
{
    for (int i = 0; i < NB; i++)
        fb[i] = malloc(2222);
    atomic_store(&fork_phase, 1);
    while (atomic_load(&fork_phase) != 2)
        probe_sleep_ms(1);
    return arg;
}

static bool has(const struct lts_snapshot *s, const void *addr, uint64_t size)
{
    const struct lts_block *b = probe_block(s, addr);
    return b && b->size == size;
}

static int count_size(const struct lts_snapshot *s, uint64_t size)
{
    int n = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        n += s->blocks[i].size == size;
    return n;
}

static void expect_blocks(const struct lts_snapshot *s, const char *who, int a_from, int a_to,
                          int b_from, int b_to, int n3333, int n4444)
{
    for (int i = 0; i < NA; i++)
        if (has(s, fa[i], 1111) != (i >= a_from && i < a_to))
            PROBE_FAIL("%s: block a%d %s in its snapshot", who, i,
                       has(s, fa[i], 1111) ? "is still" : "is not");
    for (int i = 0; i < NB; i++)
        if (has(s, fb[i], 2222) != (i >= b_from && i < b_to))
            PROBE_FAIL("%s: block b%d %s in its snapshot", who, i,
                       has(s, fb[i], 2222) ? "is still" : "is not");
    if (count_size(s, 3333) != n3333 || count_size(s, 4444) != n4444)
        PROBE_FAIL("%s: %d blocks of the child's size and %d of the parent's; expected %d, %d", who,
                   count_size(s, 3333), count_size(s, 4444), n3333, n4444);
}

static int scenario_fork(void)
{
    for (int i = 0; i < NA; i++)
        fa[i] = malloc(1111);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fork_thread, NULL) == 0);
    while (atomic_load(&fork_phase) != 1)
        probe_sleep_ms(1);
    int to_child[2], to_parent[2];
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
    char byte = 0;
    struct leaktag_stats before = stats();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(to_parent[0]), close(to_child[1]); /* the parent's ends: EOF if it fails */
        /* The parent's table as it was: the forking thread's blocks and the other's. */
        struct leaktag_stats mine = stats();
        if (mine.live_blocks != before.live_blocks || mine.live_bytes != before.live_bytes)
            PROBE_FAIL("child: %llu live blocks / %llu bytes, the parent had %llu / %llu",
                       (unsigned long long)mine.live_blocks, (unsigned long long)mine.live_bytes,
                       (unsigned long long)before.live_blocks,
                       (unsigned long long)before.live_bytes);
        for (int i = 0; i < 5; i++)
            free(fa[i]);
        for (int i = 0; i < 10; i++)
            free(fb[i]); /* a thread of the parent's allocated these; it is not here */
        void *c[3];
        for (int i = 0; i < 3; i++)
            c[i] = malloc(3333);
        struct delta d = {-15 + 3, -5 * 1111 - 10 * 2222 + 3 * 3333, 3, 15, 0, 0};
        expect(&mine, d, "child, after its own frees and allocations");
        CHECK(write(to_parent[1], &byte, 1) == 1 && read(to_child[0], &byte, 1) == 1);
        expect(&mine, d, "child, after the parent's frees and allocations");
        CHECK(leaktag_snapshot("child") == 0);
        struct lts_snapshot *s = probe_load(getpid(), 1);
        CHECK(s->pid == (uint64_t)getpid());
        expect_blocks(s, "child", 5, NA, 10, NB, 3, 0);
        lts_close(s);
        (void)c;
        _exit(0);
    }
    close(to_parent[1]), close(to_child[0]); /* the child's ends: EOF if it fails */
    if (read(to_parent[0], &byte, 1) != 1) {
        int status;
        waitpid(pid, &status, 0);
        PROBE_FAIL("the child failed (status %#x)", status);
    }
    expect(&before, (struct delta){0, 0, 0, 0, 0, 0}, "parent, after the child's changes");
    for (int i = 5; i < NA; i++)
        free(fa[i]);
    for (int i = 15; i < NB; i++)
        free(fb[i]);
    void *d4[4];
    for (int i = 0; i < 4; i++)
        d4[i] = malloc(4444);
    struct delta d = {-10 + 4, -5 * 1111 - 5 * 2222 + 4 * 4444, 4, 10, 0, 0};
    expect(&before, d, "parent, after its own changes");
    CHECK(write(to_child[1], &byte, 1) == 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        PROBE_FAIL("the child failed (status %#x)", status);
    expect(&before, d, "parent, after the child ended");
    CHECK(leaktag_snapshot("parent") == 0);
    struct lts_snapshot *s = probe_load(getpid(), 1);
    expect_blocks(s, "parent", 0, 5, 0, 15, 0, 4);
    lts_close(s);
    atomic_store(&fork_phase, 2);
    pthread_join(t, NULL);
    (void)d4;
    return 0;
}

/* ---- crossthread ---------------------------------------------------------------------------- */

#define NX 200
#define NY 50
static void *xs[NX], *ys[NY], *from_main;
static _Atomic int x_phase;

static void wait_phase(int phase)
{
    while (atomic_load(&x_phase) != phase)
        probe_sleep_ms(1);
}

static void *x_thread(void *arg)
{
    pthread_setname_np(pthread_self(), "xthread");
    for (int i = 0; i < NX; i++)
        xs[i] = malloc(555);
    atomic_store(&x_phase, 1);
    wait_phase(2);
    free(from_main); /* the other way round: main's block, freed here */
    for (int i = 0; i < NY; i++)
        ys[i] = malloc(556);
    atomic_store(&x_phase, 3);
    wait_phase(4);
    return arg;
}

static int scenario_crossthread(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, x_thread, NULL) == 0);
    wait_phase(1);
    struct leaktag_stats b = stats();
    for (int i = 0; i < NX / 2; i++)
        free(xs[i]); /* young blocks of a live thread (its nursery) */
    expect(&b, (struct delta){-NX / 2, -(NX / 2) * 555, 0, NX / 2, 0, 0},
           "main freed half of a live thread's blocks");
    from_main = malloc(777);
    atomic_store(&x_phase, 2);
    wait_phase(3);
    expect(&b, (struct delta){-NX / 2 + NY, -(NX / 2) * 555 + NY * 556, 1 + NY, NX / 2 + 1, 0, 0},
           "the thread freed main's block and allocated more");
    CHECK(leaktag_snapshot("alive") == 0);
    atomic_store(&x_phase, 4);
    pthread_join(t, NULL);
    CHECK(leaktag_snapshot("ended") == 0);
    for (int i = NX / 2; i < NX; i++)
        free(xs[i]); /* blocks of a thread that has ended */
    for (int i = 0; i < NY; i++)
        free(ys[i]);
    expect(&b, (struct delta){-NX, -NX * 555, 1 + NY, NX + NY + 1, 0, 0}, "every block freed");

    const uint64_t live_bytes = (NX / 2) * 555 + NY * 556;
    for (unsigned seq = 1; seq <= 2; seq++) {
        struct lts_snapshot *s = probe_load(getpid(), seq);
        const char *when = seq == 1 ? "thread alive" : "thread ended";
        uint32_t idx = UINT32_MAX;
        for (int i = 0; i < NX; i++) {
            bool there = has(s, xs[i], 555);
            if (there != (i >= NX / 2))
                PROBE_FAIL("%s: x%d %s in the snapshot", when, i, there ? "is still" : "is not");
            if (there && idx == UINT32_MAX)
                idx = probe_block(s, xs[i])->thread;
            if (there && probe_block(s, xs[i])->thread != idx)
                PROBE_FAIL("%s: x%d belongs to another thread", when, i);
        }
        for (int i = 0; i < NY; i++)
            if (!has(s, ys[i], 556) || probe_block(s, ys[i])->thread != idx)
                PROBE_FAIL("%s: y%d is not in the snapshot as the thread's", when, i);
        if (has(s, from_main, 777))
            PROBE_FAIL("%s: the block the thread freed for main is still there", when);
        const struct lts_thread *th = lts_thread(s, idx);
        if (!th || strcmp(th->name, "xthread") || th->live_blocks != NX / 2 + NY ||
            th->live_bytes != live_bytes)
            PROBE_FAIL("%s: thread %u is %s with %llu live blocks / %llu bytes, expected "
                       "xthread with %d / %llu",
                       when, idx, th ? th->name : "missing",
                       th ? (unsigned long long)th->live_blocks : 0ull,
                       th ? (unsigned long long)th->live_bytes : 0ull, NX / 2 + NY,
                       (unsigned long long)live_bytes);
        uint32_t state = seq == 1 ? LT_THREAD_FLAG_ALIVE : LT_THREAD_FLAG_EXITED;
        if ((th->state & (LT_THREAD_FLAG_ALIVE | LT_THREAD_FLAG_EXITED)) != state)
            PROBE_FAIL("%s: thread state %u", when, th->state);
        lts_close(s);
    }
    return 0;
}

/* ---- peak ----------------------------------------------------------------------------------- */

static int scenario_peak(void)
{
    struct leaktag_stats b = stats();
    void *p = malloc(1 << 20);
    sink = p;
    free(p);
    struct leaktag_stats a = stats();
    CHECK(a.peak_live_bytes >= b.peak_live_bytes);
    if (a.peak_live_bytes + 64 * 1024 < b.live_bytes + (1 << 20))
        PROBE_FAIL("peak_live_bytes %llu after a 1 MiB block on top of %llu live bytes",
                   (unsigned long long)a.peak_live_bytes, (unsigned long long)b.live_bytes);
    CHECK(a.peak_live_bytes >= a.live_bytes);
    return 0;
}

/* ---- driver --------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(void);
} scenarios[] = {
    {"startup", scenario_startup},         {"family", scenario_family},
    {"realloc", scenario_realloc},         {"fork", scenario_fork},
    {"crossthread", scenario_crossthread}, {"peak", scenario_peak},
};

int main(int argc, char **argv)
{
    size_t n = sizeof(scenarios) / sizeof(scenarios[0]);
    if (argc > 1) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(argv[1], scenarios[i].name))
                return scenarios[i].run();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    if (!leaktag_stats)
        PROBE_SKIP("libleaktag.so is not preloaded");
    probe_driver_init("tracker");
    struct probe_tally t = {0};
    for (size_t i = 0; i < n; i++)
        probe_tally(&t, scenarios[i].name, probe_run(scenarios[i].name, NULL, 15));
    return probe_finish(&t);
}
