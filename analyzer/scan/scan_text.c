/* scan_text.c — leaktag-scan for people: what the article's pmap, gdb, xxd, grep and top -H
 * steps showed, each as a section: memory (and what grew), the glibc heap's census, what the
 * largest (or growing) size classes hold, the threads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "units.h"

#define CLASSES_SHOWN 12
#define REGIONS_SHOWN 8
#define STRINGS_SHOWN 8
#define MATCHES_SHOWN 12
#define SHAPES_SHOWN 4
#define HEXDUMP_BYTES 256

static const char *b(const struct scan *s)
{
    return s->opt->color ? "\033[1m" : "";
}
static const char *p(const struct scan *s)
{
    return s->opt->color ? "\033[0m" : "";
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Text from the target: control characters may not reach the terminal. */
static void print_text(FILE *out, const char *text, size_t len, size_t max)
{
    char buf[256];
    size_t n = len < max ? len : max;
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    content_printable((const uint8_t *)text, n, buf);
    fputs(buf, out);
    if (len > n)
        fputs("...", out);
}

/* The same for a string printed as an argument of a format (a process or thread name, a
 * path, a reason naming one): one of a few buffers in turn, cut to what a line can show. */
static const char *clean(const char *text)
{
    static char buffers[8][512];
    static unsigned next;
    char *buf = buffers[next++ % 8];
    size_t n = 0;
    while (n + 1 < sizeof(buffers[0]) && text[n])
        n++;
    content_printable((const uint8_t *)text, n, buf);
    return buf;
}

static void header(FILE *out, const struct scan *s)
{
    const struct target *t = s->t;
    fprintf(out, "%sleaktag-scan%s: %s (%s), %u-bit", b(s), p(s), clean(t->source),
            t->name[0] ? clean(t->name) : "?", t->pointer_bytes * 8);
    if (t->is_core)
        fprintf(out, ", a core file");
    else if (s->opt->freeze)
        fprintf(out, ", stopped for %.3f s (--freeze)", s->stopped_seconds);
    else
        fprintf(out, ", not stopped");
    fprintf(out, "; heap walked in %.3f s\n", s->walk_seconds);
    if (t->exe)
        fprintf(out, "  executable %s\n", clean(t->exe));
}

static void memory(FILE *out, const struct scan *s)
{
    const struct scan_look *last = &s->looks[s->nlooks - 1];
    char b1[32], b2[32], b3[32];
    fprintf(out, "\n%smemory%s  %s mapped, %s %s\n", b(s), p(s),
            units_bytes(b1, sizeof(b1), (int64_t)last->vm_size),
            units_bytes(b2, sizeof(b2), (int64_t)last->rss),
            s->t->is_core ? "in the core" : "resident");
    if (s->t->unmeasured_maps)
        fprintf(out,
                "  (%zu mappings of over 64 GiB each, reserved more than used: their "
                "resident bytes are not counted)\n",
                s->t->unmeasured_maps);
    fprintf(out, "  %-16s %8s %11s %11s %11s\n", "kind", "mappings", "size",
            s->t->is_core ? "in core" : "RSS", "swapped");
    for (int k = 0; k <= TARGET_MAP_SPECIAL; k++)
        if (s->kinds[k].maps)
            fprintf(out, "  %-16s %8" PRIu64 " %11s %11s %11s\n", scan_kind_name(k),
                    s->kinds[k].maps, units_bytes(b1, sizeof(b1), (int64_t)s->kinds[k].size),
                    units_bytes(b2, sizeof(b2), (int64_t)s->kinds[k].rss),
                    units_bytes(b3, sizeof(b3), (int64_t)s->kinds[k].swapped));

    if (s->nlooks > 1) {
        const struct scan_look *first = &s->looks[0];
        fprintf(out, "\n  %sgrew%s in %.1f s (%zu looks), largest growth first:\n", b(s), p(s),
                last->at - first->at, s->nlooks);
        for (size_t i = 0; i < s->ngrew && i < REGIONS_SHOWN; i++) {
            const struct scan_region *r = s->grew[i].region;
            char name[300];
            fprintf(out, "    %#14" PRIx64 "-%#-14" PRIx64 " %s  RSS +%-10s now %-10s %s\n",
                    r->start, r->end, r->perms, units_bytes(b1, sizeof(b1), s->grew[i].rss),
                    units_bytes(b2, sizeof(b2), (int64_t)r->rss),
                    clean(scan_region_name(name, sizeof(name), r)));
        }
        if (!s->ngrew)
            fprintf(out, "    nothing\n");
        return;
    }
    fprintf(out, "\n  largest mappings:\n");
    bool *done = calloc(last->nregions + 1, 1);
    for (size_t shown = 0; done && shown < REGIONS_SHOWN; shown++) {
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i < last->nregions; i++)
            if (!done[i] && last->regions[i].rss &&
                (pick == SIZE_MAX || last->regions[i].rss > last->regions[pick].rss))
                pick = i;
        if (pick == SIZE_MAX)
            break;
        done[pick] = true;
        const struct scan_region *r = &last->regions[pick];
        char name[300];
        fprintf(out, "    %#14" PRIx64 "-%#-14" PRIx64 " %s  %10s %s  %s\n", r->start, r->end,
                r->perms, units_bytes(b1, sizeof(b1), (int64_t)r->rss),
                s->t->is_core ? "in core " : "resident",
                clean(scan_region_name(name, sizeof(name), r)));
    }
    free(done);
}

static void heap(FILE *out, const struct scan *s)
{
    const struct heap_census *h = &s->heap;
    char b1[32], b2[32], b3[32], n1[32];
    fprintf(out, "\n%sglibc heap%s", b(s), p(s));
    if (!h->glibc) {
        fprintf(out, ": %s\n", clean(h->why));
        return;
    }
    size_t heaps = 0;
    for (size_t i = 0; i < h->narenas; i++)
        heaps += h->arenas[i].heaps;
    uint64_t whole = h->heap_bytes + h->mmapped_bytes;
    fprintf(out, "  %zu arena%s, %zu heap%s, %s, and %s in %s mmapped chunks\n", h->narenas,
            h->narenas == 1 ? "" : "s", heaps, heaps == 1 ? "" : "s",
            units_bytes(b1, sizeof(b1), (int64_t)h->heap_bytes),
            units_bytes(b2, sizeof(b2), (int64_t)h->mmapped_bytes),
            units_count(n1, sizeof(n1), h->mmapped_chunks));
    fprintf(out, "  in use   %10s in %s chunks (%.1f %%)\n",
            units_bytes(b1, sizeof(b1), (int64_t)h->inuse_bytes),
            units_count(n1, sizeof(n1), h->inuse_chunks), percent(h->inuse_bytes, whole));
    fprintf(out, "  free     %10s in %s chunks (%.1f %%), largest %s",
            units_bytes(b1, sizeof(b1), (int64_t)h->free_bytes),
            units_count(n1, sizeof(n1), h->free_chunks), percent(h->free_bytes, whole),
            units_bytes(b2, sizeof(b2), (int64_t)h->largest_free));
    fprintf(out, "; of them %s in %s tcache%s, %s in fastbins\n",
            units_count(n1, sizeof(n1), h->tcache_chunks), units_count(b3, sizeof(b3), h->tcaches),
            h->tcaches == 1 ? "" : "s", units_count(b2, sizeof(b2), h->fastbin_chunks));
    fprintf(out, "  top      %10s; malloc's own %s\n",
            units_bytes(b1, sizeof(b1), (int64_t)h->top_bytes),
            units_bytes(b2, sizeof(b2), (int64_t)h->overhead_bytes));
    if (h->unchecked_small)
        fprintf(out, "  %s small chunks may be free in a tcache or fastbin not found\n",
                units_count(n1, sizeof(n1), h->unchecked_small));
    if (h->invalid_chunks)
        fprintf(out, "  %s chunks failed a check (%s); %s skipped\n",
                units_count(n1, sizeof(n1), h->invalid_chunks),
                h->changed_under_walk
                    ? "the heap changed under the walk: use --freeze for an exact one"
                    : "they read the same again: not a heap that moved, but memory glibc's "
                      "headers do not describe",
                units_bytes(b1, sizeof(b1), (int64_t)h->skipped_bytes));
    /* the top chunk is the heap's unused end, not holes between chunks in use */
    double free_share = percent(h->free_bytes, h->free_bytes + h->inuse_bytes);
    if (h->inuse_bytes)
        fprintf(out, "  => %s\n",
                free_share < 25 ? "the heap is chunks in use, not fragmentation: what grew is "
                                  "held, by a leak or a cache"
                                : "fragmented: free chunks between those in use hold a large "
                                  "share (malloc_trim() gives back only whole free pages)");
    if (!h->nclasses)
        return;
    bool growth = s->nlooks > 1;
    const struct scan_look *first = &s->looks[0];
    fprintf(out, "\n  %11s %12s %11s %7s%s\n", "usable size", "chunks", "bytes", "share",
            growth ? "     growth" : "");
    for (size_t i = 0; i < h->nclasses && i < CLASSES_SHOWN; i++) {
        const struct heap_class *k = &h->classes[i];
        if (!k->chunks)
            continue;
        fprintf(out, "  %11s %12s %11s %6.1f%%", units_count(n1, sizeof(n1), k->usable),
                units_count(b3, sizeof(b3), k->chunks),
                units_bytes(b1, sizeof(b1), (int64_t)(k->usable * k->chunks)),
                percent(k->usable * k->chunks, h->inuse_bytes));
        if (growth) {
            int64_t grown = (int64_t)k->chunks - (int64_t)scan_class_chunks(first, k->usable);
            fprintf(out, " %+10" PRId64, grown);
        }
        if (k->mmapped)
            fprintf(out, "  (%" PRIu64 " mmapped)", k->mmapped);
        fputc('\n', out);
    }
    if (h->nclasses > CLASSES_SHOWN)
        fprintf(out, "  ... %zu size classes more\n", h->nclasses - CLASSES_SHOWN);
}

static void verdict(FILE *out, const struct scan *s)
{
    const struct reachability *rc = &s->reach;
    char b1[32], b2[32], n1[32], n2[32];
    fprintf(out, "\n%sreachability%s", b(s), p(s));
    if (!rc->taken) {
        fprintf(out, ": no verdict: %s\n", clean(rc->why));
        return;
    }
    fprintf(out, " (valgrind's categories): %s chunks, %s roots, %s scanned in %.3f s\n",
            units_count(n1, sizeof(n1), rc->blocks), units_count(n2, sizeof(n2), rc->roots),
            units_bytes(b1, sizeof(b1), (int64_t)rc->bytes_scanned), rc->seconds);
    for (int v = 0; v < LT_VERDICT_COUNT; v++)
        fprintf(out, "  %-16s %10s in %s chunks\n", reachability_category(v),
                units_bytes(b1, sizeof(b1), (int64_t)rc->total[v].bytes),
                units_count(n1, sizeof(n1), rc->total[v].chunks));
    if (rc->caveat[0])
        fprintf(out, "  (%s)\n", clean(rc->caveat));
    uint64_t lost = rc->total[LT_VERDICT_DEFINITELY_LOST].bytes +
                    rc->total[LT_VERDICT_INDIRECTLY_LOST].bytes;
    if (lost)
        fprintf(out, "  => %s leaked: nothing the process can reach points at it%s\n",
                units_bytes(b1, sizeof(b1), (int64_t)lost),
                s->opt->lost ? "" : " (--lost: the content of those chunks alone)");
    else
        fprintf(out, "  => nothing leaked: what grows is held (see who retains it below)\n");

    /* the classes, most lost bytes first, then most reachable */
    const struct reach_class *ranked[CLASSES_SHOWN];
    size_t nranked = reachability_ranked(rc, ranked, CLASSES_SHOWN);
    fprintf(out, "\n  %11s %18s %18s %18s %18s\n", "usable size", "definitely lost",
            "indirectly lost", "possibly lost", "reachable");
    for (size_t row = 0; row < nranked; row++) {
        const struct reach_class *k = ranked[row];
        fprintf(out, "  %11s", units_count(n1, sizeof(n1), k->usable));
        for (int v = 0; v < LT_VERDICT_COUNT; v++) {
            char cell[48];
            snprintf(cell, sizeof(cell), "%s (%s)", units_count(n1, sizeof(n1), k->state[v].chunks),
                     units_bytes(b2, sizeof(b2), (int64_t)k->state[v].bytes));
            fprintf(out, " %18s", k->state[v].chunks ? cell : "-");
        }
        fputc('\n', out);
    }
    if (rc->nclasses > CLASSES_SHOWN)
        fprintf(out, "  ... %zu size classes more\n", rc->nclasses - CLASSES_SHOWN);

    const struct reach_class *retained[REACH_RETAINED_CLASSES];
    size_t nretained = reachability_retained(rc, retained);
    if (nretained)
        fprintf(out, "\n  who retains the largest reachable classes (one chain each, root "
                     "first):\n");
    for (size_t i = 0; i < nretained; i++) {
        const struct reach_class *k = retained[i];
        fprintf(out, "  %s B x %s (%s reachable):\n", units_count(n1, sizeof(n1), k->usable),
                units_count(n2, sizeof(n2), k->state[LT_VERDICT_REACHABLE].chunks),
                units_bytes(b1, sizeof(b1), (int64_t)k->state[LT_VERDICT_REACHABLE].bytes));
        for (size_t st = 0; st < k->nsteps; st++)
            fprintf(out, "    %s%s\n", st ? "-> " : "", clean(k->retained_by[st]));
    }
}

/* The words every chunk of the class has alike: text at a fixed offset ("GET" x6), or the
 * same value (a vtable, a type tag). Text running on from the word before is that text's
 * tail, and words that are zero everywhere are only counted. */
static void fields(FILE *out, struct scan_content *c)
{
    if (!c->fields || c->buffers < 2)
        return;
    size_t n, shown = 0, zeros = 0;
    const struct content_field *f = content_fields_result(c->fields, &n);
    char n1[32];
    for (size_t i = 0; i < n; i++) {
        if (f[i].kind == CONTENT_FIELD_VARYING || f[i].buffers * 2 < c->buffers)
            continue;
        if (f[i].kind == CONTENT_FIELD_CONSTANT && f[i].value == 0) {
            zeros++;
            continue;
        }
        if (f[i].kind == CONTENT_FIELD_TEXT && i && f[i - 1].kind == CONTENT_FIELD_TEXT &&
            f[i - 1].offset + content_fields_word(c->fields) == f[i].offset)
            continue;
        if (!shown++)
            fprintf(out, "  fields (alike in every chunk)\n");
        if (f[i].kind == CONTENT_FIELD_CONSTANT) {
            fprintf(out, "    +%-5u %#" PRIx64 " in all %s\n", f[i].offset, f[i].value,
                    units_count(n1, sizeof(n1), f[i].buffers));
            continue;
        }
        size_t nt;
        const struct content_entry *e = content_histogram_sorted(f[i].tokens, &nt);
        fprintf(out, "    +%-5u text:", f[i].offset);
        for (size_t k = 0; k < nt && k < 4; k++) {
            fputs(k ? ", " : " ", out);
            print_text(out, e[k].text, e[k].len, 40);
            fprintf(out, " x%s", units_count(n1, sizeof(n1), e[k].count));
        }
        fputs(nt > 4 ? ", ...\n" : "\n", out);
    }
    if (shown && zeros)
        fprintf(out, "    and %zu words zero in every chunk\n", zeros);
}

/* The first `max` entries of a histogram, one a line: the count ('+': it may be more, the
 * histogram being bounded) and the text. */
static void print_entries(FILE *out, const struct content_entry *e, size_t n, size_t max)
{
    char count[32];
    for (size_t i = 0; i < n && i < max; i++) {
        fprintf(out, "    %10s%s ", units_count(count, sizeof(count), e[i].count),
                e[i].uncounted ? "+" : "");
        print_text(out, e[i].text, e[i].len, 100);
        fputc('\n', out);
    }
}

static void content(FILE *out, const struct scan *s, struct scan_content *c)
{
    char n1[32], n2[32], b1[32];
    const char *unit = c->usable ? "chunks" : "windows of 1 MiB";
    if (c->usable)
        fprintf(out, "\n%ssize class %s B%s: %s %schunks read, %s", b(s),
                units_count(n1, sizeof(n1), c->usable), p(s),
                units_count(n2, sizeof(n2), c->buffers), s->opt->lost ? "lost " : "",
                units_bytes(b1, sizeof(b1), (int64_t)c->bytes));
    else
        fprintf(out, "\n%sregion %#" PRIx64 "-%#" PRIx64 "%s: %s read", b(s), c->start, c->end,
                p(s), units_bytes(b1, sizeof(b1), (int64_t)c->bytes));
    if (s->nlooks > 1 && c->usable)
        fprintf(out, ", %+" PRId64 " chunks since the first look", c->growth);
    fputc('\n', out);
    if (c->matches) {
        size_t n;
        const struct content_entry *e = content_histogram_sorted(c->matches, &n);
        fprintf(out, "  grep '%s': %s matches in %s of %s %s\n", s->opt->grep_pattern,
                units_count(n1, sizeof(n1), content_histogram_total(c->matches)),
                units_count(n2, sizeof(n2), c->grep_matched),
                units_count(b1, sizeof(b1), c->buffers), unit);
        print_entries(out, e, n, MATCHES_SHOWN);
        if (n > MATCHES_SHOWN)
            fprintf(out, "    ... %zu distinct matches more\n", n - MATCHES_SHOWN);
    }
    size_t n;
    const struct content_entry *e = content_histogram_sorted(c->strings, &n);
    if (n) {
        fprintf(out, "  strings (occurrences; + : may be more)\n");
        print_entries(out, e, n, STRINGS_SHOWN);
    }
    uint64_t top_string = n ? e[0].count : 0;
    e = content_histogram_sorted(c->shapes, &n);
    if (n && e[0].count > top_string) { /* numbers told apart what is one kind of string */
        fprintf(out, "  shapes (the strings, each number as #)\n");
        print_entries(out, e, n, SHAPES_SHOWN);
    }
    fields(out, c);
    for (size_t i = 0; i < c->nsamples; i++) {
        const struct scan_sample *sm = &c->samples[i];
        fprintf(out, "  at %#" PRIx64 " (%s of %s bytes):\n", sm->address,
                units_count(n1, sizeof(n1), sm->len < HEXDUMP_BYTES ? sm->len : HEXDUMP_BYTES),
                units_count(n2, sizeof(n2), sm->size));
        content_hexdump(out, sm->bytes, sm->len < HEXDUMP_BYTES ? sm->len : HEXDUMP_BYTES, 0,
                        "    ");
    }
}

static void threads(FILE *out, const struct scan *s)
{
    const struct target *t = s->t;
    char b1[32], b2[32], b3[32];
    fprintf(out, "\n%sthreads%s  %zu", b(s), p(s), t->nthreads);
    for (size_t i = 0; i < s->nfamilies && i < 6; i++)
        fprintf(out, "%s%s x%zu", i ? ", " : ": ", clean(s->families[i].name),
                s->families[i].threads);
    if (s->nfamilies > 6)
        fprintf(out, ", ...");
    fputc('\n', out);
    if (t->stack_rlimit == UINT64_MAX)
        fprintf(out, "  stack rlimit unlimited (pthreads then get 2 MiB stacks on x86)\n");
    else if (t->stack_rlimit)
        fprintf(out, "  stack rlimit %s (ulimit -s: each new thread's stack)\n",
                units_bytes(b1, sizeof(b1), (int64_t)t->stack_rlimit));
    else if (t->is_core)
        fprintf(out, "  stack rlimit: not kept in a core file\n");
    fprintf(out, "  %-28s %7s %11s %11s  %s\n", "family", "threads", "stack each", "reserved",
            "started in");
    for (size_t i = 0; i < s->nfamilies; i++) {
        const struct scan_family *f = &s->families[i];
        fprintf(out, "  %-28s %7zu %11s %11s", clean(f->name), f->threads,
                f->stack_each ? units_bytes(b1, sizeof(b1), (int64_t)f->stack_each) : "?",
                units_bytes(b2, sizeof(b2), (int64_t)f->reserved));
        if (f->start[0]) {
            fputs("  ", out);
            print_text(out, f->start, strlen(f->start), 60);
        }
        if (f->unknown_stacks)
            fprintf(out, "  (%zu: stack not found)", f->unknown_stacks);
        fputc('\n', out);
    }
    if (t->nthreads > 1)
        fprintf(out,
                "  thread stacks reserve %s: %.1f %% of the %s address space%s (VmSize %s, "
                "%.1f %%)\n",
                units_bytes(b1, sizeof(b1), (int64_t)s->stacks_reserved),
                percent(s->stacks_reserved, t->address_space),
                units_bytes(b2, sizeof(b2), (int64_t)t->address_space),
                t->pointer_bytes == 4 ? " a 32-bit process has" : "",
                units_bytes(b3, sizeof(b3), (int64_t)s->looks[s->nlooks - 1].vm_size),
                percent(s->looks[s->nlooks - 1].vm_size, t->address_space));
    if (t->is_core)
        fprintf(out, "  (a core keeps no thread names: threads are named by the function they "
                     "started in)\n");
}

void scan_render_text(FILE *out, const struct scan *s)
{
    header(out, s);
    memory(out, s);
    heap(out, s);
    if (s->opt->reach && s->heap.glibc)
        verdict(out, s);
    else if (s->opt->reach)
        fprintf(out, "\n%sreachability%s: no verdict: %s\n", b(s), p(s), clean(s->reach.why));
    for (size_t i = 0; i < s->ncontents; i++)
        content(out, s, &s->contents[i]);
    threads(out, s);
    if (s->opt->dump_path)
        fprintf(out, "\n--dump %s: %" PRIu64 " chunks, %" PRIu64 " bytes\n", s->opt->dump_path,
                s->dumped_chunks, s->dumped_bytes);
}
