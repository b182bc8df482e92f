/* interpose.c — test `interpose`: preload/interpose.c, the exported surface. Each wrapper must
 * do what the function it replaces does (glibc's own, called through a handle on libc.so.6,
 * is the reference: same result, same errno, same alignment) and tell the tracker exactly
 * what was handed out or given back (leaktag_stats, and BLOCKS of a snapshot).
 *
 *   alloc      malloc_usable_size of tracked blocks is glibc's, and counts nothing;
 *              posix_memalign, aligned_alloc, memalign, valloc and pvalloc against glibc over
 *              valid and invalid alignments and sizes (EINVAL for posix_memalign's
 *              non-power-of-two alignments, ENOMEM for huge sizes): a success is one tracked
 *              block of the requested size and kind, a failure tracks nothing;
 *              reallocarray's overflow (ENOMEM, NULL, the old block kept); realloc(p, 0) and
 *              realloc(NULL, 0) as glibc does them; malloc(0); free(NULL); calloc's zeroes on
 *              reused memory; errno untouched by successful calls
 *   names      prctl(PR_SET_NAME) and pthread_setname_np forward (PR_GET_NAME gives the name
 *              back) and the name is the one THREADS keeps for the thread once it has ended
 *              (a thread that ends by itself is read again at its end, so this does not tell
 *              the wrappers' own note from that); pipe2 and sigprocmask forward (the lowest
 *              free descriptors, the mask set and cleared)
 *   dlopen     a library whose constructor allocates (built from this file with
 *              -DINTERPOSE_PLUGIN, found next to this program or given as argv[1]) is loaded
 *              and unloaded between two snapshots, in a single-threaded program: the first
 *              snapshot after lists it in MODULES as unloaded (the wrappers told the module
 *              registry), its destructor's frees are gone from BLOCKS and the block it left
 *              behind is there, of its size, with frame 0 in the library's segments
 *
 * alloc_api.c checks live counts of the same calls; this test takes glibc itself as the
 * reference for every result and checks allocations, kinds and sizes of what is recorded. */
#ifdef INTERPOSE_PLUGIN

#include <stdlib.h>

/* The plugin: three blocks from its constructor, two freed by its destructor. */
__attribute__((visibility("default"))) void *interpose_plugin_blocks[3];

__attribute__((constructor)) static void plugin_init(void)
{
    for (int i = 0; i < 3; i++)
        interpose_plugin_blocks[i] = malloc(4321 + (size_t)i);
}

__attribute__((destructor)) static void plugin_fini(void)
{
    free(interpose_plugin_blocks[0]);
    free(interpose_plugin_blocks[1]); /* the third is left behind: a leak of the plugin's */
}

#else

#include <dlfcn.h>
#include <libgen.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>

#include "shim_probe.h"

static volatile size_t half_max = SIZE_MAX / 2, big_align = SIZE_MAX / 2 + 1;
static void *volatile sink;

/* glibc's own functions, not the shim's: called directly, they allocate untracked. */
static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*usable)(void *);
} libc;

static void *libc_fn(void *handle, const char *name)
{
    void *f = dlsym(handle, name);
    if (!f)
        PROBE_FAIL("libc.so.6 has no %s", name);
    return f;
}

static void find_libc(void)
{
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        PROBE_FAIL("no handle on libc.so.6: %s", dlerror());
    *(void **)&libc.malloc = libc_fn(h, "malloc");
    *(void **)&libc.free = libc_fn(h, "free");
    *(void **)&libc.realloc = libc_fn(h, "realloc");
    *(void **)&libc.reallocarray = libc_fn(h, "reallocarray");
    *(void **)&libc.posix_memalign = libc_fn(h, "posix_memalign");
    *(void **)&libc.aligned_alloc = libc_fn(h, "aligned_alloc");
    *(void **)&libc.memalign = libc_fn(h, "memalign");
    *(void **)&libc.valloc = libc_fn(h, "valloc");
    *(void **)&libc.pvalloc = libc_fn(h, "pvalloc");
    *(void **)&libc.usable = libc_fn(h, "malloc_usable_size");
    if ((void *)libc.malloc == (void *)malloc)
        PROBE_FAIL("libc.so.6's malloc is the program's: is the shim preloaded?");
}

struct counts {
    uint64_t blocks, bytes, allocations, frees, unknown;
};

static struct counts counts(void)
{
    struct leaktag_stats s = lt_test_stats();
    return (struct counts){s.live_blocks, s.live_bytes, s.allocations, s.frees, s.unknown_frees};
}

/* The counters moved by exactly blocks/bytes/allocations/frees since `before`. */
static void moved(const struct counts *before, long long blocks, long long bytes,
                  long long allocations, long long frees, const char *what)
{
    struct counts now = counts();
    long long d[4] = {
        (long long)(now.blocks - before->blocks), (long long)(now.bytes - before->bytes),
        (long long)(now.allocations - before->allocations), (long long)(now.frees - before->frees)};
    if (d[0] != blocks || d[1] != bytes || d[2] != allocations || d[3] != frees ||
        now.unknown != before->unknown)
        PROBE_FAIL("%s: blocks %+lld bytes %+lld allocations %+lld frees %+lld unknown frees "
                   "%+lld; expected %+lld %+lld %+lld %+lld +0",
                   what, d[0], d[1], d[2], d[3], (long long)(now.unknown - before->unknown), blocks,
                   bytes, allocations, frees);
}

/* ---- alloc ------------------------------------------------------------------------------- */

enum aligned_fn { POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN, VALLOC, PVALLOC };
static const char *const aligned_name[] = {"posix_memalign", "aligned_alloc", "memalign", "valloc",
                                           "pvalloc"};
static const uint8_t aligned_kind[] = {LT_KIND_POSIX_MEMALIGN, LT_KIND_ALIGNED_ALLOC,
                                       LT_KIND_MEMALIGN, LT_KIND_VALLOC, LT_KIND_PVALLOC};

#define UNTOUCHED ((void *)(uintptr_t)0x5a5a5a50)

/* One call, through the shim or glibc: the pointer (NULL on failure), posix_memalign's
 * return value and errno afterwards (errno set to a sentinel before). */
struct outcome {
    void *p;
    int rc, err;
};

static struct outcome call(bool shim, enum aligned_fn fn, size_t align, size_t size)
{
    struct outcome o = {UNTOUCHED, 0, 0};
    errno = 4321;
    switch (fn) {
    case POSIX_MEMALIGN:
        o.rc = shim ? posix_memalign(&o.p, align, size) : libc.posix_memalign(&o.p, align, size);
        break;
    case ALIGNED_ALLOC:
        o.p = shim ? aligned_alloc(align, size) : libc.aligned_alloc(align, size);
        break;
    case MEMALIGN: o.p = shim ? memalign(align, size) : libc.memalign(align, size); break;
    case VALLOC: o.p = shim ? valloc(size) : libc.valloc(size); break;
    case PVALLOC: o.p = shim ? pvalloc(size) : libc.pvalloc(size); break;
    }
    o.err = errno;
    return o;
}

/* The alignment a successful call must give: the requested one rounded up to a power of two
 * (glibc's memalign rounds so), the page for valloc and pvalloc. */
static size_t wanted_alignment(enum aligned_fn fn, size_t align)
{
    if (fn == VALLOC || fn == PVALLOC)
        return (size_t)sysconf(_SC_PAGESIZE);
    size_t a = 1;
    while (a < align && a < ((size_t)1 << (sizeof(size_t) * 8 - 1)))
        a <<= 1;
    return a;
}

static void check_aligned(enum aligned_fn fn, size_t align, size_t size)
{
    char what[160];
    snprintf(what, sizeof(what), "%s(align %#zx, size %#zx)", aligned_name[fn], align, size);
    struct outcome ref = call(false, fn, align, size);
    bool ref_ok = fn == POSIX_MEMALIGN ? ref.rc == 0 : ref.p != NULL;
    if (ref_ok)
        libc.free(ref.p);
    struct counts before = counts();
    struct outcome got = call(true, fn, align, size);
    bool got_ok = fn == POSIX_MEMALIGN ? got.rc == 0 : got.p != NULL;
    if (got_ok != ref_ok || got.rc != ref.rc || (!ref_ok && got.p != ref.p) ||
        (got.err != ref.err && !(ref_ok && got.err == 4321)))
        PROBE_FAIL("%s: the shim gives %p, returns %d, errno %d; glibc %p, %d, errno %d (%p: "
                   "the pointer left alone)",
                   what, got.p, got.rc, got.err, ref.p, ref.rc, ref.err, UNTOUCHED);
    if (!got_ok) {
        moved(&before, 0, 0, 0, 0, what);
        return;
    }
    size_t a = wanted_alignment(fn, align);
    if ((uintptr_t)got.p % a != 0 || malloc_usable_size(got.p) < size)
        PROBE_FAIL("%s: %p is not aligned to %zu or holds fewer than %zu bytes (%zu)", what, got.p,
                   a, size, malloc_usable_size(got.p));
    moved(&before, 1, (long long)size, 1, 0, what);
    /* its record: the requested size and this function's kind */
    unsigned seq = (unsigned)lt_test_stats().snapshots + 1;
    CHECK(leaktag_snapshot("aligned") == 0);
    struct lts_snapshot *s = probe_load(getpid(), seq);
    const struct lts_block *b = probe_block(s, got.p);
    if (!b || b->size != size || b->kind != aligned_kind[fn])
        PROBE_FAIL("%s: %s size %llu kind %u (expected %zu, kind %u)", what,
                   b ? "recorded with" : "not recorded:", b ? (unsigned long long)b->size : 0ull,
                   b ? b->kind : 0u, size, aligned_kind[fn]);
    lts_close(s);
    before = counts();
    free(got.p);
    moved(&before, -1, -(long long)size, 0, 1, what);
}

static int scenario_alloc(void)
{
    find_libc();
    struct counts before;

    /* malloc_usable_size: glibc's answer for every kind of tracked block; counts nothing */
    void *blocks[6];
    blocks[0] = malloc(100);
    blocks[1] = calloc(3, 50);
    blocks[2] = realloc(NULL, 1000);
    blocks[3] = aligned_alloc(64, 640);
    blocks[4] = valloc(10);
    blocks[5] = malloc(300000); /* mmap'd by glibc */
    before = counts();
    for (int i = 0; i < 6; i++)
        if (malloc_usable_size(blocks[i]) != libc.usable(blocks[i]))
            PROBE_FAIL("malloc_usable_size of block %d is %zu, glibc says %zu", i,
                       malloc_usable_size(blocks[i]), libc.usable(blocks[i]));
    CHECK(malloc_usable_size(NULL) == 0);
    moved(&before, 0, 0, 0, 0, "malloc_usable_size");
    for (int i = 0; i < 6; i++)
        free(blocks[i]);

    /* the aligned family over valid and invalid requests */
    const size_t aligns[] = {0,  1,  2,  3,    sizeof(void *) / 2, sizeof(void *),
                             24, 48, 64, 4096, (size_t)1 << 20,    big_align};
    const size_t sizes[] = {0, 1, 100, 4096, half_max};
    for (int fn = POSIX_MEMALIGN; fn <= MEMALIGN; fn++)
        for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++)
            for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
                check_aligned((enum aligned_fn)fn, aligns[i], sizes[j]);
    for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
        check_aligned(VALLOC, 0, sizes[j]);
        check_aligned(PVALLOC, 0, sizes[j]);
    }
    /* posix_memalign's documented EINVAL: a non-power-of-two, or not a multiple of
     * sizeof(void *); the pointer is left alone and nothing is tracked */
    const size_t invalid[] = {0, 3, 24, sizeof(void *) / 2};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        void *p = UNTOUCHED;
        before = counts();
        if (posix_memalign(&p, invalid[i], 64) != EINVAL || p != UNTOUCHED)
            PROBE_FAIL("posix_memalign(alignment %zu) did not fail with EINVAL, leaving the "
                       "pointer",
                       invalid[i]);
        moved(&before, 0, 0, 0, 0, "posix_memalign with an invalid alignment");
    }

    /* reallocarray: an overflowing product fails with ENOMEM and keeps the block */
    void *ra = reallocarray(NULL, 10, 10);
    before = counts();
    errno = 0;
    void *ref = libc.reallocarray(NULL, half_max, 3);
    int ref_err = errno;
    errno = 0;
    if (ref != NULL || reallocarray(ra, half_max, 3) != NULL || errno != ref_err || errno != ENOMEM)
        PROBE_FAIL("reallocarray overflow: errno %d (glibc %d), or a block was returned", errno,
                   ref_err);
    moved(&before, 0, 0, 0, 0, "reallocarray overflow");
    CHECK(malloc_usable_size(ra) >= 100); /* still the program's */
    free(ra);

    /* realloc(p, 0) as glibc does it: p freed, NULL; realloc(NULL, 0): a block of size 0 */
    void *q = libc.malloc(16);
    errno = 0;
    void *ref_zero = libc.realloc(q, 0);
    int ref_zero_err = errno;
    if (ref_zero)
        libc.free(ref_zero);
    void *p = malloc(16);
    before = counts();
    errno = 0;
    void *zero = realloc(p, 0);
    if ((zero == NULL) != (ref_zero == NULL) || errno != ref_zero_err)
        PROBE_FAIL("realloc(p, 0) gave %p errno %d, glibc %p errno %d", zero, errno, ref_zero,
                   ref_zero_err);
    if (!zero)
        moved(&before, -1, -16, 0, 1, "realloc(p, 0)");
    else
        free(zero);
    void *ref_null = libc.realloc(NULL, 0);
    libc.free(ref_null);
    before = counts();
    void *from_null = realloc(NULL, 0);
    if ((from_null == NULL) != (ref_null == NULL))
        PROBE_FAIL("realloc(NULL, 0) gave %p, glibc %p", from_null, ref_null);
    if (from_null)
        moved(&before, 1, 0, 1, 0, "realloc(NULL, 0)");
    free(from_null);
    before = counts();
    void *m0 = malloc(0);
    CHECK(m0 != NULL);
    moved(&before, 1, 0, 1, 0, "malloc(0)");
    free(m0);

    /* free(NULL) is nothing at all */
    before = counts();
    free(NULL);
    moved(&before, 0, 0, 0, 0, "free(NULL)");

    /* calloc zeroes memory that a freed block left dirty */
    for (int round = 0; round < 8; round++) {
        unsigned char *dirty = malloc(512);
        memset(dirty, 0xa5, 512);
        free(dirty);
        unsigned char *clean = calloc(1, 512);
        for (int i = 0; i < 512; i++)
            if (clean[i])
                PROBE_FAIL("calloc(1, 512) byte %d is %#x", i, clean[i]);
        free(clean);
    }

    /* errno is left alone by calls that succeed */
    errno = 777;
    void *e1 = malloc(10), *e2 = calloc(2, 10), *e3 = realloc(e1, 4000), *e4 = NULL;
    CHECK(posix_memalign(&e4, 64, 10) == 0);
    free(e2), free(e3), free(e4);
    if (errno != 777)
        PROBE_FAIL("errno is %d after successful calls, not what the program left there", errno);
    return 0;
}

/* ---- names, pipe2, sigprocmask -------------------------------------------------------------- */

static void *named_by_prctl(void *arg)
{
    CHECK(prctl(PR_SET_NAME, (unsigned long)"by-prctl", 0, 0, 0) == 0);
    char name[17] = {0};
    CHECK(prctl(PR_GET_NAME, (unsigned long)name, 0, 0, 0) == 0 && !strcmp(name, "by-prctl"));
    sink = malloc(6001);
    return arg;
}

static void *named_by_pthread(void *arg)
{
    CHECK(pthread_setname_np(pthread_self(), "by-pthread") == 0);
    char name[16] = {0};
    CHECK(pthread_getname_np(pthread_self(), name, sizeof(name)) == 0);
    CHECK(!strcmp(name, "by-pthread"));
    sink = malloc(6002);
    return arg;
}

static int scenario_names(void)
{
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, named_by_prctl, NULL) == 0);
    pthread_join(a, NULL);
    void *from_a = sink;
    CHECK(pthread_create(&b, NULL, named_by_pthread, NULL) == 0);
    pthread_join(b, NULL);
    void *from_b = sink;
    CHECK(leaktag_snapshot("names") == 0);
    struct lts_snapshot *s = probe_load(getpid(), 1);
    const struct {
        void *block;
        const char *name;
    } want[] = {{from_a, "by-prctl"}, {from_b, "by-pthread"}};
    for (int i = 0; i < 2; i++) {
        const struct lts_block *blk = probe_block(s, want[i].block);
        CHECK(blk != NULL);
        const struct lts_thread *t = lts_thread(s, blk->thread);
        if (!t || strcmp(t->name, want[i].name) || (t->state & LT_THREAD_FLAG_ALIVE))
            PROBE_FAIL("the exited thread that owns a block is \"%s\" (state %u), it named "
                       "itself \"%s\"",
                       t ? t->name : "missing", t ? t->state : 0u, want[i].name);
    }
    lts_close(s);
    free(from_a), free(from_b);

    /* pipe2 from the program: the lowest free descriptors, as without the shim */
    int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(lowest >= 0);
    close(lowest);
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0);
    if (fds[0] != lowest || fds[1] <= fds[0] || fds[1] > lowest + 1)
        PROBE_FAIL("pipe2 gave descriptors %d and %d; %d was the lowest free", fds[0], fds[1],
                   lowest);
    close(fds[0]), close(fds[1]);

    /* sigprocmask and pthread_sigmask set the mask they are given */
    sigset_t set, now;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &now) == 0);
    CHECK(sigismember(&now, SIGUSR1) == 1 && sigismember(&now, SIGUSR2) == 1);
    CHECK(pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0);
    CHECK(sigprocmask(SIG_SETMASK, NULL, &now) == 0);
    CHECK(sigismember(&now, SIGUSR1) == 0 && sigismember(&now, SIGUSR2) == 0);
    return 0;
}

/* ---- dlopen ------------------------------------------------------------------------------- */

/* The plugin's MODULES record, NULL if none. */
static const struct lts_module *plugin_module(const struct lts_snapshot *s, const char *path)
{
    char want[4096];
    snprintf(want, sizeof(want), "%s", path);
    const char *name = basename(want);
    for (size_t i = 0; i < s->nmodules; i++) {
        char have[4096];
        snprintf(have, sizeof(have), "%s", s->modules[i].path);
        if (!strcmp(basename(have), name))
            return &s->modules[i];
    }
    return NULL;
}

/* Is the call before return address ra inside one of the module's segments? */
static bool in_module(const struct lts_module *m, uint64_t ra)
{
    for (uint32_t i = 0; m && i < m->nsegments; i++)
        if (ra - 1 >= m->segments[i].start && ra - 1 < m->segments[i].start + m->segments[i].size)
            return true;
    return false;
}

static uint64_t frame0(const struct lts_snapshot *s, const struct lts_block *b)
{
    CHECK(b->stack < s->nstacks);
    return s->stacks[b->stack].depth ? s->stacks[b->stack].frames[0] : 0;
}

static int scenario_dlopen(void)
{
    const char *path = getenv("PROBE_PLUGIN");
    if (!path || access(path, R_OK) != 0)
        PROBE_SKIP("no plugin library (build %s with -DINTERPOSE_PLUGIN next to this program, "
                   "or give its path as the argument): dlopen not checked",
                   __FILE__);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        PROBE_FAIL("dlopen %s: %s", path, dlerror());
    void **blocks = dlsym(h, "interpose_plugin_blocks");
    CHECK(blocks != NULL);
    void *b[3] = {blocks[0], blocks[1], blocks[2]};
    CHECK(b[0] && b[1] && b[2]);
    probe_sleep_ms(30); /* unloaded at a later centisecond than loaded */
    CHECK(dlclose(h) == 0);
    /* No snapshot while it was loaded, nor leaktag's thread (single-threaded): only the
     * dlopen and dlclose wrappers can have told the module registry about the plugin. */
    CHECK(probe_task_count() == 1);
    CHECK(leaktag_snapshot("unloaded") == 0);

    struct lts_snapshot *s = probe_load(getpid(), 1);
    const struct lts_module *mod = plugin_module(s, path);
    if (!mod)
        PROBE_FAIL("the plugin, loaded and unloaded since the last snapshot, is not in MODULES");
    if (!mod->unloaded_cs || mod->unloaded_cs < mod->loaded_cs)
        PROBE_FAIL("the unloaded plugin is in MODULES as loaded at %u cs, unloaded at %u cs",
                   mod->loaded_cs, mod->unloaded_cs);
    for (int i = 0; i < 2; i++) {
        const struct lts_block *blk = probe_block(s, b[i]);
        if (blk && blk->size == 4321 + (uint64_t)i)
            PROBE_FAIL("block %d, which the plugin's destructor freed, is still recorded", i);
    }
    const struct lts_block *left = probe_block(s, b[2]);
    if (!left || left->size != 4323 || left->kind != LT_KIND_MALLOC)
        PROBE_FAIL("the block the plugin's constructor left behind is %s",
                   left ? "recorded with another size or kind" : "not recorded");
    if (!in_module(mod, frame0(s, left)))
        PROBE_FAIL("the left-behind block's frame 0 %#llx is in none of the plugin's segments",
                   (unsigned long long)frame0(s, left));
    lts_close(s);
    return 0;
}

/* ---- driver ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc > 1 && getenv("PROBE_DIR")) {
        if (!strcmp(argv[1], "alloc"))
            return scenario_alloc();
        if (!strcmp(argv[1], "names"))
            return scenario_names();
        if (!strcmp(argv[1], "dlopen"))
            return scenario_dlopen();
        PROBE_FAIL("no scenario %s", argv[1]);
    }
    if (!leaktag_stats)
        PROBE_SKIP("libleaktag.so is not preloaded");
    /* The plugin: the argument, or libinterpose_plugin.so next to this program. */
    char plugin[4096], self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(plugin, sizeof(plugin), "%s/libinterpose_plugin.so", dirname(self));
    char plugin_env[4200];
    snprintf(plugin_env, sizeof(plugin_env), "PROBE_PLUGIN=%s", argc > 1 ? argv[1] : plugin);
    probe_driver_init("interpose");
    struct probe_tally t = {0};
    const char *const env[] = {plugin_env, "-LEAKTAG_SAMPLE", "-LEAKTAG_KEEP", NULL};
    probe_tally(&t, "alloc", probe_run("alloc", env, 15));
    probe_tally(&t, "names", probe_run("names", env, 10));
    int rc = probe_run("dlopen", env, 10);
    probe_tally(&t, "dlopen", rc);
    if (rc == 77 && t.failed == 0)
        t.skipped = 0; /* the rest ran: a missing plugin skips only its part */
    return probe_finish(&t);
}

#endif
