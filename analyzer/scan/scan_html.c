/* scan_html.c — leaktag-scan --format html: the text's four parts as one self-contained page
 * (no script, nothing loaded: its Content-Security-Policy forbids it), with bars for the
 * size classes' share of the heap and the thread families' share of the address space.
 * Everything that came from the target is escaped. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "units.h"

#define CLASSES_SHOWN 40
#define ENTRIES_SHOWN 20
#define HEXDUMP_BYTES 256

/* Bytes of the target as text: non-printable ones as '.', then HTML-escaped. */
static void text(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(c >= 0x20 && c < 0x7f ? c : '.', out);
        }
    }
}

static void ctext(FILE *out, const char *s)
{
    if (s)
        text(out, s, strlen(s));
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void bar(FILE *out, double share)
{
    fprintf(out, "<td class=bar><div style=\"width:%.1f%%\"></div></td>",
            share > 100 ? 100 : share);
}

static void entries(FILE *out, const char *id, struct content_histogram *h, size_t max)
{
    size_t n;
    const struct content_entry *e = content_histogram_sorted(h, &n);
    if (!n)
        return;
    char count[32];
    fprintf(out, "<table id=\"%s\"><tr><th>count</th><th>text</th></tr>\n", id);
    for (size_t i = 0; i < n && i < max; i++) {
        fprintf(out, "<tr><td class=n>%s%s</td><td class=t>",
                units_count(count, sizeof(count), e[i].count), e[i].uncounted ? "+" : "");
        text(out, e[i].text, e[i].len < 200 ? e[i].len : 200);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void hexdump(FILE *out, const struct scan_sample *sm)
{
    size_t len = sm->len < HEXDUMP_BYTES ? sm->len : HEXDUMP_BYTES;
    fprintf(out, "<p class=at>at %#" PRIx64 " (%zu of %" PRIu64 " bytes)</p><pre>", sm->address,
            len, sm->size);
    for (size_t at = 0; at < len; at += 16) {
        fprintf(out, "%08zx: ", at);
        for (size_t k = 0; k < 16; k++) {
            if (at + k < len)
                fprintf(out, "%02x", sm->bytes[at + k]);
            else
                fputs("  ", out);
            if (k % 2)
                fputc(' ', out);
        }
        fputc(' ', out);
        text(out, (const char *)sm->bytes + at, len - at < 16 ? len - at : 16);
        fputc('\n', out);
    }
    fputs("</pre>\n", out);
}

static void memory(FILE *out, const struct scan *s)
{
    const struct scan_look *last = &s->looks[s->nlooks - 1];
    char b1[32], b2[32], b3[32];
    fprintf(out, "<h2>Memory</h2><p>%s mapped, %s %s</p>\n",
            units_bytes(b1, sizeof(b1), (int64_t)last->vm_size),
            units_bytes(b2, sizeof(b2), (int64_t)last->rss),
            s->t->is_core ? "in the core" : "resident");
    fputs("<table id=kinds><tr><th>kind</th><th>mappings</th><th>size</th><th>RSS</th>"
          "<th>swapped</th></tr>\n",
          out);
    for (int k = 0; k <= TARGET_MAP_SPECIAL; k++) {
        const struct scan_kind_total *kt = &s->kinds[k];
        if (kt->maps)
            fprintf(out,
                    "<tr><td>%s</td><td class=n>%" PRIu64 "</td><td class=n>%s</td>"
                    "<td class=n>%s</td><td class=n>%s</td></tr>\n",
                    scan_kind_name(k), kt->maps, units_bytes(b1, sizeof(b1), (int64_t)kt->size),
                    units_bytes(b2, sizeof(b2), (int64_t)kt->rss),
                    units_bytes(b3, sizeof(b3), (int64_t)kt->swapped));
    }
    fputs("</table>\n", out);
    if (s->nlooks < 2)
        return;
    const struct scan_look *first = &s->looks[0];
    fprintf(out,
            "<h3>Grew in %.1f s</h3><table id=grew><tr><th>mapping</th><th>what</th>"
            "<th>RSS growth</th><th>RSS now</th></tr>\n",
            last->at - first->at);
    for (size_t i = 0; i < s->ngrew; i++) {
        const struct scan_region *r = s->grew[i].region;
        char name[300];
        fprintf(out, "<tr><td>%#" PRIx64 "-%#" PRIx64 "</td><td>", r->start, r->end);
        ctext(out, scan_region_name(name, sizeof(name), r));
        fprintf(out, "</td><td class=n>+%s</td><td class=n>%s</td></tr>\n",
                units_bytes(b1, sizeof(b1), s->grew[i].rss),
                units_bytes(b2, sizeof(b2), (int64_t)r->rss));
    }
    fputs("</table>\n", out);
}

static void heap(FILE *out, const struct scan *s)
{
    const struct heap_census *h = &s->heap;
    char b1[32], n1[32], n2[32];
    fputs("<h2>glibc heap</h2>\n", out);
    if (!h->glibc) {
        fputs("<p class=why>", out);
        ctext(out, h->why);
        fputs("</p>\n", out);
        return;
    }
    uint64_t whole = h->heap_bytes + h->mmapped_bytes;
    char v[10][32]; /* one buffer per number: all are formatted before the line is printed */
    fprintf(out,
            "<p>%zu arena%s, %s; in use <b>%s</b> in %s chunks (%.1f %%); free %s in %s "
            "chunks (%s in tcaches, %s in fastbins); top %s; %s in %s mmapped chunks</p>\n",
            h->narenas, h->narenas == 1 ? "" : "s",
            units_bytes(v[0], sizeof(v[0]), (int64_t)h->heap_bytes),
            units_bytes(v[1], sizeof(v[1]), (int64_t)h->inuse_bytes),
            units_count(v[2], sizeof(v[2]), h->inuse_chunks), percent(h->inuse_bytes, whole),
            units_bytes(v[3], sizeof(v[3]), (int64_t)h->free_bytes),
            units_count(v[4], sizeof(v[4]), h->free_chunks),
            units_count(v[5], sizeof(v[5]), h->tcache_chunks),
            units_count(v[6], sizeof(v[6]), h->fastbin_chunks),
            units_bytes(v[7], sizeof(v[7]), (int64_t)h->top_bytes),
            units_bytes(v[8], sizeof(v[8]), (int64_t)h->mmapped_bytes),
            units_count(v[9], sizeof(v[9]), h->mmapped_chunks));
    if (h->invalid_chunks)
        fprintf(out, "<p class=why>%s chunks failed a check: %s</p>\n",
                units_count(n1, sizeof(n1), h->invalid_chunks),
                h->changed_under_walk ? "the heap changed under the walk (--freeze)"
                                      : "they read the same again (not a heap that moved)");
    bool growth = s->nlooks > 1;
    fprintf(out,
            "<table id=classes><tr><th>usable size</th><th>chunks</th><th>bytes</th>"
            "<th>share</th><th></th>%s</tr>\n",
            growth ? "<th>growth</th>" : "");
    for (size_t i = 0; i < h->nclasses && i < CLASSES_SHOWN; i++) {
        const struct heap_class *k = &h->classes[i];
        if (!k->chunks)
            continue;
        double share = percent(k->usable * k->chunks, h->inuse_bytes);
        fprintf(out,
                "<tr><td class=n>%s</td><td class=n>%s</td><td class=n>%s</td>"
                "<td class=n>%.1f %%</td>",
                units_count(n1, sizeof(n1), k->usable), units_count(n2, sizeof(n2), k->chunks),
                units_bytes(b1, sizeof(b1), (int64_t)(k->usable * k->chunks)), share);
        bar(out, share);
        if (growth)
            fprintf(out, "<td class=n>%+" PRId64 "</td>",
                    (int64_t)k->chunks - (int64_t)scan_class_chunks(&s->looks[0], k->usable));
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

/* The verdict: the four categories in all and per class (most lost bytes first), and who
 * retains the largest reachable classes. */
static void verdict(FILE *out, const struct scan *s)
{
    const struct reachability *rc = &s->reach;
    char b1[32], n1[32];
    fputs("<h2>Reachability</h2>\n", out);
    if (!rc->taken) {
        fputs("<p class=why>No verdict: ", out);
        ctext(out, rc->why);
        fputs("</p>\n", out);
        return;
    }
    fprintf(out, "<p>valgrind's categories over %s chunks from %s roots, %.3f s</p>\n",
            units_count(n1, sizeof(n1), rc->blocks), units_count(b1, sizeof(b1), rc->roots),
            rc->seconds);
    if (rc->caveat[0]) {
        fputs("<p class=why>", out);
        ctext(out, rc->caveat);
        fputs("</p>\n", out);
    }
    fputs("<table id=reachability><tr><th>usable size</th>", out);
    for (int v = 0; v < LT_VERDICT_COUNT; v++)
        fprintf(out, "<th>%s</th>", reachability_category(v));
    fputs("</tr>\n<tr><td>all</td>", out);
    for (int v = 0; v < LT_VERDICT_COUNT; v++)
        fprintf(out, "<td class=n>%s in %s</td>",
                units_bytes(b1, sizeof(b1), (int64_t)rc->total[v].bytes),
                units_count(n1, sizeof(n1), rc->total[v].chunks));
    fputs("</tr>\n", out);
    const struct reach_class *ranked[CLASSES_SHOWN];
    size_t nranked = reachability_ranked(rc, ranked, CLASSES_SHOWN);
    for (size_t row = 0; row < nranked; row++) {
        const struct reach_class *k = ranked[row];
        fprintf(out, "<tr><td class=n>%s</td>", units_count(n1, sizeof(n1), k->usable));
        for (int v = 0; v < LT_VERDICT_COUNT; v++)
            if (k->state[v].chunks)
                fprintf(out, "<td class=n>%s in %s</td>",
                        units_bytes(b1, sizeof(b1), (int64_t)k->state[v].bytes),
                        units_count(n1, sizeof(n1), k->state[v].chunks));
            else
                fputs("<td class=n></td>", out);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
    const struct reach_class *retained[REACH_RETAINED_CLASSES];
    size_t nretained = reachability_retained(rc, retained);
    for (size_t i = 0; i < nretained; i++) {
        const struct reach_class *k = retained[i];
        fprintf(out, "<h3>Who retains %s B x %s</h3><ol class=chain>",
                units_count(n1, sizeof(n1), k->usable),
                units_count(b1, sizeof(b1), k->state[LT_VERDICT_REACHABLE].chunks));
        for (size_t st = 0; st < k->nsteps; st++) {
            fputs("<li>", out);
            ctext(out, k->retained_by[st]);
            fputs("</li>", out);
        }
        fputs("</ol>\n", out);
    }
}

static void content(FILE *out, const struct scan *s, size_t index)
{
    struct scan_content *c = &s->contents[index];
    char n1[32], n2[32], b1[32], id[32];
    if (c->usable)
        fprintf(out, "<h2>Size class %s B</h2><p>%s %schunks read, %s</p>\n",
                units_count(n1, sizeof(n1), c->usable), units_count(n2, sizeof(n2), c->buffers),
                s->opt->lost ? "lost " : "", units_bytes(b1, sizeof(b1), (int64_t)c->bytes));
    else
        fprintf(out, "<h2>Region %#" PRIx64 "-%#" PRIx64 "</h2><p>%s read</p>\n", c->start, c->end,
                units_bytes(b1, sizeof(b1), (int64_t)c->bytes));
    if (c->matches) {
        fputs("<h3>grep '", out);
        ctext(out, s->opt->grep_pattern);
        fprintf(out, "': %s matches in %s of %s</h3>\n",
                units_count(n1, sizeof(n1), content_histogram_total(c->matches)),
                units_count(n2, sizeof(n2), c->grep_matched),
                units_count(b1, sizeof(b1), c->buffers));
        snprintf(id, sizeof(id), "grep-%zu", index);
        entries(out, id, c->matches, ENTRIES_SHOWN);
    }
    fputs("<h3>Strings</h3>\n", out);
    snprintf(id, sizeof(id), "strings-%zu", index);
    entries(out, id, c->strings, ENTRIES_SHOWN);
    fputs("<h3>Shapes (numbers as #)</h3>\n", out);
    snprintf(id, sizeof(id), "shapes-%zu", index);
    entries(out, id, c->shapes, ENTRIES_SHOWN / 2);
    for (size_t i = 0; i < c->nsamples; i++)
        hexdump(out, &c->samples[i]);
}

static void threads(FILE *out, const struct scan *s)
{
    const struct target *t = s->t;
    char b1[32], b2[32];
    fprintf(out, "<h2>Threads</h2><p>%zu threads", t->nthreads);
    if (t->stack_rlimit == UINT64_MAX)
        fputs("; stack rlimit unlimited", out);
    else if (t->stack_rlimit)
        fprintf(out, "; stack rlimit %s", units_bytes(b1, sizeof(b1), (int64_t)t->stack_rlimit));
    fprintf(out, "; their stacks reserve %s, %.1f %% of the %s address space</p>\n",
            units_bytes(b1, sizeof(b1), (int64_t)s->stacks_reserved),
            percent(s->stacks_reserved, t->address_space),
            units_bytes(b2, sizeof(b2), (int64_t)t->address_space));
    fputs("<table id=families><tr><th>family</th><th>threads</th><th>stack each</th>"
          "<th>reserved</th><th>of the address space</th><th></th><th>started in</th></tr>\n",
          out);
    for (size_t i = 0; i < s->nfamilies; i++) {
        const struct scan_family *f = &s->families[i];
        double share = percent(f->reserved, t->address_space);
        fputs("<tr><td>", out);
        ctext(out, f->name);
        fprintf(out,
                "</td><td class=n>%zu</td><td class=n>%s</td><td class=n>%s</td>"
                "<td class=n>%.1f %%</td>",
                f->threads,
                f->stack_each ? units_bytes(b1, sizeof(b1), (int64_t)f->stack_each) : "?",
                units_bytes(b2, sizeof(b2), (int64_t)f->reserved), share);
        bar(out, share);
        fputs("<td>", out);
        ctext(out, f->start);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

void scan_render_html(FILE *out, const struct scan *s)
{
    const struct target *t = s->t;
    fputs("<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>leaktag-scan: ",
          out);
    ctext(out, t->source);
    fputs(" (", out);
    ctext(out, t->name);
    fputs(")</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
          "table{border-collapse:collapse;margin:.5em 0 1em}\n"
          "td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}\n"
          "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
          "td.t,pre{font-family:ui-monospace,monospace;font-size:12px}\n"
          "td.bar{width:200px}td.bar div{height:10px;background:#c0392b}\n"
          "pre{background:#f6f6f6;padding:.5em;overflow:auto}.why{color:#a00}\n"
          "</style></head><body>\n<h1>leaktag-scan: ",
          out);
    ctext(out, t->source);
    fputs(" (", out);
    ctext(out, t->name);
    fprintf(out, ")</h1>\n<p id=summary>%u-bit, %s; heap walked in %.3f s", t->pointer_bytes * 8,
            t->is_core       ? "a core file"
            : s->opt->freeze ? "stopped (--freeze)"
                             : "not stopped",
            s->walk_seconds);
    if (s->opt->freeze && !t->is_core)
        fprintf(out, ", stopped for %.3f s", s->stopped_seconds);
    fputs("</p>\n", out);
    memory(out, s);
    heap(out, s);
    if (s->opt->reach)
        verdict(out, s);
    for (size_t i = 0; i < s->ncontents; i++)
        content(out, s, i);
    threads(out, s);
    fputs("</body></html>\n", out);
}
