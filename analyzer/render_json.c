/* render_json.c — the report as one JSON document (schema: docs/REPORT.md). Every string
 * from a snapshot is escaped (json.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "format.h"
#include "json.h"
#include "render.h"
#include "retention.h"

static void frames_json(FILE *out, const struct analysis *a, uint32_t stack)
{
    const struct stack_frames *sf = stack == UINT32_MAX ? NULL : frames_of(a->frames, stack);
    uint32_t n = sf ? sf->n : 0;
    fputs("[", out);
    for (uint32_t i = 0; i < n; i++) {
        const struct frame *f = &sf->frames[i];
        fprintf(out, "%s\n        {\"function\": ", i ? "," : "");
        json_cstr(out, f->name);
        fputs(", \"file\": ", out);
        json_cstr(out, f->sym->file);
        fprintf(out, ", \"line\": %u, \"module\": ", f->sym->line);
        json_cstr(out, f->sym->module);
        fprintf(out,
                ", \"address\": \"0x%" PRIx64 "\", \"offset\": \"0x%" PRIx64
                "\", \"inlined\": %s, \"symbolized\": %s}",
                f->sym->address, f->sym->offset, f->sym->inlined ? "true" : "false",
                f->sym->function ? "true" : "false");
    }
    fputs(n ? "\n      ]" : "]", out);
}

/* Releases by the wrong function and frees of unknown pointers, by site. */
static void misuse_json(FILE *out, const struct analysis *a)
{
    static const char *const kinds[LT_KIND_COUNT + 1] = {
        "malloc",        "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
        "memalign",      "valloc", "pvalloc", "new",          "new[]",          "aligned new",
        "aligned new[]", NULL};
    static const char *const releases[LT_RELEASE_COUNT] = {"free", "delete", "delete[]",
                                                           "aligned delete", "aligned delete[]"};
    const struct lts_snapshot *s = a->snap;
    fputs("  \"misuse\": [", out);
    for (size_t i = 0; i < s->nmisuse; i++) {
        const struct lts_misuse *m = &s->misuse[i];
        bool mismatch = m->type == LT_MISUSE_MISMATCH;
        fprintf(out, "%s\n    {\"type\": \"%s\", \"count\": %" PRIu64 ", \"released_by\": ",
                i ? "," : "", mismatch ? "mismatch" : "unknown_free", m->count);
        json_cstr(out, releases[m->release_kind]);
        fputs(", \"allocated_by\": ", out);
        json_cstr(out, kinds[m->alloc_kind]);
        fputs(",\n      \"released_at\": ", out);
        frames_json(out, a, m->release_stack);
        fputs(",\n      \"allocated_at\": ", out);
        frames_json(out, a, mismatch ? m->alloc_stack : UINT32_MAX);
        fputs("}", out);
    }
    fputs(s->nmisuse ? "\n  ],\n" : "],\n", out);
}

/* "reachability": {"definitely_lost": {"blocks": N, "bytes": N}, ...} */
static void reach_json(FILE *out, const struct reach_split *r)
{
    static const char *const keys[REACH_KINDS] = {"definitely_lost", "indirectly_lost",
                                                  "possibly_lost", "reachable", "not_scanned"};
    fputs("\"reachability\": {", out);
    for (int k = 0; k < REACH_KINDS; k++)
        fprintf(out, "%s\"%s\": {\"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", k ? ", " : "",
                keys[k], r->blocks[k], r->bytes[k]);
    fputs("}", out);
}

/* "type": "Session"|null, "fields": [{"offset": 0, "kind": "constant|text|varying", ...}] */
static void fields_json(FILE *out, const struct group *g)
{
    struct field_view v;
    if (field_view_build(g, &v) != 0) {
        fputs("\"type\": null, \"fields\": []", out);
        return;
    }
    fputs("\"type\": ", out);
    json_cstr(out, v.type);
    fputs(", \"fields\": [", out);
    static const char *const kinds[] = {"constant", "text", "varying"};
    for (size_t k = 0; k < v.n; k++) {
        const struct content_field *f = &v.fields[k];
        fprintf(out, "%s{\"offset\": %u, \"kind\": \"%s\", \"samples\": %u, \"heap_pointer\": %s",
                k ? ", " : "", f->offset, kinds[f->kind], f->buffers, v.heap[k] ? "true" : "false");
        if (f->kind == CONTENT_FIELD_CONSTANT) {
            fprintf(out, ", \"value\": \"0x%016" PRIx64 "\", \"symbol\": ", f->value);
            json_cstr(out, v.names[k].symbol);
        }
        if (f->kind == CONTENT_FIELD_TEXT) {
            size_t ne;
            const struct content_entry *e = content_histogram_sorted(f->tokens, &ne);
            fputs(", \"tokens\": [", out);
            for (size_t i = 0; i < ne && i < 10; i++) {
                fprintf(out, "%s{\"text\": ", i ? ", " : "");
                json_string(out, e[i].text, e[i].len);
                fprintf(out, ", \"count\": %" PRIu64 "}", e[i].count);
            }
            fputs("]", out);
        }
        fputs("}", out);
    }
    fputs("]", out);
    field_view_free(&v);
}

static void group_json(FILE *out, const struct model *m, size_t index, bool first)
{
    const struct group *g = &m->grouping.groups[index];
    const struct analysis *a = g->from;
    fprintf(out, "%s\n    {\"rank\": %zu, \"key\": ", first ? "" : ",", index + 1);
    json_cstr(out, g->key);
    fprintf(out,
            ", \"bytes\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"estimated\": %s"
            ", \"sampled_blocks\": %" PRIu64 ", \"min_age_s\": %.2f, \"max_age_s\": %.2f",
            g->bytes, g->blocks, m->grouping.sample_interval ? "true" : "false", g->sampled_blocks,
            g->min_age_cs / 100.0, g->max_age_cs / 100.0);
    if (m->nsnaps > 1) {
        fprintf(out,
                ", \"delta_bytes\": %" PRId64 ", \"delta_blocks\": %" PRId64
                ", \"grew_every_interval\": %s, \"series_bytes\": [",
                g->delta_bytes, g->delta_blocks, g->grew_every_interval ? "true" : "false");
        for (size_t k = 0; k < m->nsnaps; k++)
            fprintf(out, "%s%" PRIu64, k ? ", " : "", g->series_bytes[k]);
        fputs("], \"series_blocks\": [", out);
        for (size_t k = 0; k < m->nsnaps; k++)
            fprintf(out, "%s%" PRIu64, k ? ", " : "", g->series_blocks[k]);
        fputs("]", out);
        if (g->has_reach) {
            fprintf(out, ", \"delta_lost_bytes\": %" PRId64 ", \"series_lost_bytes\": [",
                    g->delta_lost_bytes);
            for (size_t k = 0; k < m->nsnaps; k++)
                fprintf(out, "%s%" PRIu64, k ? ", " : "", g->series_lost_bytes[k]);
            fputs("]", out);
        }
    }
    if (g->has_reach) {
        fputs(",\n      ", out);
        reach_json(out, &g->reach);
    }
    if (g->retained) {
        const struct retention *r = g->retained;
        static const char *const kinds[] = {"?", "registers", "stack", "mapping", "caller"};
        char root[256];
        retention_root_name(a->snap, a->sym, r, root, sizeof(root));
        fprintf(out,
                ",\n      \"retained_by\": {\"root\": {\"kind\": \"%s\", \"tid\": %" PRIu64
                ", \"address\": \"0x%" PRIx64 "\", \"name\": ",
                r->root->type < 5 ? kinds[r->root->type] : "?", r->root->tid, r->root_word);
        json_cstr(out, root);
        fprintf(out, "}, \"references\": %zu, \"chain\": [", r->hops);
        for (size_t k = 0; k < r->nlinks; k++) {
            const struct retention_link *l = &r->links[k];
            fprintf(out, "%s{\"address\": \"0x%" PRIx64 "\"", k ? ", " : "", l->addr);
            if (l->block) {
                fprintf(out, ", \"size\": %" PRIu64 ", \"word_offset\": %" PRIu64 ", \"frames\": ",
                        l->block->size, k + 1 < r->nlinks ? l->word - l->addr : 0);
                frames_json(out, a, l->block->stack);
            }
            fputs("}", out);
        }
        fputs("]}", out);
    }
    fputs(",\n      \"frames\": ", out);
    frames_json(out, a, g->blocks ? g->stack : UINT32_MAX);
    fputs(",\n      \"threads\": [", out);
    for (size_t t = 0; t < g->nthreads; t++) {
        fprintf(out, "%s{\"name\": ", t ? ", " : "");
        json_cstr(out, g->threads[t].name);
        fprintf(out, ", \"threads\": %u, \"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
                g->threads[t].threads, g->threads[t].blocks, g->threads[t].bytes);
    }
    fprintf(out, "],\n      \"samples_captured\": %zu,\n      \"samples\": [", g->nsamples);
    size_t listed = g->nsamples < m->opt.keep_samples ? g->nsamples : m->opt.keep_samples;
    for (size_t k = 0; k < listed; k++) {
        const struct group_sample *gs = &g->samples[k];
        const struct lts_sample *sm = gs->sample;
        char *hex = malloc(2 * (size_t)gs->kept + 1), *text = malloc((size_t)gs->kept + 1);
        if (!hex || !text) {
            free(hex);
            free(text);
            break;
        }
        content_hex(gs->bytes, gs->kept, hex);
        content_printable(gs->bytes, gs->kept, text);
        fprintf(out,
                "%s\n        {\"address\": \"0x%" PRIx64 "\", \"size\": %" PRIu64
                ", \"captured\": %u, \"shown\": %u, \"hex\": \"%s\", \"text\": ",
                k ? "," : "", sm->addr, gs->block ? gs->block->size : (uint64_t)sm->len, sm->len,
                gs->kept, hex);
        json_string(out, text, gs->kept);
        fputs("}", out);
        free(hex);
        free(text);
    }
    fputs(listed ? "\n      ],\n      " : "],\n      ", out);
    fields_json(out, g);
    fputs(",\n      \"strings\": ", out);
    json_histogram(out, g->strings, 50, NULL, NULL);
    fprintf(out, ",\n      \"strings_blocks_searched\": %zu, \"strings_dropped_at_most\": %" PRIu64,
            g->strings ? g->nsamples : 0, g->strings ? content_histogram_floor(g->strings) : 0);
    fputs(",\n      \"string_shapes\": ", out);
    json_histogram(out, g->shapes, 20, NULL, NULL);
    if (m->opt.grep_pattern) {
        fprintf(out, ",\n      \"grep\": {\"pattern\": ");
        json_cstr(out, m->opt.grep_pattern);
        fprintf(out,
                ", \"matches\": %" PRIu64 ", \"blocks_searched\": %" PRIu64
                ", \"blocks_matched\": %" PRIu64 ", \"distinct\": ",
                g->matches ? content_histogram_total(g->matches) : 0, g->grep_searched,
                g->grep_matched);
        json_histogram(out, g->matches, 1000, g->match_blocks, "blocks");
        fputs("}", out);
    }
    fputs("}", out);
}

void render_json(FILE *out, const struct model *m)
{
    const struct analysis *a = model_newest(m);
    const struct lts_snapshot *s = a->snap;
    static const char *const by[] = {"stack", "site", "function", "thread"};
    fprintf(
        out,
        "{\n  \"format\": \"leaktag-report\", \"version\": 1,\n  \"process\": {\"pid\": %" PRIu64
        ", \"exe\": ",
        s->pid);
    json_cstr(out, s->exe);
    fputs(", \"cmdline\": ", out);
    /* NUL-separated arguments become spaces, as a shell would show them */
    char *cmd = malloc(s->cmdline_len + 1);
    if (cmd) {
        for (size_t i = 0; i < s->cmdline_len; i++)
            cmd[i] = s->cmdline[i] ? s->cmdline[i] : ' ';
        json_string(out, cmd, s->cmdline_len);
        free(cmd);
    } else {
        fputs("null", out);
    }
    fprintf(out, ", \"start_unix\": %" PRIu64 "},\n",
            lts_meta_number(s, "process_start_unix_ns", 0) / 1000000000u);
    fprintf(out, "  \"snapshot\": {\"file\": ");
    json_cstr(out, a->path);
    fprintf(out, ", \"seq\": %" PRIu64 ", \"time_unix\": %" PRIu64 ", \"reason\": ", s->seq,
            s->time_unix_ns / 1000000000u);
    json_cstr(out, s->reason);
    fprintf(out, ", \"requests\": %" PRIu64, lts_meta_number(s, "requests", 0));
    if (lts_meta_number(s, "signal_sender_pid", 0)) {
        const char *sender = lts_meta_text(s, "signal_sender");
        fprintf(out, ", \"signal_sender_pid\": %" PRIu64 ", \"signal_sender\": ",
                lts_meta_number(s, "signal_sender_pid", 0));
        json_cstr(out, sender ? sender : "");
    }
    fprintf(out, ", \"sampled\": %s, \"sample_interval_bytes\": %" PRIu64 ", \"options\": ",
            m->grouping.sample_interval ? "true" : "false", m->grouping.sample_interval);
    json_cstr(out, s->options);
    if (s->nreach_scan) {
        const struct lts_reach_scan *r = &s->reach_scan[0];
        fprintf(out,
                ", \"reachability_scan\": {\"ok\": %s, \"error\": ", r->status ? "false" : "true");
        if (r->status)
            json_cstr(out, r->why);
        else
            fputs("null", out);
        fprintf(out,
                ", \"pause_ms\": %.3f, \"fork_ms\": %.3f, \"scan_ms\": %.3f"
                ", \"bytes_scanned\": %" PRIu64 ", \"blocks_scanned\": %" PRIu64
                ", \"threads_stopped\": %u, \"roots\": %zu}",
                r->pause_ns / 1e6, r->fork_ns / 1e6, r->scan_ns / 1e6, r->bytes_scanned, r->blocks,
                r->threads, s->nreach_roots);
    }
    fputs("},\n", out);
    if (m->nsnaps > 1) {
        fputs("  \"compared\": [", out);
        for (size_t i = 0; i < m->nsnaps; i++) {
            fprintf(out, "%s{\"file\": ", i ? ", " : "");
            json_cstr(out, m->snaps[i].path);
            fprintf(out,
                    ", \"seq\": %" PRIu64 ", \"time_unix\": %" PRIu64 ", \"live_bytes\": %" PRIu64
                    "}",
                    m->snaps[i].snap->seq, m->snaps[i].snap->time_unix_ns / 1000000000u,
                    lts_counter(m->snaps[i].snap, "live_bytes", 0));
        }
        fputs("],\n", out);
    }
    fprintf(out,
            "  \"totals\": {\"live_bytes\": %" PRIu64 ", \"live_blocks\": %" PRIu64
            ", \"shown_bytes\": %" PRIu64 ", \"shown_blocks\": %" PRIu64
            ", \"peak_live_bytes\": %" PRIu64 ", \"rss_bytes\": %" PRIu64
            ", \"vm_size_bytes\": %" PRIu64 ", \"allocations\": %" PRIu64 ", \"frees\": %" PRIu64
            ", \"mismatches\": %" PRIu64 ", \"unknown_frees\": %" PRIu64
            ", \"untracked_blocks\": %" PRIu64 ", \"guards_recovered\": %" PRIu64,
            m->live_bytes, m->live_blocks, m->grouping.live_bytes, m->grouping.live_blocks,
            lts_counter(s, "peak_live_bytes", 0), s->rss_bytes, s->vm_size_bytes,
            lts_counter(s, "allocations", 0), lts_counter(s, "frees", 0),
            lts_counter(s, "mismatches", 0), lts_counter(s, "unknown_frees", 0),
            lts_counter(s, "untracked_blocks", 0), lts_counter(s, "guards_recovered", 0));
    if (m->grouping.has_reach) {
        fputs(", ", out);
        reach_json(out, &m->grouping.reach);
    }
    fputs("},\n", out);
    fprintf(out, "  \"grouping\": {\"by\": \"%s\", \"fold\": ", by[m->opt.group.by]);
    json_cstr(out, m->opt.fold_pattern);
    fprintf(out, ", \"min_age_s\": %.2f, \"groups\": %zu", m->opt.group.min_age_cs / 100.0,
            m->grouping.ngroups);
    if (m->grouping.has_reach)
        fprintf(out, ", \"groups_with_lost\": %zu", m->lost_groups);
    fputs("},\n", out);
    fputs("  \"groups\": [", out);
    bool first = true;
    for (size_t i = 0; i < m->grouping.ngroups; i++) {
        if (!model_shows(m, i))
            continue;
        group_json(out, m, i, first);
        first = false;
    }
    fputs(first ? "],\n" : "\n  ],\n", out);
    misuse_json(out, a);
    fputs("  \"threads\": [", out);
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *t = &s->threads[i];
        fprintf(out, "%s\n    {\"tid\": %" PRIu64 ", \"name\": ", i ? "," : "", t->tid);
        json_cstr(out, t->name);
        fputs(", \"family\": ", out);
        json_cstr(out, a->families[i]);
        fprintf(out,
                ", \"alive\": %s, \"leaktag\": %s, \"stack_bytes\": %" PRIu64
                ", \"live_blocks\": %" PRIu64 ", \"live_bytes\": %" PRIu64
                ", \"allocations\": %" PRIu64 ", \"start_routine\": ",
                (t->state & LT_THREAD_FLAG_ALIVE) ? "true" : "false",
                (t->state & LT_THREAD_FLAG_INTERNAL) ? "true" : "false", t->stack_size,
                t->live_blocks, t->live_bytes, t->allocs);
        json_cstr(out, a->start_functions[i]);
        fputs("}", out);
    }
    fputs(s->nthreads ? "\n  ],\n" : "],\n", out);
    fprintf(out,
            "  \"limits\": {\"rlimit_stack_bytes\": %" PRIu64 ", \"rlimit_as_bytes\": %" PRIu64
            ", \"address_space_bytes\": %" PRIu64 "}\n}\n",
            lts_meta_number(s, "rlimit_stack_bytes", 0), lts_meta_number(s, "rlimit_as_bytes", 0),
            lts_meta_number(s, "address_space_bytes", 0));
}
