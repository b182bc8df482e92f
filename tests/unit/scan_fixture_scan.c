/* scan_fixture_scan.c — see scan_fixture_scan.h. Everything is allocated as scan_run would
 * allocate it, so that scan_free lets it go. */
#include "scan_fixture_scan.h"

#include <stdlib.h>
#include <string.h>

#define EVIL SCAN_FIXTURE_EVIL

static void *must(void *p)
{
    if (!p)
        abort();
    return p;
}

struct region_spec {
    uint64_t start, end, rss_first, rss_last;
    enum target_map_kind kind;
    int tid;
    const char *perms, *path;
};

static const struct region_spec regions[] = {
    {0x400000, 0x401000, 4096, 4096, TARGET_MAP_FILE, 0, "r--p", "/srv/app/" EVIL "server"},
    {0x401000, 0x402000, 4096, 8192, TARGET_MAP_FILE, 0, "r-xp", "/srv/app/" EVIL "server"},
    {FIXTURE_HEAP_START, FIXTURE_HEAP_START + (32 << 20), 24 << 20, 32 << 20, TARGET_MAP_HEAP, 0,
     "rw-p", "[heap]"},
    {0x7f0000000000, 0x7f0000001000, 0, 0, TARGET_MAP_GUARD, 0, "---p", NULL},
    {0x7f0000001000, 0x7f0000801000, 65536, 65536, TARGET_MAP_THREAD_STACK, 4243, "rw-p", NULL},
    {0x7f0000801000, 0x7f0000802000, 0, 0, TARGET_MAP_GUARD, 0, "---p", NULL},
    {0x7f0000802000, 0x7f0001002000, 65536, 65536, TARGET_MAP_THREAD_STACK, 4244, "rw-p", NULL},
    {0x7ffff7a00000, 0x7ffff7a22000, 0x22000, 0x22000, TARGET_MAP_MMAPPED, 0, "rw-p", NULL},
    {0x7ffffffde000, 0x7ffffffff000, 0x21000, 0x21000, TARGET_MAP_STACK, 4242, "rw-p", "[stack]"},
};
#define NREGIONS (sizeof(regions) / sizeof(regions[0]))

static void look(struct scan *s, unsigned i, bool last, bool glibc)
{
    struct scan_look *l = &s->looks[i];
    l->at = i * 10.0;
    l->regions = must(calloc(NREGIONS, sizeof(*l->regions)));
    for (size_t k = 0; k < NREGIONS; k++) {
        const struct region_spec *r = &regions[k];
        struct scan_region *out = &l->regions[l->nregions++];
        *out = (struct scan_region){r->start, r->end, last ? r->rss_last : r->rss_first, 0, r->kind,
                                    r->tid,   "",     r->path ? strdup(r->path) : NULL};
        memcpy(out->perms, r->perms, 5);
        l->rss += out->rss;
        l->vm_size += r->end - r->start;
    }
    l->classes = must(calloc(3, sizeof(*l->classes)));
    if (glibc) {
        l->classes[0] = (struct heap_class){FIXTURE_CLASS,
                                            last ? FIXTURE_CHUNKS : FIXTURE_CHUNKS_FIRST, 0, 5};
        l->classes[1] = (struct heap_class){139248, 2, 2, 0};
        l->classes[2] = (struct heap_class){24, 50, 0, 7};
        l->nclasses = 3;
        for (size_t k = 0; k < 3; k++) {
            l->inuse_chunks += l->classes[k].chunks;
            l->inuse_bytes += l->classes[k].chunks * l->classes[k].usable;
        }
    }
}

static void heap(struct heap_census *h, bool glibc)
{
    if (!glibc) {
        snprintf(h->why, sizeof(h->why),
                 "not glibc's heap: /usr/lib/%s/libjemalloc.so.2 is mapped and its malloc "
                 "serves the process",
                 EVIL);
        return;
    }
    h->glibc = true;
    h->arenas = must(calloc(1, sizeof(*h->arenas)));
    h->arenas[0] = (struct heap_arena){0x7ffff7f9cc80, true, 1, 32 << 20, 0x21000};
    h->narenas = 1;
    h->classes = must(calloc(3, sizeof(*h->classes)));
    h->classes[0] = (struct heap_class){FIXTURE_CLASS, FIXTURE_CHUNKS, 0, 5};
    h->classes[1] = (struct heap_class){139248, 2, 2, 0};
    h->classes[2] = (struct heap_class){24, 50, 0, 7};
    h->nclasses = 3;
    h->heap_bytes = 32 << 20;
    h->inuse_chunks = FIXTURE_CHUNKS + 2 + 50;
    h->inuse_bytes = FIXTURE_CLASS * FIXTURE_CHUNKS + 2 * 139248 + 24 * 50;
    h->free_chunks = 40 + 12;
    h->free_bytes = 3 << 20;
    h->largest_free = 1 << 20;
    h->cached_chunks = 12;
    h->cached_bytes = 12 * 1504;
    h->tcaches = 3;
    h->tcache_chunks = 9;
    h->fastbin_chunks = 3;
    h->fastbins_read = true;
    h->top_bytes = 0x21000;
    h->mmapped_chunks = 2;
    h->mmapped_bytes = 2 * 139264;
    h->overhead_bytes = 8 * 1100;
    h->invalid_chunks = 2;
    h->skipped_bytes = 96;
    h->changed_under_walk = true;
}

static void content(struct scan *s, bool glibc, bool growth)
{
    struct scan_content *c = s->contents = must(calloc(1, sizeof(*s->contents)));
    s->ncontents = 1;
    if (glibc) {
        c->usable = FIXTURE_CLASS;
        c->buffers = FIXTURE_CHUNKS;
        c->bytes = (uint64_t)FIXTURE_CLASS * FIXTURE_CHUNKS;
        c->growth = growth ? FIXTURE_CHUNKS - FIXTURE_CHUNKS_FIRST : 0;
    } else {
        c->start = 0x7ffff0000000;
        c->end = 0x7ffff4000000;
        c->buffers = 64;
        c->bytes = 64 << 20;
    }
    c->strings = must(content_histogram_new_bounded(16384));
    content_histogram_add_count(c->strings, EVIL, strlen(EVIL), 700);
    content_histogram_add_count(c->strings, "channelid=4099", 14, 600);
    c->shapes = must(content_histogram_new_bounded(16384));
    content_histogram_add_count(c->shapes, "channelid=#", 11, 1000);
    c->matches = must(content_histogram_new());
    content_histogram_add_count(c->matches, "id=4099", 7, 600);
    content_histogram_add_count(c->matches, EVIL, strlen(EVIL), 3);
    c->match_buffers = must(content_histogram_new());
    content_histogram_add_count(c->match_buffers, "id=4099", 7, 550);
    content_histogram_add_count(c->match_buffers, EVIL, strlen(EVIL), 2);
    c->grep_matched = 552;
    c->samples = must(calloc(1, sizeof(*c->samples)));
    c->nsamples = 1;
    struct scan_sample *sm = &c->samples[0];
    sm->address = FIXTURE_HEAP_START + 0x1010;
    sm->size = FIXTURE_CLASS;
    sm->len = 48;
    sm->bytes = must(calloc(1, sm->len));
    memcpy(sm->bytes, EVIL "channelid=4099", strlen(EVIL) + 14);
    sm->bytes[40] = 0x80; /* and some binary */
    sm->bytes[41] = 0x07;
}

void scan_fixture_build(struct scan_fixture *f, unsigned looks, bool glibc)
{
    memset(f, 0, sizeof(*f));
    f->opt = (struct scan_options){.what = "4242",
                                   .interval = looks > 1 ? 10 : 0,
                                   .count = looks,
                                   .grep_pattern = "id=\\d+",
                                   .top = 1,
                                   .samples = 1,
                                   .dump_path = "/tmp/chunks.bin"};
    struct scan *s = &f->s;
    s->opt = &f->opt;
    struct target *t = s->t = must(target_new("pid 4242"));
    t->pid = 4242;
    snprintf(t->name, sizeof(t->name), "%s", EVIL);
    t->exe = must(strdup("/srv/app/" EVIL "server"));
    t->pointer_bytes = 8;
    t->address_space = 1ull << 47;
    t->stack_rlimit = 8 << 20;
    t->threads = must(calloc(3, sizeof(*t->threads)));
    t->nthreads = 3;
    t->threads[0] = (struct target_thread){4242, "", 0x7fffffffe000, 8, 0x21000, 0, 0, NULL};
    snprintf(t->threads[0].name, sizeof(t->threads[0].name), "%s", EVIL);
    t->threads[1] = (struct target_thread){4243,     "io-1",         0x7f0000800000, 4,
                                           0x801000, 0x7f00008ff000, 0x401100,       EVIL};
    t->threads[2] = (struct target_thread){4244,     "io-2",         0x7f0001001000, 6,
                                           0x801000, 0x7f00010ff000, 0x401100,       EVIL};

    heap(&s->heap, glibc);
    s->looks = must(calloc(looks, sizeof(*s->looks)));
    s->nlooks = looks;
    for (unsigned i = 0; i < looks; i++)
        look(s, i, i + 1 == looks, glibc);
    const struct scan_look *last = &s->looks[looks - 1];
    for (size_t i = 0; i < last->nregions; i++) {
        struct scan_kind_total *k = &s->kinds[last->regions[i].kind];
        k->maps++;
        k->size += last->regions[i].end - last->regions[i].start;
        k->rss += last->regions[i].rss;
    }
    if (looks > 1) { /* the heap grew 8 MiB, the executable's text a page */
        s->grew = must(calloc(2, sizeof(*s->grew)));
        s->grew[0] = (struct scan_growth){&last->regions[2], 8 << 20};
        s->grew[1] = (struct scan_growth){&last->regions[1], 4096};
        s->ngrew = 2;
    }
    content(s, glibc, looks > 1);

    s->families = must(calloc(2, sizeof(*s->families)));
    s->nfamilies = 2;
    s->families[0] = (struct scan_family){"io-*", EVIL, 2, 0x801000, 0x1002000, 0};
    s->families[1] = (struct scan_family){"", "", 1, 0x21000, 0x21000, 0};
    snprintf(s->families[1].name, sizeof(s->families[1].name), "%s (main)", EVIL);
    s->stacks_reserved = 0x1002000;
    s->walk_seconds = 0.25;
    s->total_seconds = 0.5;
    s->dumped_chunks = FIXTURE_CHUNKS;
    s->dumped_bytes = (uint64_t)FIXTURE_CLASS * FIXTURE_CHUNKS;
}

/* ---- the verdict (--reach) ------------------------------------------------------------------ */

/* A class of the verdict: its chunks by enum lt_reach_verdict and one chain, in words as
 * reachability_describe puts them (the chain itself only says where its root is: the
 * renderers show the words). */
struct verdict_spec {
    uint64_t usable;
    uint64_t chunks[LT_VERDICT_COUNT];
    uint32_t root_kind;
    int tid;
    const char *steps[4]; /* NULL-terminated */
};

/* By usable size, as reachability_class looks them up; most reachable bytes: FIXTURE_CLASS
 * (374,000), then 139,248 (278,496), then 24 (1,200). */
static const struct verdict_spec verdict_classes[] = {
    {24,
     {0, 0, 0, 50},
     LT_ROOT_TYPE_REGISTERS,
     4243,
     {"a register of thread io-1 (tid 4243)", "chunk 0x5555555d0010 (usable 24) of this class"}},
    {FIXTURE_CLASS,
     {FIXTURE_DEFINITELY, FIXTURE_INDIRECTLY, FIXTURE_POSSIBLY, FIXTURE_REACHABLE},
     LT_ROOT_TYPE_MAPPING,
     0,
     {FIXTURE_ROOT, "chunk 0x55555555a5e0 (usable 1496), at +0x10",
      "chunk 0x55555555abc0 (usable 1496) of this class"}},
    {139248,
     {0, 0, 0, 2},
     LT_ROOT_TYPE_STACK,
     4244,
     {"the stack of thread io-2 (tid 4244), 112 bytes above its stack pointer, in the frame "
      "of worker_main",
      "chunk 0x7ffff7a00010 (usable 139248) of this class"}},
};
#define NVERDICT_CLASSES (sizeof(verdict_classes) / sizeof(verdict_classes[0]))

void scan_fixture_verdict(struct scan_fixture *f, enum scan_fixture_verdict v)
{
    struct scan *s = &f->s;
    struct reachability *rc = &s->reach;
    f->opt.reach = true;
    if (v == SCAN_FIXTURE_NO_VERDICT) {
        if (!s->heap.glibc)
            snprintf(rc->why, sizeof(rc->why),
                     "the heap is not glibc's, whose chunks the verdict reads: %.250s",
                     s->heap.why);
        else
            snprintf(rc->why, sizeof(rc->why),
                     "a running process's heap changes under the mark (--freeze stops it)");
        return;
    }
    if (!s->heap.glibc)
        abort(); /* reachability_take gives none on another heap */
    rc->taken = true;
    rc->blocks = s->heap.inuse_chunks;
    rc->roots = 37;
    rc->bytes_scanned = 2 << 20;
    rc->seconds = 0.125;
    snprintf(rc->caveat, sizeof(rc->caveat),
             "%u chunks failed the walk's checks and were skipped: what only they point at is "
             "counted lost",
             (unsigned)s->heap.invalid_chunks);
    rc->classes = must(calloc(NVERDICT_CLASSES, sizeof(*rc->classes)));
    rc->nclasses = NVERDICT_CLASSES;
    for (size_t i = 0; i < NVERDICT_CLASSES; i++) {
        const struct verdict_spec *spec = &verdict_classes[i];
        struct reach_class *k = &rc->classes[i];
        k->usable = spec->usable;
        for (int st = 0; st < LT_VERDICT_COUNT; st++) {
            k->state[st] = (struct reach_count){spec->chunks[st], spec->chunks[st] * spec->usable};
            rc->total[st].chunks += k->state[st].chunks;
            rc->total[st].bytes += k->state[st].bytes;
        }
        size_t n = 0;
        while (spec->steps[n])
            n++;
        k->chain = must(calloc(1, sizeof(*k->chain)));
        k->chain->root = (struct lt_reach_root){spec->root_kind, spec->tid, 0, 0};
        k->chain->nkept = k->chain->hops = n - 1;
        k->retained_by = must(calloc(n, sizeof(*k->retained_by)));
        for (; k->nsteps < n; k->nsteps++)
            k->retained_by[k->nsteps] = must(strdup(spec->steps[k->nsteps]));
    }
    /* the lost chunks, FIXTURE_CLASS's, the sample's among them */
    rc->nlost = FIXTURE_DEFINITELY + FIXTURE_INDIRECTLY;
    rc->lost = must(calloc(rc->nlost, sizeof(*rc->lost)));
    for (size_t i = 0; i < rc->nlost; i++)
        rc->lost[i] = FIXTURE_HEAP_START + 0x1010 + i * (FIXTURE_CLASS + 8);

    if (v == SCAN_FIXTURE_VERDICT_LOST) { /* the content part reads the lost chunks alone */
        f->opt.lost = true;
        s->contents[0].buffers = rc->nlost;
        s->contents[0].bytes = (uint64_t)FIXTURE_CLASS * rc->nlost;
        s->dumped_chunks = rc->nlost;
        s->dumped_bytes = (uint64_t)FIXTURE_CLASS * rc->nlost;
    }
}
