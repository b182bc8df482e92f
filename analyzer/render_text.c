/* render_text.c — the report for people: a header about the process, the thread inventory
 * when it explains something, allocator misuse, then the groups, largest (or fastest
 * growing) first, each with its threads, symbolized stack, hexdumps and strings. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fields.h"
#include "format.h"
#include "render.h"
#include "retention.h"
#include "units.h"

#define FRAMES_SHOWN 16

static const char *bold(const struct render_options *o)
{
    return o->color ? "\033[1m" : "";
}

static const char *red(const struct render_options *o)
{
    return o->color ? "\033[1;31m" : "";
}

static const char *dim(const struct render_options *o)
{
    return o->color ? "\033[2m" : "";
}

static const char *plain(const struct render_options *o)
{
    return o->color ? "\033[0m" : "";
}

static void utc(char *buf, size_t size, uint64_t unix_ns)
{
    time_t t = (time_t)(unix_ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Names and strings from the snapshot may hold any byte: none of them may reach the
 * terminal as a control character (an escape sequence in a thread name, say). */
static char printable(unsigned char c)
{
    return c < 0x20 || c == 0x7f ? '?' : (char)c;
}

static const char *safe(char *buf, size_t size, const char *text)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++)
        buf[i] = printable((unsigned char)text[i]);
    buf[i] = '\0';
    return buf;
}

/* The same, for a string printed as an argument of a format: one of a few buffers in turn
 * (a line prints at most a few), long enough for any name but a pathological one. */
static const char *clean(const char *text)
{
    static char buffers[8][4096];
    static unsigned next;
    char *buf = buffers[next++ % 8];
    return safe(buf, sizeof(buffers[0]), text ? text : "");
}

/* And written straight out, however long (a C++ name can run to kilobytes). */
static void put_clean(FILE *out, const char *text)
{
    for (; text && *text; text++)
        fputc(printable((unsigned char)*text), out);
}

static void print_cmdline(FILE *out, const struct lts_snapshot *s)
{
    fputs("  cmdline: ", out);
    for (size_t i = 0; i < s->cmdline_len; i++) {
        unsigned char c = (unsigned char)s->cmdline[i];
        fputc(c == 0 ? ' ' : c >= 0x20 && c < 0x7f ? c : '?', out);
    }
    fputc('\n', out);
}

/* Everything a text renderer function needs: where to, what, how. */
struct text {
    FILE *out;
    const struct model *m;
    const struct render_options *o;
};

static const char *const verdict_names[REACH_KINDS] = {"definitely lost", "indirectly lost",
                                                       "possibly lost", "reachable", "not scanned"};

/* "definitely lost: 1.4 MiB in 1,000 blocks · indirectly lost: ..." (the kinds present) */
static void reach_split_line(FILE *out, const struct reach_split *r, bool all, const char *bold_on,
                             const char *bold_off)
{
    char b1[32], n1[32];
    bool first = true;
    for (int k = 0; k < REACH_KINDS; k++) {
        if ((k == REACH_NOT_SCANNED || !all) && !r->blocks[k])
            continue;
        bool lost = reach_state_lost(k);
        fprintf(out, "%s%s%s: %s in %s blocks%s", first ? "" : " · ",
                lost && r->blocks[k] ? bold_on : "", verdict_names[k],
                units_bytes(b1, sizeof(b1), (int64_t)r->bytes[k]),
                units_count(n1, sizeof(n1), r->blocks[k]), lost && r->blocks[k] ? bold_off : "");
        first = false;
    }
}

static void reach_header(const struct text *t, const struct lts_snapshot *s)
{
    FILE *out = t->out;
    const struct render_options *o = t->o;
    if (!s->nreach_scan)
        return;
    const struct lts_reach_scan *r = &s->reach_scan[0];
    if (r->status) {
        fprintf(out, "  %sno reachability verdict:%s %s\n", red(o), plain(o), clean(r->why));
        return;
    }
    char b1[32];
    fputs("  ", out);
    reach_split_line(out, &t->m->grouping.reach, true, red(o), plain(o));
    fprintf(out,
            "\n  reachability scan: %u threads stopped %.2f ms (of which fork %.2f ms), "
            "scan %.3f s over %s\n",
            r->threads, r->pause_ns / 1e6, r->fork_ns / 1e6, r->scan_ns / 1e9,
            units_bytes(b1, sizeof(b1), (int64_t)r->bytes_scanned));
}

static void header(const struct text *t)
{
    FILE *out = t->out;
    const struct model *m = t->m;
    const struct render_options *o = t->o;
    const struct lts_snapshot *s = model_newest(m)->snap;
    char when[64], b1[32], b2[32], b3[32], b4[32], n1[32], up[32];
    utc(when, sizeof(when), s->time_unix_ns);
    uint64_t start = lts_meta_number(s, "process_start_unix_ns", 0);
    fprintf(out, "%sleaktag report: %s (pid %" PRIu64 ")%s\n", bold(o), clean(s->exe), s->pid,
            plain(o));
    fprintf(out, "  snapshot %" PRIu64 " taken %s, reason: %s", s->seq, when, clean(s->reason));
    uint64_t sender = lts_meta_number(s, "signal_sender_pid", 0);
    if (sender) { /* a user's kill, or the program's own signal */
        const char *name = lts_meta_text(s, "signal_sender");
        fprintf(out, " from pid %" PRIu64, sender);
        if (name && *name)
            fprintf(out, " (%s)%s", clean(name), sender == s->pid ? ", the process itself" : "");
    }
    uint64_t requests = lts_meta_number(s, "requests", 0);
    if (requests > 1) /* more came while the one before was being written */
        fprintf(out, " (%" PRIu64 " requests answered by this one)", requests);
    if (start && start < s->time_unix_ns)
        fprintf(out, "; process up %s",
                units_age(up, sizeof(up), (s->time_unix_ns - start) / 10000000u));
    fputc('\n', out);
    if (m->nsnaps > 1) {
        const struct lts_snapshot *oldest = m->snaps[0].snap;
        char then[64];
        utc(then, sizeof(then), oldest->time_unix_ns);
        fprintf(out,
                "  compared with %zu earlier snapshot%s, the oldest #%" PRIu64 " at %s (%s "
                "before)\n",
                m->nsnaps - 1, m->nsnaps > 2 ? "s" : "", oldest->seq, then,
                units_age(up, sizeof(up),
                          s->time_unix_ns > oldest->time_unix_ns
                              ? (s->time_unix_ns - oldest->time_unix_ns) / 10000000u
                              : 0));
    }
    print_cmdline(out, s);
    const char *est = m->grouping.sample_interval ? "~" : "";
    if (m->grouping.sample_interval)
        fprintf(out,
                "  %ssampled:%s about one block per %s allocated was recorded "
                "(LEAKTAG_SAMPLE); blocks and bytes marked ~ are unbiased estimates\n",
                bold(o), plain(o),
                units_bytes(up, sizeof(up), (int64_t)m->grouping.sample_interval));
    char peak[48] = "";
    if (!m->grouping.sample_interval) /* the peak of recorded blocks says little when sampled */
        snprintf(peak, sizeof(peak), " (peak %s)",
                 units_bytes(b2, sizeof(b2), (int64_t)lts_counter(s, "peak_live_bytes", 0)));
    fprintf(out, "  live: %s%s in %s%s blocks%s; RSS %s; VmSize %s\n", est,
            units_bytes(b1, sizeof(b1), (int64_t)m->live_bytes), est,
            units_count(n1, sizeof(n1), m->live_blocks), peak,
            units_bytes(b3, sizeof(b3), (int64_t)s->rss_bytes),
            units_bytes(b4, sizeof(b4), (int64_t)s->vm_size_bytes));
    reach_header(t, s);
    if (m->opt.group.min_age_cs)
        fprintf(out, "  blocks at least %s old: %s in %s blocks\n",
                units_age(up, sizeof(up), m->opt.group.min_age_cs),
                units_bytes(b1, sizeof(b1), (int64_t)m->grouping.live_bytes),
                units_count(n1, sizeof(n1), m->grouping.live_blocks));
    uint64_t untracked = lts_counter(s, "untracked_blocks", 0);
    if (untracked)
        fprintf(out, "  %swarning:%s %s blocks (%s) were not tracked: leaktag ran out of memory\n",
                red(o), plain(o), units_count(n1, sizeof(n1), untracked),
                units_bytes(b1, sizeof(b1), (int64_t)lts_counter(s, "untracked_bytes", 0)));
    uint64_t jumps = lts_counter(s, "guards_recovered", 0);
    if (jumps)
        fprintf(out,
                "  %swarning:%s a signal handler left leaktag's hook by longjmp %s times; "
                "the allocation or free it interrupted each time is not recorded\n",
                red(o), plain(o), units_count(n1, sizeof(n1), jumps));
}

/* ---- thread inventory: the seed's third case (N threads x 32 MiB of stack) ------------- */

static void thread_inventory(const struct text *t)
{
    const struct thread_inventory *inv = &t->m->threads;
    if (!inv->matters)
        return;
    FILE *out = t->out;
    char b1[32], b2[32], b3[32];
    fprintf(out, "  threads: %zu alive, %s reserved for their stacks", inv->alive,
            units_bytes(b1, sizeof(b1), (int64_t)inv->reserved));
    if (inv->space && inv->reserved * 100 >= inv->space)
        fprintf(out, " = %.0f%% of the %s %s", 100.0 * (double)inv->reserved / (double)inv->space,
                units_bytes(b2, sizeof(b2), (int64_t)inv->space),
                inv->space_is_rlimit ? "address-space limit (RLIMIT_AS)" : "user address space");
    fputc('\n', out);
    for (size_t f = 0; f < inv->nfamilies && f < 10; f++) {
        const struct thread_family *fam = &inv->families[f];
        char name[64];
        fprintf(out, "    %5u x %-18s %s stack%s = %s", fam->count,
                safe(name, sizeof(name), fam->name),
                units_bytes(b1, sizeof(b1), (int64_t)fam->stack), fam->count > 1 ? " each" : "",
                units_bytes(b3, sizeof(b3), (int64_t)(fam->stack * fam->count)));
        if (fam->start)
            fprintf(out, "   started in %s", clean(fam->start));
        fputc('\n', out);
    }
    if (inv->rlimit_stack)
        fprintf(out, "    (the default thread stack is the stack rlimit, ulimit -s: %s)\n",
                units_bytes(b1, sizeof(b1), (int64_t)inv->rlimit_stack));
}

/* ---- misuse ---------------------------------------------------------------------------------- */

static const char *kind_name(unsigned kind)
{
    static const char *const names[LT_KIND_COUNT] = {
        "malloc",        "calloc",      "realloc",      "reallocarray", "posix_memalign",
        "aligned_alloc", "memalign",    "valloc",       "pvalloc",      "new",
        "new[]",         "aligned new", "aligned new[]"};
    return kind < LT_KIND_COUNT ? names[kind] : "?";
}

static const char *release_name(unsigned kind)
{
    static const char *const names[LT_RELEASE_COUNT] = {"free", "delete", "delete[]",
                                                        "aligned delete", "aligned delete[]"};
    return kind < LT_RELEASE_COUNT ? names[kind] : "?";
}

/* The first recorded frame of a stack, as "function (file:line)". */
static void site(char *buf, size_t size, const struct analysis *a, uint32_t stack)
{
    const struct frame *f = &frames_of(a->frames, stack)->site;
    if (f->sym && f->sym->file)
        snprintf(buf, size, "%s (%s:%u)", f->name, f->sym->file, f->sym->line);
    else
        snprintf(buf, size, "%s", f->name);
    safe(buf, size, buf); /* in place */
}

/* One chain of references that keeps the group's blocks alive, root first. */
static void retention_text(const struct text *t, const struct group *g)
{
    const struct retention *r = g->retained;
    const struct analysis *a = g->from;
    FILE *out = t->out;
    char root[256], where[256], b1[32];
    retention_root_name(a->snap, a->sym, r, root, sizeof(root));
    safe(root, sizeof(root), root); /* in place: a symbol or a mapping's path */
    fprintf(out, "    retained (one block of the group, %zu reference%s from a root):\n      %s\n",
            r->hops, r->hops == 1 ? "" : "s", root);
    for (size_t k = 0; k < r->nlinks; k++) {
        const struct retention_link *l = &r->links[k];
        if (r->hops > r->nlinks && k == r->nlinks / 2)
            fprintf(out, "      ... %zu more blocks\n", r->hops - r->nlinks);
        bool last = k + 1 == r->nlinks;
        if (l->block)
            site(where, sizeof(where), a, l->block->stack);
        fprintf(out, "      -> 0x%" PRIx64 "%s%s%s", l->addr, last ? ": this group's block" : "",
                l->block && !last ? ": allocated at " : "", l->block && !last ? where : "");
        if (l->block)
            fprintf(out, " (%s)", units_bytes(b1, sizeof(b1), (int64_t)l->block->size));
        if (!last && l->block)
            fprintf(out, ", its word +0x%" PRIx64, l->word - l->addr);
        fputc('\n', out);
    }
}

/* What the blocks are, word by word over the samples; runs of text are one line. */
static void fields_text(const struct text *t, const struct group *g)
{
    struct field_view v;
    if (field_view_build(g, &v) != 0)
        return;
    FILE *out = t->out;
    char buf[96], n1[32];
    if (v.type)
        fprintf(out, "    objects of type %s (its vtable at +0x0 in all %s samples)\n",
                clean(v.type), units_count(n1, sizeof(n1), v.samples));
    fprintf(out, "    fields (the words at each offset of %s samples):\n",
            units_count(n1, sizeof(n1), v.samples));
    for (size_t k = 0; k < v.n; k++) {
        const struct content_field *f = &v.fields[k];
        fprintf(out, "      +0x%02x  ", f->offset);
        if (f->kind == CONTENT_FIELD_TEXT) {
            /* a run of text words: one line, its tokens from the first */
            size_t end = k;
            while (end + 1 < v.n && v.fields[end + 1].kind == CONTENT_FIELD_TEXT)
                end++;
            size_t ne;
            const struct content_entry *e = content_histogram_sorted(f->tokens, &ne);
            fputs("text", out);
            if (end > k)
                fprintf(out, " to +0x%02x", v.fields[end].offset + (unsigned)v.word - 1);
            fputc(':', out);
            for (size_t i = 0; i < ne && i < 4; i++) {
                size_t len = e[i].len < 24 ? e[i].len : 24;
                for (size_t c = 0; c < len; c++) /* one line: CR, LF, tab as '.' */
                    buf[c] = e[i].text[c] >= 0x20 && e[i].text[c] < 0x7f ? e[i].text[c] : '.';
                buf[len] = 0;
                fprintf(out, "%s \"%s%s\" x%s", i ? "," : "", buf, e[i].len > 24 ? "..." : "",
                        units_count(n1, sizeof(n1), e[i].count));
            }
            fputs(ne > 4 ? ", ...\n" : "\n", out);
            k = end;
        } else if (f->kind == CONTENT_FIELD_CONSTANT) {
            const struct field_name *name = &v.names[k];
            size_t end = k; /* a run of the same plain value (zeros, mostly): one line */
            while (!name->symbol && !v.heap[k] && end + 1 < v.n &&
                   v.fields[end + 1].kind == CONTENT_FIELD_CONSTANT &&
                   v.fields[end + 1].value == f->value && !v.names[end + 1].symbol)
                end++;
            if (end > k) {
                fprintf(out, "to +0x%02x the same in all: 0x%0*" PRIx64 " in every word\n",
                        v.fields[end].offset + (unsigned)v.word - 1, (int)(2 * v.word), f->value);
                k = end;
            } else if (name->symbol)
                fprintf(out, "the same in all: %s+0x%" PRIx64 " (%s)\n", clean(name->symbol),
                        name->offset, clean(name->module));
            else if (v.heap[k])
                fprintf(out, "the same in all: a pointer into the heap, 0x%" PRIx64 "\n", f->value);
            else
                fprintf(out, "the same in all: 0x%0*" PRIx64 "\n", (int)(2 * v.word), f->value);
        } else {
            fputs(v.heap[k] ? "pointers into the heap, differing\n" : "varies\n", out);
        }
        if (k >= 15 && k + 1 < v.n) {
            fprintf(out, "      ... %zu more words\n", v.n - k - 1);
            break;
        }
    }
    field_view_free(&v);
}

static void misuse(const struct text *t)
{
    FILE *out = t->out;
    const struct analysis *a = model_newest(t->m);
    const struct lts_snapshot *s = a->snap;
    uint64_t mismatches = lts_counter(s, "mismatches", 0),
             unknown = lts_counter(s, "unknown_frees", 0);
    if (!mismatches && !unknown)
        return;
    char n1[32], n2[32];
    /* After leaktag ran out of memory, a free of a block it could not record is one of these. */
    bool dropped = lts_counter(s, "untracked_blocks", 0) != 0;
    fprintf(out,
            "  %smisuse:%s %s mismatched releases, %s frees of pointers leaktag never saw "
            "allocated%s\n",
            mismatches || !dropped ? red(t->o) : "", plain(t->o),
            units_count(n1, sizeof(n1), mismatches), units_count(n2, sizeof(n2), unknown),
            dropped ? " (leaktag could not record every block: those are not misuse)" : "");
    for (size_t i = 0; i < s->nmisuse && i < 10; i++) {
        const struct lts_misuse *m = &s->misuse[i];
        char at[512], from[512];
        site(at, sizeof(at), a, m->release_stack);
        if (m->type == LT_MISUSE_MISMATCH) {
            site(from, sizeof(from), a, m->alloc_stack);
            fprintf(out, "    %s x %s of a block from %s: released in %s, allocated in %s\n",
                    units_count(n1, sizeof(n1), m->count), release_name(m->release_kind),
                    kind_name(m->alloc_kind), at, from);
        } else {
            fprintf(out, "    %s x %s of an unknown pointer in %s\n",
                    units_count(n1, sizeof(n1), m->count), release_name(m->release_kind), at);
        }
    }
}

/* ---- groups ---------------------------------------------------------------------------------- */

static void print_stack(const struct text *t, const struct analysis *a, uint32_t stack,
                        const char *indent)
{
    FILE *out = t->out;
    const struct stack_frames *sf = frames_of(a->frames, stack);
    if (sf->n == 0) {
        fprintf(out, "%s(no stack: leaktag could not unwind this allocation)\n", indent);
        return;
    }
    for (uint32_t i = 0; i < sf->n && i < FRAMES_SHOWN; i++) {
        const struct frame *f = &sf->frames[i];
        fprintf(out, "%s%s", indent, f->sym->inlined ? "(inlined) " : "");
        put_clean(out, f->name);
        if (f->sym->file)
            fprintf(out, "  %s%s:%u%s", dim(t->o), clean(f->sym->file), f->sym->line, plain(t->o));
        if (f->sym->module && f->sym->function)
            fprintf(out, "  %s[%s]%s", dim(t->o), clean(f->sym->module), plain(t->o));
        fputc('\n', out);
    }
    if (sf->n >= FRAMES_SHOWN)
        fprintf(out, "%s...\n", indent);
}

static void print_histogram(FILE *out, struct content_histogram *h, unsigned max,
                            const char *indent)
{
    size_t n;
    const struct content_entry *e = content_histogram_sorted(h, &n);
    for (size_t i = 0; i < n && i < max; i++) {
        fprintf(out, "%s%8" PRIu64 "  ", indent, e[i].count);
        for (size_t k = 0; k < e[i].len && k < 100; k++)
            fputc(printable((unsigned char)e[i].text[k]), out);
        fputs(e[i].len > 100 ? "..." : "", out);
        if (e[i].uncounted) /* dropped once from a bounded histogram */
            fprintf(out, "  (and up to %" PRIu64 " more)", e[i].uncounted);
        fputc('\n', out);
    }
    /* Only when a string not kept could have made the list: too few above the floor. */
    uint64_t floor = content_histogram_floor(h);
    if (floor && (n < max || e[max - 1].count <= floor))
        fprintf(out,
                "%s(strings seen at most %" PRIu64 " times each are not all kept: too many "
                "distinct ones)\n",
                indent, floor);
}

/* "  1,000 blocks  channelid=4099": a histogram whose counts are blocks. */
static void print_block_counts(FILE *out, struct content_histogram *h, unsigned max,
                               const char *indent)
{
    char n1[32];
    size_t n;
    const struct content_entry *e = content_histogram_sorted(h, &n);
    for (size_t i = 0; i < n && i < max; i++) {
        fprintf(out, "%s%8s blocks  ", indent, units_count(n1, sizeof(n1), e[i].count));
        for (size_t k = 0; k < e[i].len && k < 100; k++)
            fputc(printable((unsigned char)e[i].text[k]), out);
        fputs(e[i].len > 100 ? "...\n" : "\n", out);
    }
}

static void group_text(const struct text *t, size_t index)
{
    FILE *out = t->out;
    const struct model *m = t->m;
    const struct render_options *o = t->o;
    const struct group *g = &m->grouping.groups[index];
    const struct analysis *a = g->from;
    char b1[32], b2[32], n1[32], n2[32], ag1[32], ag2[32];
    double share = m->grouping.live_bytes
                       ? 100.0 * (double)g->bytes / (double)m->grouping.live_bytes
                       : 0;
    const char *est = m->grouping.sample_interval ? "~" : "";
    fprintf(out, "\n%s#%zu  %s%s (%.1f%% of live) in %s%s blocks%s", bold(o), index + 1, est,
            units_bytes(b1, sizeof(b1), (int64_t)g->bytes), share, est,
            units_count(n1, sizeof(n1), g->blocks), plain(o));
    if (m->grouping.sample_interval)
        fprintf(out, " (%s recorded)", units_count(n2, sizeof(n2), g->sampled_blocks));
    if (g->blocks)
        fprintf(out, ", avg %s, age %s .. %s",
                units_bytes(b2, sizeof(b2), (int64_t)(g->bytes / g->blocks)),
                units_age(ag1, sizeof(ag1), g->min_age_cs),
                units_age(ag2, sizeof(ag2), g->max_age_cs));
    fputc('\n', out);
    if (m->nsnaps > 1) {
        fprintf(out, "    growth: %s%s, %s%" PRId64 " blocks since snapshot %" PRIu64,
                g->delta_bytes >= 0 ? "+" : "", units_bytes(b1, sizeof(b1), g->delta_bytes),
                g->delta_blocks >= 0 ? "+" : "", g->delta_blocks, m->snaps[0].snap->seq);
        if (g->grew_every_interval)
            fprintf(out, "  %sgrew in every interval: leak suspect%s", red(o), plain(o));
        fputc('\n', out);
        if (m->nsnaps > 2) {
            fputs("    trend:", out);
            for (size_t k = 0; k < m->nsnaps; k++)
                fprintf(out, "%s%s", k ? " -> " : " ",
                        units_bytes(b1, sizeof(b1), (int64_t)g->series_bytes[k]));
            fputc('\n', out);
        }
    }
    if (g->has_reach && g->blocks) {
        fputs("    ", out);
        reach_split_line(out, &g->reach, false, red(o), plain(o));
        fputc('\n', out);
        if (m->nsnaps > 1 && g->delta_lost_bytes)
            fprintf(out, "    lost bytes growth: %s%s since snapshot %" PRIu64 "\n",
                    g->delta_lost_bytes >= 0 ? "+" : "",
                    units_bytes(b1, sizeof(b1), g->delta_lost_bytes), m->snaps[0].snap->seq);
    }
    char name[64];
    if (g->retained)
        retention_text(t, g);
    if (m->opt.group.by == GROUP_BY_THREAD)
        fprintf(out, "    thread: %s\n", safe(name, sizeof(name), g->key));
    fputs("    threads:", out);
    for (size_t k = 0; k < g->nthreads && k < 8; k++)
        fprintf(out, "%s %s x%u (%s)", k ? "," : "", safe(name, sizeof(name), g->threads[k].name),
                g->threads[k].threads, units_bytes(b1, sizeof(b1), (int64_t)g->threads[k].bytes));
    fputs(g->nthreads > 8 ? ", ...\n" : "\n", out);
    if (!g->blocks) {
        fputs("    (no block left in the newest snapshot)\n", out);
    } else if (g->stack != UINT32_MAX) {
        fputs(m->opt.group.by == GROUP_BY_THREAD ? "    most bytes allocated at:\n"
                                                 : "    allocated at:\n",
              out);
        print_stack(t, a, g->stack, "       ");
    }
    const struct lts_snapshot *s = a->snap;
    if (g->nsamples && o->samples_shown) {
        fprintf(out, "    samples: %u of %s, up to %" PRIu64 " bytes each:\n",
                (unsigned)(g->nsamples < o->samples_shown ? g->nsamples : o->samples_shown),
                units_count(n1, sizeof(n1), g->nsamples), lts_meta_number(s, "sample_bytes", 0));
        for (size_t k = 0; k < g->nsamples && k < o->samples_shown; k++) {
            const struct group_sample *gs = &g->samples[k];
            fprintf(out, "      block 0x%" PRIx64, gs->sample->addr);
            if (gs->block)
                fprintf(out, " (%s)", units_bytes(b1, sizeof(b1), (int64_t)gs->block->size));
            if (gs->kept < gs->sample->len)
                fprintf(out, ", its first %u of %u captured bytes", gs->kept, gs->sample->len);
            fputs(":\n", out);
            content_hexdump(out, gs->bytes, gs->kept, 0, "        ");
        }
    }
    if (g->strings && content_histogram_total(g->strings)) {
        fprintf(out, "    strings in %s samples:\n", units_count(n1, sizeof(n1), g->nsamples));
        print_histogram(out, g->strings, o->strings_shown, "      ");
    }
    /* When the same key recurs with different numbers (user:session:100060, ...:100081), the
     * shape is the fingerprint: shown when it recurs more than any single string does. */
    size_t ns, nh;
    const struct content_entry *top_string = g->strings ? content_histogram_sorted(g->strings, &ns)
                                                        : NULL;
    const struct content_entry *top_shape = g->shapes ? content_histogram_sorted(g->shapes, &nh)
                                                      : NULL;
    if (top_shape && nh && (!top_string || !ns || top_shape[0].count > top_string[0].count)) {
        fprintf(out, "    the same strings with numbers as #:\n");
        print_histogram(out, g->shapes, 5, "      ");
    }
    if (g->nsamples >= 2)
        fields_text(t, g);
    if (m->opt.grep_pattern) {
        uint64_t total = g->matches ? content_histogram_total(g->matches) : 0;
        char n3[32];
        fprintf(out, "    grep '%s': %s matches in %s of %s blocks searched\n", m->opt.grep_pattern,
                units_count(n1, sizeof(n1), total), units_count(n2, sizeof(n2), g->grep_matched),
                units_count(n3, sizeof(n3), g->grep_searched));
        if (total) /* by the blocks each is in, as grep -c counts lines */
            print_block_counts(out, g->match_blocks, o->strings_shown, "      ");
    }
}

/* --grep over every group shown, as grep -c over a dump of them. */
static void grep_summary(const struct text *t)
{
    const struct model *m = t->m;
    uint64_t matches = 0, searched = 0, matched = 0, groups = 0;
    struct content_histogram *all = content_histogram_new();
    for (size_t i = 0; all && i < m->grouping.ngroups; i++) {
        const struct group *g = &m->grouping.groups[i];
        if (!model_shows(m, i))
            continue;
        groups++;
        matches += g->matches ? content_histogram_total(g->matches) : 0;
        searched += g->grep_searched;
        matched += g->grep_matched;
        size_t n;
        const struct content_entry *e = g->match_blocks
                                            ? content_histogram_sorted(g->match_blocks, &n)
                                            : NULL;
        for (size_t k = 0; e && k < n; k++)
            content_histogram_add_count(all, e[k].text, e[k].len, e[k].count);
    }
    char n1[32], n2[32], n3[32];
    fprintf(t->out,
            "\ngrep '%s' over the %" PRIu64 " groups shown: %s matches in %s of %s blocks "
            "searched\n",
            m->opt.grep_pattern, groups, units_count(n1, sizeof(n1), matches),
            units_count(n2, sizeof(n2), matched), units_count(n3, sizeof(n3), searched));
    if (all)
        print_block_counts(t->out, all, t->o->strings_shown, "  ");
    content_histogram_free(all);
}

void render_text(FILE *out, const struct model *m, const struct render_options *o)
{
    const struct text t = {out, m, o};
    header(&t);
    thread_inventory(&t);
    misuse(&t);
    const struct grouping *gr = &m->grouping;
    static const char *const by[] = {"stack", "call site", "function", "thread"};
    fprintf(out, "\n%zu groups by %s", gr->ngroups, by[m->opt.group.by]);
    if (m->opt.fold_pattern)
        fprintf(out, ", frames matching '%s' folded", m->opt.fold_pattern);
    if (m->opt.lost_only)
        fprintf(out, ", %zu of them with lost blocks", m->lost_groups);
    fputs(m->nsnaps > 1   ? ", fastest growing first\n"
          : gr->has_reach ? ", most lost bytes first\n"
                          : ", largest first\n",
          out);
    uint64_t rest_bytes = 0, rest_groups = 0;
    for (size_t i = 0; i < gr->ngroups; i++) {
        if (model_shows(m, i)) {
            group_text(&t, i);
        } else {
            rest_bytes += gr->groups[i].bytes;
            rest_groups++;
        }
    }
    if (m->opt.grep_pattern)
        grep_summary(&t);
    if (rest_groups) {
        char b1[32], n1[32];
        fprintf(out,
                m->opt.lost_only
                    ? "\n... %s more groups with %s (without lost blocks, or past --top)\n"
                    : "\n... %s more groups with %s (--top 0 shows all)\n",
                units_count(n1, sizeof(n1), rest_groups),
                units_bytes(b1, sizeof(b1), (int64_t)rest_bytes));
    }
}
