/* scan.c — the looks at the target, the census, the content of what is shown (see scan.h).
 * Memory follows the shown classes, not the heap: the census keeps counts per size class,
 * the content pass keeps bounded strings histograms and a few samples.
 *
 * A run: --count looks, --interval apart; the last look's totals by kind and the mappings that
 * grew since the first look, largest growth first (for every renderer); the size classes shown
 * (--size's, else those that grew most, then the largest) and their content, or for a heap
 * that is not glibc's the largest anonymous regions instead; thread families; --dump, the
 * chunks of the first class shown. scan_text.c, scan_json.c and scan_html.c only print. A run
 * never writes to the target and never leaves it stopped: without --freeze it does not stop it
 * at all, and a heap changing under the walk costs a skipped, counted chunk, never a followed
 * wild pointer. */
#include "scan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "modules.h"
#include "output.h"
#include "target_core.h"
#include "target_live.h"
#include "tcb.h"

#define STRINGS_KEPT 16384
#define SAMPLE_BYTES 512
#define FIELDS_MAX 32
#define REGION_WINDOW (1u << 20)
#define REGION_OVERLAP 4096u

const char *scan_kind_name(enum target_map_kind kind)
{
    switch (kind) {
    case TARGET_MAP_ANON: return "anonymous";
    case TARGET_MAP_FILE: return "file";
    case TARGET_MAP_HEAP: return "heap";
    case TARGET_MAP_ARENA: return "arena heap";
    case TARGET_MAP_MMAPPED: return "mmapped chunks";
    case TARGET_MAP_STACK: return "main stack";
    case TARGET_MAP_THREAD_STACK: return "thread stack";
    case TARGET_MAP_GUARD: return "guard";
    case TARGET_MAP_SPECIAL: return "kernel";
    }
    return "?";
}

const char *scan_region_name(char *buf, size_t size, const struct scan_region *r)
{
    switch (r->kind) {
    case TARGET_MAP_THREAD_STACK: snprintf(buf, size, "stack of thread %d", r->tid); break;
    case TARGET_MAP_STACK: snprintf(buf, size, "[stack] of the main thread"); break;
    case TARGET_MAP_HEAP: snprintf(buf, size, "[heap] (malloc's main arena)"); break;
    case TARGET_MAP_ARENA: snprintf(buf, size, "heap of a malloc arena"); break;
    case TARGET_MAP_MMAPPED: snprintf(buf, size, "malloc's mmapped chunks"); break;
    default: snprintf(buf, size, "%s", r->path ? r->path : scan_kind_name(r->kind));
    }
    return buf;
}

uint64_t scan_class_chunks(const struct scan_look *look, uint64_t usable)
{
    for (size_t i = 0; i < look->nclasses; i++)
        if (look->classes[i].usable == usable)
            return look->classes[i].chunks;
    return 0;
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int record_look(struct scan *s, double at)
{
    struct target *t = s->t;
    struct scan_look *n = realloc(s->looks, (s->nlooks + 1) * sizeof(*n));
    if (!n)
        return -1;
    s->looks = n;
    struct scan_look *look = &s->looks[s->nlooks++];
    memset(look, 0, sizeof(*look));
    look->at = at;
    look->vm_size = t->vm_size;
    look->regions = calloc(t->nmaps + 1, sizeof(*look->regions));
    look->classes = calloc(s->heap.nclasses + 1, sizeof(*look->classes));
    if (!look->regions || !look->classes)
        return -1;
    for (size_t i = 0; i < t->nmaps; i++) {
        const struct target_map *m = &t->maps[i];
        struct scan_region *r = &look->regions[look->nregions++];
        *r = (struct scan_region){m->start, m->end, m->rss, m->swapped, m->kind, m->tid, "", NULL};
        memcpy(r->perms, m->perms, sizeof(r->perms));
        if (m->path && !(r->path = strdup(m->path)))
            return -1;
        look->rss += m->rss;
    }
    memcpy(look->classes, s->heap.classes, s->heap.nclasses * sizeof(*look->classes));
    look->nclasses = s->heap.nclasses;
    look->inuse_bytes = s->heap.inuse_bytes;
    look->inuse_chunks = s->heap.inuse_chunks;
    return 0;
}

static int by_growth(const void *a, const void *b)
{
    const struct scan_growth *x = a, *y = b;
    if (x->rss != y->rss)
        return x->rss > y->rss ? -1 : 1;
    return x->region->start < y->region->start ? -1 : x->region->start > y->region->start;
}

/* The last look's totals by kind, and the mappings that grew since the first look. */
static int summarize_looks(struct scan *s)
{
    const struct scan_look *first = &s->looks[0], *last = &s->looks[s->nlooks - 1];
    for (size_t i = 0; i < last->nregions; i++) {
        const struct scan_region *r = &last->regions[i];
        struct scan_kind_total *k = &s->kinds[r->kind];
        k->maps++;
        k->size += r->end - r->start;
        k->rss += r->rss;
        k->swapped += r->swapped;
    }
    if (s->nlooks < 2)
        return 0;
    if (!(s->grew = calloc(last->nregions + 1, sizeof(*s->grew))))
        return -1;
    for (size_t i = 0; i < last->nregions; i++) {
        const struct scan_region *r = &last->regions[i];
        uint64_t before = 0;
        for (size_t k = 0; k < first->nregions; k++)
            if (first->regions[k].start == r->start)
                before = first->regions[k].rss;
        if (r->rss > before)
            s->grew[s->ngrew++] = (struct scan_growth){r, (int64_t)(r->rss - before)};
    }
    qsort(s->grew, s->ngrew, sizeof(*s->grew), by_growth);
    return 0;
}

/* ---- content --------------------------------------------------------------------------- */

struct reading {
    struct scan *s;
    struct content_grep_scratch scratch;
    struct output dump;
    uint64_t dump_usable; /* the class whose chunks --dump writes */
    bool dumping;
    int dump_error;
    bool oom;
};

static struct scan_content *content_for(struct scan *s, uint64_t usable)
{
    for (size_t i = 0; i < s->ncontents; i++)
        if (s->contents[i].usable == usable)
            return &s->contents[i];
    return NULL;
}

static void take_sample(struct reading *r, struct scan_content *c, uint64_t address, uint64_t size,
                        const uint8_t *bytes, size_t n)
{
    if (c->nsamples >= r->s->opt->samples)
        return;
    struct scan_sample *sm = &c->samples[c->nsamples];
    sm->len = n < SAMPLE_BYTES ? n : SAMPLE_BYTES;
    if (!(sm->bytes = malloc(sm->len + 1))) {
        r->oom = true;
        return;
    }
    memcpy(sm->bytes, bytes, sm->len);
    sm->address = address;
    sm->size = size;
    c->nsamples++;
}

static void count_bytes(struct reading *r, struct scan_content *c, const uint8_t *bytes, size_t n)
{
    content_strings(bytes, n, 4, content_histogram_add_token, c->strings);
    content_strings(bytes, n, 4, content_histogram_add_shape, c->shapes);
    content_fields_add(c->fields, bytes, n);
    if (c->matches) {
        long k = content_grep_buffer(r->s->opt->grep, bytes, n, c->matches, c->match_buffers,
                                     &r->scratch);
        if (k < 0)
            r->oom = true;
        c->grep_matched += k > 0;
    }
}

static void read_chunk(uint64_t address, uint64_t usable, const uint8_t *bytes, size_t n, void *ctx)
{
    struct reading *r = ctx;
    struct scan_content *c = content_for(r->s, usable);
    if (!c || (r->s->opt->lost && !reachability_lost(&r->s->reach, address)))
        return;
    c->buffers++;
    c->bytes += n;
    c->unread += usable - n;
    take_sample(r, c, address, usable, bytes, n);
    count_bytes(r, c, bytes, n);
    if (r->dumping && usable == r->dump_usable && !r->dump_error) {
        if (fwrite(bytes, 1, n, r->dump.out) != n)
            r->dump_error = errno ? errno : EIO;
        r->s->dumped_chunks++;
        r->s->dumped_bytes += n;
    }
}

static int prepare(struct scan_content *c, const struct scan_options *opt, unsigned word)
{
    c->strings = content_histogram_new_bounded(STRINGS_KEPT);
    c->shapes = content_histogram_new_bounded(STRINGS_KEPT);
    c->fields = content_fields_new(FIELDS_MAX, word);
    c->samples = calloc(opt->samples + 1, sizeof(*c->samples));
    if (opt->grep) {
        c->matches = content_histogram_new();
        c->match_buffers = content_histogram_new();
    }
    return c->strings && c->shapes && c->fields && c->samples &&
                   (!opt->grep || (c->matches && c->match_buffers))
               ? 0
               : -1;
}

/* The classes shown: --size's; else those that grew most between the first look and the
 * last, then the largest. */
static int choose_classes(struct scan *s)
{
    const struct scan_options *opt = s->opt;
    const struct heap_census *h = &s->heap;
    size_t want = opt->size ? 1 : opt->top;
    s->contents = calloc(want + 1, sizeof(*s->contents));
    if (!s->contents)
        return -1;
    const struct scan_look *first = &s->looks[0], *last = &s->looks[s->nlooks - 1];
    if (opt->size) {
        s->contents[s->ncontents++].usable = opt->size;
    } else if (opt->lost) {
        /* the classes with most lost bytes, and no other */
        while (s->ncontents < want) {
            const struct reach_class *best = NULL;
            for (size_t i = 0; i < s->reach.nclasses; i++) {
                const struct reach_class *k = &s->reach.classes[i];
                uint64_t bytes = reachability_lost_in(k).bytes;
                if (bytes && !content_for(s, k->usable) &&
                    (!best || bytes > reachability_lost_in(best).bytes))
                    best = k;
            }
            if (!best)
                break;
            s->contents[s->ncontents++].usable = best->usable;
        }
        want = s->ncontents;
    } else if (s->nlooks > 1) {
        while (s->ncontents < want) {
            int64_t best = 0;
            size_t pick = SIZE_MAX;
            for (size_t i = 0; i < h->nclasses; i++) {
                uint64_t u = h->classes[i].usable;
                int64_t grown = (int64_t)(scan_class_chunks(last, u) - scan_class_chunks(first, u));
                if (grown > 0 && (int64_t)u * grown > best && !content_for(s, u))
                    best = (int64_t)u * grown, pick = i;
            }
            if (pick == SIZE_MAX)
                break;
            s->contents[s->ncontents++].usable = h->classes[pick].usable;
        }
    }
    for (size_t i = 0; i < h->nclasses && s->ncontents < want; i++)
        if (h->classes[i].chunks && !content_for(s, h->classes[i].usable))
            s->contents[s->ncontents++].usable = h->classes[i].usable;
    for (size_t i = 0; i < s->ncontents; i++) {
        struct scan_content *c = &s->contents[i];
        c->growth = (int64_t)(scan_class_chunks(last, c->usable) -
                              scan_class_chunks(first, c->usable));
        if (prepare(c, opt, s->t->pointer_bytes) < 0)
            return -1;
    }
    return 0;
}

/* Without glibc's heap: the largest anonymous regions, read a window at a time (windows
 * overlap so that a match across their border is counted once, in the window it starts). */
struct region_pass {
    const uint8_t *window;
    size_t counted; /* matches starting before this offset count */
    struct content_histogram *matches;
    uint64_t n;
};

static void region_match(const char *text, size_t len, void *ctx)
{
    struct region_pass *rp = ctx;
    if ((size_t)((const uint8_t *)text - rp->window) < rp->counted) {
        content_histogram_add(rp->matches, text, len);
        rp->n++;
    }
}

static int read_regions(struct scan *s, struct reading *r)
{
    struct target *t = s->t;
    const struct scan_options *opt = s->opt;
    s->contents = calloc(opt->top + 1, sizeof(*s->contents));
    uint8_t *buf = malloc(REGION_WINDOW + REGION_OVERLAP);
    if (!s->contents || !buf) {
        free(buf);
        return -1;
    }
    while (s->ncontents < opt->top) {
        const struct target_map *best = NULL;
        for (size_t i = 0; i < t->nmaps; i++) {
            const struct target_map *m = &t->maps[i];
            bool taken = false;
            for (size_t k = 0; k < s->ncontents; k++)
                taken |= s->contents[k].start == m->start;
            if (taken || m->perms[0] != 'r' ||
                (m->kind != TARGET_MAP_ANON && m->kind != TARGET_MAP_HEAP) ||
                (best && m->rss <= best->rss))
                continue;
            best = m;
        }
        if (!best || !best->rss)
            break;
        struct scan_content *c = &s->contents[s->ncontents++];
        c->start = best->start;
        c->end = best->end;
        if (prepare(c, opt, s->t->pointer_bytes) < 0) {
            free(buf);
            return -1;
        }
        for (uint64_t at = c->start; at < c->end; at += REGION_WINDOW) {
            size_t want = (size_t)(c->end - at < REGION_WINDOW + REGION_OVERLAP
                                       ? c->end - at
                                       : REGION_WINDOW + REGION_OVERLAP);
            size_t got = target_read(t, at, buf, want);
            size_t own = got < REGION_WINDOW ? got : REGION_WINDOW;
            c->buffers++;
            c->bytes += own;
            c->unread += (want < REGION_WINDOW ? want : REGION_WINDOW) - own;
            if (!got)
                continue;
            take_sample(r, c, at, c->end - c->start, buf, own);
            content_strings(buf, own, 4, content_histogram_add_token, c->strings);
            content_strings(buf, own, 4, content_histogram_add_shape, c->shapes);
            if (c->matches) {
                struct region_pass rp = {buf, own, c->matches, 0};
                content_regex_each(opt->grep, buf, got, region_match, &rp);
                c->grep_matched += rp.n > 0;
            }
        }
    }
    free(buf);
    return 0;
}

/* ---- threads ------------------------------------------------------------------------------- */

static int compare_families(const void *a, const void *b)
{
    const struct scan_family *x = a, *y = b;
    if (x->reserved != y->reserved)
        return x->reserved > y->reserved ? -1 : 1;
    if (x->threads != y->threads)
        return x->threads > y->threads ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A thread's family: its name without the number; in a core, which keeps no names, the
 * function it started in. The main thread is its own: its stack grows on demand. */
static void family_for(const struct target *t, size_t i, char *out, size_t size)
{
    const struct target_thread *th = &t->threads[i];
    if (i == 0) {
        snprintf(out, size, "%s (main)", th->name[0] ? th->name : t->name[0] ? t->name : "thread");
    } else if (th->name[0]) {
        family_of(th->name, out, size);
    } else if (th->start_name) {
        size_t n = strcspn(th->start_name, "(");
        snprintf(out, size, "%.*s()", (int)(n < size - 3 ? n : size - 3), th->start_name);
    } else {
        snprintf(out, size, "(unnamed)");
    }
}

static int fold_threads(struct scan *s)
{
    struct target *t = s->t;
    s->families = calloc(t->nthreads + 1, sizeof(*s->families));
    size_t *of = calloc(t->nthreads + 1, sizeof(*of)); /* each thread's family */
    if (!s->families || !of) {
        free(of);
        return -1;
    }
    for (size_t i = 0; i < t->nthreads; i++) {
        const struct target_thread *th = &t->threads[i];
        char name[40];
        family_for(t, i, name, sizeof(name));
        size_t k = 0;
        while (k < s->nfamilies && strcmp(s->families[k].name, name))
            k++;
        struct scan_family *f = &s->families[k];
        if (k == s->nfamilies) {
            s->nfamilies++;
            snprintf(f->name, sizeof(f->name), "%s", name);
            if (th->start_name)
                snprintf(f->start, sizeof(f->start), "%s", th->start_name);
        }
        of[i] = k;
        f->threads++;
        f->reserved += th->stack_reserved;
        f->unknown_stacks += th->map == SIZE_MAX;
        if (i)
            s->stacks_reserved += th->stack_reserved;
    }
    /* each family's usual stack: the most common reservation among its threads */
    for (size_t k = 0; k < s->nfamilies; k++) {
        size_t best = 0;
        for (size_t i = 0; i < t->nthreads; i++) {
            uint64_t size = t->threads[i].stack_reserved;
            if (of[i] != k || !size)
                continue;
            size_t same = 0;
            for (size_t j = 0; j < t->nthreads; j++)
                same += of[j] == k && t->threads[j].stack_reserved == size;
            if (same > best)
                best = same, s->families[k].stack_each = size;
        }
    }
    free(of);
    qsort(s->families, s->nfamilies, sizeof(*s->families), compare_families);
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* `what` is a pid or a core file (exe: the core's executable, NULL to take the path the core
 * names). 0, or -1 with a one-line reason in err. */
bool scan_is_pid(const char *what)
{
    size_t digits = strspn(what, "0123456789");
    return what[0] && !what[digits] && digits < 10;
}

static int open_target(const char *what, const char *exe, struct target **out,
                       struct lts_error *err)
{
    if (scan_is_pid(what))
        return target_live_open((pid_t)atoi(what), out, err);
    return target_core_open(what, exe, out, err);
}

static int fail_gone(struct scan *s, struct lts_error *err)
{
    return lts_fail(err, "%s exited during the scan", s->t->source);
}

int scan_run(struct scan *s, struct scan_options *opt, struct lts_error *err)
{
    memset(s, 0, sizeof(*s));
    s->opt = opt;
    double start = target_now();
    if (open_target(opt->what, opt->exe, &s->t, err) < 0)
        return -1;
    struct target *t = s->t;
    unsigned looks = t->is_core ? 1 : (opt->count ? opt->count : 1);
    struct reading r = {.s = s};
    int rc = 0;
    for (unsigned i = 0; i < looks && rc == 0; i++) {
        bool last = i + 1 == looks;
        if (i) {
            sleep_seconds(opt->interval);
            if (target_refresh(t, err) < 0)
                return -1;
        }
        double walk_start = target_now();
        if (last && opt->freeze && !t->is_core) {
            if (target_freeze(t, err) < 0)
                return -1;
        }
        tcb_read(t);
        heap_census_free(&s->heap);
        if (heap_census(t, &s->heap, err) < 0)
            return -1;
        if (t->gone)
            return fail_gone(s, err);
        if (record_look(s, walk_start - start) < 0)
            return lts_fail(err, "out of memory");
        if (!last)
            continue;
        if (opt->reach && reachability_take(t, &s->heap, &s->reach, err) < 0)
            return -1;
        if (t->gone)
            return fail_gone(s, err);
        rc = s->heap.glibc ? choose_classes(s) : read_regions(s, &r);
        if (rc < 0)
            return lts_fail(err, "out of memory");
        if (opt->dump_path) {
            r.dump_usable = opt->size ? opt->size : s->ncontents ? s->contents[0].usable : 0;
            if (!s->heap.glibc)
                return lts_fail(err, "--dump writes the chunks of a glibc heap; this one is not");
            if (output_open(&r.dump, opt->dump_path, err) < 0)
                return -1;
            r.dumping = true;
        }
        if (s->heap.glibc && s->ncontents) {
            uint64_t *sizes = calloc(s->ncontents, sizeof(*sizes));
            if (!sizes)
                return lts_fail(err, "out of memory");
            for (size_t k = 0; k < s->ncontents; k++)
                sizes[k] = s->contents[k].usable;
            heap_each_chunk(t, &s->heap, sizes, s->ncontents, read_chunk, &r);
            free(sizes);
        }
        s->walk_seconds = target_now() - walk_start;
        if (opt->freeze) {
            target_thaw(t);
            s->stopped_seconds = target_now() - walk_start;
        }
        if (t->gone)
            rc = fail_gone(s, err);
        else if (r.oom)
            rc = lts_fail(err, "out of memory");
        if (r.dumping) {
            if (!rc && r.dump_error)
                rc = lts_fail(err, "%s: %s", opt->dump_path, strerror(r.dump_error));
            struct lts_error e2;
            if (output_close(&r.dump, rc == 0, rc ? &e2 : err) < 0 && !rc)
                rc = -1;
        }
    }
    content_grep_scratch_free(&r.scratch);
    if (rc == 0 && summarize_looks(s) < 0)
        rc = lts_fail(err, "out of memory");
    if (rc == 0 && (s->modules = modules_open(t, NULL)))
        for (size_t i = 0; i < t->nthreads; i++)
            t->threads[i].start_name = modules_function(s->modules, t->threads[i].start_routine);
    if (rc == 0 && s->reach.taken && reachability_describe(&s->reach, t, s->modules) < 0)
        rc = lts_fail(err, "out of memory");
    if (rc == 0 && fold_threads(s) < 0)
        rc = lts_fail(err, "out of memory");
    s->total_seconds = target_now() - start;
    return rc;
}

void scan_free(struct scan *s)
{
    for (size_t i = 0; i < s->nlooks; i++) {
        for (size_t k = 0; k < s->looks[i].nregions; k++)
            free(s->looks[i].regions[k].path);
        free(s->looks[i].regions);
        free(s->looks[i].classes);
    }
    free(s->looks);
    free(s->grew);
    for (size_t i = 0; i < s->ncontents; i++) {
        struct scan_content *c = &s->contents[i];
        content_histogram_free(c->strings);
        content_histogram_free(c->shapes);
        content_fields_free(c->fields);
        content_histogram_free(c->matches);
        content_histogram_free(c->match_buffers);
        for (size_t k = 0; c->samples && k < c->nsamples; k++)
            free(c->samples[k].bytes);
        free(c->samples);
    }
    free(s->contents);
    free(s->families);
    modules_close(s->modules);
    heap_census_free(&s->heap);
    reachability_free(&s->reach);
    target_close(s->t);
    memset(s, 0, sizeof(*s));
}
