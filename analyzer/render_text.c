/* render_text.c — the report for people: a header about the process, the thread inventory
 * when it explains something, allocator misuse, then the groups, largest (or fastest
 * growing) first, each with its threads, symbolized stack, hexdumps and strings. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "report.h"

#define FRAMES_SHOWN 16

static const char *bold(const struct report *r)
{
    return r->color ? "\033[1m" : "";
}

static const char *red(const struct report *r)
{
    return r->color ? "\033[1;31m" : "";
}

static const char *dim(const struct report *r)
{
    return r->color ? "\033[2m" : "";
}

static const char *plain(const struct report *r)
{
    return r->color ? "\033[0m" : "";
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

static void print_cmdline(FILE *out, const struct lts_snapshot *s)
{
    fputs("  cmdline: ", out);
    for (size_t i = 0; i < s->cmdline_len; i++) {
        unsigned char c = (unsigned char)s->cmdline[i];
        fputc(c == 0 ? ' ' : c >= 0x20 && c < 0x7f ? c : '?', out);
    }
    fputc('\n', out);
}

static void header(FILE *out, const struct report *r)
{
    const struct lts_snapshot *s = report_newest(r)->snap;
    char when[64], b1[32], b2[32], b3[32], b4[32], n1[32], up[32];
    utc(when, sizeof(when), s->time_unix_ns);
    uint64_t start = lts_meta_number(s, "process_start_unix_ns", 0);
    fprintf(out, "%sleaktag report: %s (pid %" PRIu64 ")%s\n", bold(r), s->exe, s->pid, plain(r));
    fprintf(out, "  snapshot %" PRIu64 " taken %s, reason: %s", s->seq, when, s->reason);
    if (start && start < s->time_unix_ns)
        fprintf(out, "; process up %s",
                report_age(up, sizeof(up), (s->time_unix_ns - start) / 10000000u));
    fputc('\n', out);
    if (r->nsnaps > 1) {
        const struct lts_snapshot *o = r->snaps[0].snap;
        char then[64];
        utc(then, sizeof(then), o->time_unix_ns);
        fprintf(out, "  compared with %zu earlier snapshot%s, the oldest #%" PRIu64 " at %s (%s "
                     "before)\n",
                r->nsnaps - 1, r->nsnaps > 2 ? "s" : "", o->seq, then,
                report_age(up, sizeof(up),
                           s->time_unix_ns > o->time_unix_ns
                               ? (s->time_unix_ns - o->time_unix_ns) / 10000000u
                               : 0));
    }
    print_cmdline(out, s);
    uint64_t live, blocks;
    group_live_totals(s, &blocks, &live);
    const char *est = r->grouping.sample_interval ? "~" : "";
    if (r->grouping.sample_interval)
        fprintf(out, "  %ssampled:%s about one block per %s allocated was recorded "
                     "(LEAKTAG_SAMPLE); blocks and bytes marked ~ are unbiased estimates\n",
                bold(r), plain(r),
                report_bytes(up, sizeof(up), (int64_t)r->grouping.sample_interval));
    char peak[48] = "";
    if (!r->grouping.sample_interval) /* the peak of recorded blocks says little when sampled */
        snprintf(peak, sizeof(peak), " (peak %s)",
                 report_bytes(b2, sizeof(b2), (int64_t)lts_counter(s, "peak_live_bytes", 0)));
    fprintf(out, "  live: %s%s in %s%s blocks%s; RSS %s; VmSize %s\n", est,
            report_bytes(b1, sizeof(b1), (int64_t)live), est,
            report_count(n1, sizeof(n1), blocks), peak,
            report_bytes(b3, sizeof(b3), (int64_t)s->rss_bytes),
            report_bytes(b4, sizeof(b4), (int64_t)s->vm_size_bytes));
    if (r->gopt.min_age_cs)
        fprintf(out, "  blocks at least %s old: %s in %s blocks\n",
                report_age(up, sizeof(up), r->gopt.min_age_cs),
                report_bytes(b1, sizeof(b1), (int64_t)r->grouping.live_bytes),
                report_count(n1, sizeof(n1), r->grouping.live_blocks));
    uint64_t untracked = lts_counter(s, "untracked_blocks", 0);
    if (untracked)
        fprintf(out, "  %swarning:%s %s blocks (%s) were not tracked: leaktag ran out of memory\n",
                red(r), plain(r), report_count(n1, sizeof(n1), untracked),
                report_bytes(b1, sizeof(b1), (int64_t)lts_counter(s, "untracked_bytes", 0)));
}

/* ---- thread inventory: the seed's third case (N threads x 32 MiB of stack) ------------- */

struct family {
    char name[40];
    uint64_t stack;
    uint32_t count;
    uint64_t start_routine;
};

static int by_reservation(const void *x, const void *y)
{
    const struct family *a = x, *b = y;
    uint64_t ra = a->stack * a->count, rb = b->stack * b->count;
    return ra != rb ? (ra > rb ? -1 : 1) : strcmp(a->name, b->name);
}

static void thread_inventory(FILE *out, const struct report *r)
{
    const struct analysis *a = report_newest(r);
    const struct lts_snapshot *s = a->snap;
    struct family *fam = calloc(s->nthreads + 1, sizeof(*fam));
    if (!fam)
        return;
    size_t nfam = 0, alive = 0;
    uint64_t reserved = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *t = &s->threads[i];
        if (!(t->state & LT_THREAD_FLAG_ALIVE) || (t->state & LT_THREAD_FLAG_INTERNAL))
            continue;
        alive++;
        reserved += t->stack_size;
        char name[40];
        group_thread_family(t->name, name, sizeof(name));
        size_t f = 0;
        while (f < nfam && !(fam[f].stack == t->stack_size && !strcmp(fam[f].name, name)))
            f++;
        if (f == nfam) {
            snprintf(fam[f].name, sizeof(fam[f].name), "%s", name);
            fam[f].stack = t->stack_size;
            fam[f].start_routine = t->start_routine;
            nfam++;
        }
        fam[f].count++;
    }
    uint64_t rlimit = lts_meta_number(s, "rlimit_as_bytes", 0);
    uint64_t space = rlimit ? rlimit : lts_meta_number(s, "address_space_bytes", 0);
    uint32_t biggest = 0;
    for (size_t f = 0; f < nfam; f++)
        biggest = fam[f].count > biggest ? fam[f].count : biggest;
    /* Shown when it can explain something: many threads, or stacks that take a real share of
     * the address space a failing pthread_create would run out of. */
    bool matters = alive >= 32 || biggest >= 8 || (space && reserved * 4 >= space) ||
                   reserved >= (1ull << 30);
    if (matters) {
        char b1[32], b2[32], b3[32];
        qsort(fam, nfam, sizeof(*fam), by_reservation);
        fprintf(out, "  threads: %zu alive, %s reserved for their stacks", alive,
                report_bytes(b1, sizeof(b1), (int64_t)reserved));
        if (space && reserved * 100 >= space)
            fprintf(out, " = %.0f%% of the %s %s", 100.0 * (double)reserved / (double)space,
                    report_bytes(b2, sizeof(b2), (int64_t)space),
                    rlimit ? "address-space limit (RLIMIT_AS)" : "user address space");
        fputc('\n', out);
        for (size_t f = 0; f < nfam && f < 10; f++) {
            char name[64];
            fprintf(out, "    %5u x %-18s %s stack%s = %s", fam[f].count,
                    safe(name, sizeof(name), fam[f].name),
                    report_bytes(b1, sizeof(b1), (int64_t)fam[f].stack),
                    fam[f].count > 1 ? " each" : "",
                    report_bytes(b3, sizeof(b3), (int64_t)(fam[f].stack * fam[f].count)));
            const struct sym_frame *fr;
            if (fam[f].start_routine && a->sym &&
                sym_resolve(a->sym, fam[f].start_routine + 1, &fr) && fr[0].function)
                fprintf(out, "   started in %s", fr[0].function);
            fputc('\n', out);
        }
        uint64_t rl_stack = lts_meta_number(s, "rlimit_stack_bytes", 0);
        if (rl_stack)
            fprintf(out, "    (the default thread stack is the stack rlimit, ulimit -s: %s)\n",
                    report_bytes(b1, sizeof(b1), (int64_t)rl_stack));
    }
    free(fam);
}

/* ---- misuse ---------------------------------------------------------------------------------- */

static const char *kind_name(unsigned kind)
{
    static const char *const names[] = {"malloc", "calloc", "realloc", "reallocarray",
                                        "posix_memalign", "aligned_alloc", "memalign", "valloc",
                                        "pvalloc", "new", "new[]", "aligned new",
                                        "aligned new[]"};
    return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

static const char *release_name(unsigned kind)
{
    static const char *const names[] = {"free", "delete", "delete[]", "aligned delete",
                                        "aligned delete[]"};
    return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* The first frame of a stack, as "function (file:line)". */
static void site(char *buf, size_t size, const struct analysis *a, uint32_t stack)
{
    const struct lts_stack *st = &a->snap->stacks[stack];
    const struct sym_frame *f;
    if (!st->depth || !sym_resolve(a->sym, st->frames[0], &f)) {
        snprintf(buf, size, "(no stack)");
        return;
    }
    char fallback[256];
    const char *name = report_frame_name(fallback, sizeof(fallback), &f[0]);
    if (f[0].file)
        snprintf(buf, size, "%s (%s:%u)", name, f[0].file, f[0].line);
    else
        snprintf(buf, size, "%s", name);
}

static void misuse(FILE *out, const struct report *r)
{
    const struct analysis *a = report_newest(r);
    const struct lts_snapshot *s = a->snap;
    uint64_t mismatches = lts_counter(s, "mismatches", 0), unknown = lts_counter(s, "unknown_frees", 0);
    if (!mismatches && !unknown)
        return;
    char n1[32], n2[32];
    fprintf(out, "  %smisuse:%s %s mismatched releases, %s frees of pointers leaktag never saw "
                 "allocated\n",
            red(r), plain(r), report_count(n1, sizeof(n1), mismatches),
            report_count(n2, sizeof(n2), unknown));
    for (size_t i = 0; i < s->nmisuse && i < 10; i++) {
        const struct lts_misuse *m = &s->misuse[i];
        char at[512], from[512];
        site(at, sizeof(at), a, m->release_stack);
        if (m->type == LT_MISUSE_MISMATCH) {
            site(from, sizeof(from), a, m->alloc_stack);
            fprintf(out, "    %s x %s of a block from %s: released in %s, allocated in %s\n",
                    report_count(n1, sizeof(n1), m->count), release_name(m->release_kind),
                    kind_name(m->alloc_kind), at, from);
        } else {
            fprintf(out, "    %s x %s of an unknown pointer in %s\n",
                    report_count(n1, sizeof(n1), m->count), release_name(m->release_kind), at);
        }
    }
}

/* ---- groups ---------------------------------------------------------------------------------- */

static void print_stack(FILE *out, const struct report *r, const struct analysis *a,
                        uint32_t stack, const char *indent)
{
    uint32_t depth;
    const uint64_t *frames = group_frames(a, stack, &depth);
    if (depth == 0) {
        fprintf(out, "%s(no stack: leaktag could not unwind this allocation)\n", indent);
        return;
    }
    unsigned shown = 0;
    for (uint32_t i = 0; i < depth && shown < FRAMES_SHOWN; i++) {
        const struct sym_frame *f;
        size_t n = sym_resolve(a->sym, frames[i], &f);
        size_t k = 0;
        /* In frame 0, inlined wrappers that --fold names go too. */
        while (i == 0 && r->gopt.fold && k + 1 < n && f[k].function &&
               content_regex_test(r->gopt.fold, f[k].function, strlen(f[k].function)))
            k++;
        for (; k < n && shown < FRAMES_SHOWN; k++, shown++) {
            char fallback[512];
            const char *name = report_frame_name(fallback, sizeof(fallback), &f[k]);
            fprintf(out, "%s%s%s", indent, f[k].inlined ? "(inlined) " : "", name);
            if (f[k].file)
                fprintf(out, "  %s%s:%u%s", dim(r), f[k].file, f[k].line, plain(r));
            if (f[k].module && f[k].function)
                fprintf(out, "  %s[%s]%s", dim(r), f[k].module, plain(r));
            fputc('\n', out);
        }
    }
    if (shown == FRAMES_SHOWN)
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
        fputs(e[i].len > 100 ? "...\n" : "\n", out);
    }
}

static void group_text(FILE *out, const struct report *r, size_t index)
{
    const struct group *g = &r->grouping.groups[index];
    const struct analysis *a = g->from;
    char b1[32], b2[32], n1[32], n2[32], ag1[32], ag2[32];
    double share = r->grouping.live_bytes ? 100.0 * (double)g->bytes / (double)r->grouping.live_bytes : 0;
    const char *est = r->grouping.sample_interval ? "~" : "";
    fprintf(out, "\n%s#%zu  %s%s (%.1f%% of live) in %s%s blocks%s", bold(r), index + 1, est,
            report_bytes(b1, sizeof(b1), (int64_t)g->bytes), share, est,
            report_count(n1, sizeof(n1), g->blocks), plain(r));
    if (r->grouping.sample_interval)
        fprintf(out, " (%s recorded)", report_count(n2, sizeof(n2), g->sampled_blocks));
    if (g->blocks)
        fprintf(out, ", avg %s, age %s .. %s",
                report_bytes(b2, sizeof(b2), (int64_t)(g->bytes / g->blocks)),
                report_age(ag1, sizeof(ag1), g->min_age_cs),
                report_age(ag2, sizeof(ag2), g->max_age_cs));
    fputc('\n', out);
    if (r->nsnaps > 1) {
        fprintf(out, "    growth: %s%s, %s%" PRId64 " blocks since snapshot %" PRIu64,
                g->delta_bytes >= 0 ? "+" : "",
                report_bytes(b1, sizeof(b1), g->delta_bytes), g->delta_blocks >= 0 ? "+" : "",
                g->delta_blocks, r->snaps[0].snap->seq);
        if (g->grew_every_interval)
            fprintf(out, "  %sgrew in every interval: leak suspect%s", red(r), plain(r));
        fputc('\n', out);
        if (r->nsnaps > 2) {
            fputs("    trend:", out);
            for (size_t k = 0; k < r->nsnaps; k++)
                fprintf(out, "%s%s", k ? " -> " : " ",
                        report_bytes(b1, sizeof(b1), (int64_t)g->series_bytes[k]));
            fputc('\n', out);
        }
    }
    char name[64];
    if (r->gopt.by == GROUP_BY_THREAD)
        fprintf(out, "    thread: %s\n", safe(name, sizeof(name), g->key));
    fputs("    threads:", out);
    for (size_t t = 0; t < g->nthreads && t < 8; t++)
        fprintf(out, "%s %s x%u (%s)", t ? "," : "", safe(name, sizeof(name), g->threads[t].name),
                g->threads[t].threads,
                report_bytes(b1, sizeof(b1), (int64_t)g->threads[t].bytes));
    fputs(g->nthreads > 8 ? ", ...\n" : "\n", out);
    if (!g->blocks) {
        fputs("    (no block left in the newest snapshot)\n", out);
    } else if (g->stack != UINT32_MAX) {
        fputs(r->gopt.by == GROUP_BY_THREAD ? "    most bytes allocated at:\n"
                                             : "    allocated at:\n",
              out);
        print_stack(out, r, a, g->stack, "       ");
    }
    const struct lts_snapshot *s = a->snap;
    if (g->nsamples && r->samples_shown) {
        fprintf(out, "    samples: %u of %zu, up to %" PRIu64 " bytes each:\n",
                (unsigned)(g->nsamples < r->samples_shown ? g->nsamples : r->samples_shown),
                g->nsamples, lts_meta_number(s, "sample_bytes", 0));
        for (size_t k = 0; k < g->nsamples && k < r->samples_shown; k++) {
            const struct lts_sample *sm = &s->samples[g->samples[k]];
            const struct lts_block *b = report_sample_block(a, sm);
            fprintf(out, "      block 0x%" PRIx64, sm->addr);
            if (b)
                fprintf(out, " (%s)", report_bytes(b1, sizeof(b1), (int64_t)b->size));
            fputs(":\n", out);
            content_hexdump(out, sm->bytes, sm->len, 0, "        ");
        }
    }
    if (g->strings && content_histogram_total(g->strings)) {
        fprintf(out, "    strings in %zu samples:\n", g->nsamples);
        print_histogram(out, g->strings, r->strings_shown, "      ");
    }
    /* When the same key recurs with different numbers (user:session:100060, ...:100081), the
     * shape is the fingerprint: shown when it recurs more than any single string does. */
    size_t ns, nh;
    const struct content_entry *top_string = g->strings ? content_histogram_sorted(g->strings, &ns) : NULL;
    const struct content_entry *top_shape = g->shapes ? content_histogram_sorted(g->shapes, &nh) : NULL;
    if (top_shape && nh && (!top_string || !ns || top_shape[0].count > top_string[0].count)) {
        fprintf(out, "    the same strings with numbers as #:\n");
        print_histogram(out, g->shapes, 5, "      ");
    }
    if (r->grep_pattern) {
        uint64_t total = g->matches ? content_histogram_total(g->matches) : 0;
        fprintf(out, "    grep '%s': %s matches in %zu samples\n", r->grep_pattern,
                report_count(n1, sizeof(n1), total), g->nsamples);
        if (total)
            print_histogram(out, g->matches, r->strings_shown, "      ");
    }
}

void render_text(FILE *out, const struct report *r)
{
    header(out, r);
    thread_inventory(out, r);
    misuse(out, r);
    const struct grouping *gr = &r->grouping;
    static const char *const by[] = {"stack", "call site", "function", "thread"};
    fprintf(out, "\n%zu groups by %s", gr->ngroups, by[r->gopt.by]);
    if (r->fold_pattern)
        fprintf(out, ", frames matching '%s' folded", r->fold_pattern);
    fputs(r->nsnaps > 1 ? ", fastest growing first\n" : ", largest first\n", out);
    size_t shown = 0;
    uint64_t rest_bytes = 0, rest_groups = 0;
    for (size_t i = 0; i < gr->ngroups; i++) {
        if (report_shows(r, i)) {
            group_text(out, r, i);
            shown++;
        } else {
            rest_bytes += gr->groups[i].bytes;
            rest_groups++;
        }
    }
    if (rest_groups) {
        char b1[32], n1[32];
        fprintf(out, "\n... %s more groups with %s (--top 0 shows all)\n",
                report_count(n1, sizeof(n1), rest_groups),
                report_bytes(b1, sizeof(b1), (int64_t)rest_bytes));
    }
}
