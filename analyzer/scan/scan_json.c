/* scan_json.c — leaktag-scan --format json: everything the text shows, every size class and
 * mapping in full, for scripts (docs/SCAN.md describes each field). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "scan.h"

#define MATCHES_MAX 1000
#define STRINGS_MAX 100

static const char *kind_key(enum target_map_kind kind)
{
    switch (kind) {
    case TARGET_MAP_ANON: return "anonymous";
    case TARGET_MAP_FILE: return "file";
    case TARGET_MAP_HEAP: return "heap";
    case TARGET_MAP_ARENA: return "arena";
    case TARGET_MAP_MMAPPED: return "mmapped";
    case TARGET_MAP_STACK: return "main_stack";
    case TARGET_MAP_THREAD_STACK: return "thread_stack";
    case TARGET_MAP_GUARD: return "guard";
    case TARGET_MAP_SPECIAL: return "kernel";
    }
    return "unknown";
}

static void cstr_or_null(FILE *out, const char *text)
{
    if (text)
        json_cstr(out, text);
    else
        fputs("null", out);
}

/* ,"reachability":{"definitely_lost":{"chunks":N,"bytes":N},...} */
static void reachability(FILE *out, const struct reach_count *state)
{
    static const char *const names[LT_VERDICT_COUNT] = {
        [LT_VERDICT_DEFINITELY_LOST] = "definitely_lost",
        [LT_VERDICT_INDIRECTLY_LOST] = "indirectly_lost",
        [LT_VERDICT_POSSIBLY_LOST] = "possibly_lost",
        [LT_VERDICT_REACHABLE] = "reachable",
    };
    fputs(",\"reachability\":{", out);
    for (int v = 0; v < LT_VERDICT_COUNT; v++)
        fprintf(out, "%s\"%s\":{\"chunks\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", v ? "," : "",
                names[v], state[v].chunks, state[v].bytes);
    fputc('}', out);
}

/* ,"key":[...],"key_distinct":N */
static void histogram(FILE *out, const char *key, struct content_histogram *h, size_t max,
                      struct content_histogram *per_buffer)
{
    size_t n = 0;
    if (h)
        content_histogram_sorted(h, &n);
    fprintf(out, ",\"%s\":", key);
    json_histogram(out, h, max, per_buffer, "buffers");
    fprintf(out, ",\"%s_distinct\":%zu", key, n);
}

static void region(FILE *out, const struct scan_region *r)
{
    fprintf(out,
            "{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"size\":%" PRIu64 ",\"rss\":%" PRIu64
            ",\"swapped\":%" PRIu64 ",\"perms\":",
            r->start, r->end, r->end - r->start, r->rss, r->swapped);
    json_cstr(out, r->perms);
    fprintf(out, ",\"kind\":\"%s\",\"path\":", kind_key(r->kind));
    json_cstr(out, r->path);
    if (r->tid)
        fprintf(out, ",\"tid\":%d", r->tid);
    fputc('}', out);
}

void scan_render_json(FILE *out, const struct scan *s)
{
    const struct target *t = s->t;
    const struct heap_census *h = &s->heap;
    fprintf(out, "{\"leaktag_scan\":1,\"target\":{\"source\":");
    json_cstr(out, t->source);
    fprintf(out, ",\"core\":%s,\"pid\":%d,\"name\":", t->is_core ? "true" : "false", (int)t->pid);
    json_cstr(out, t->name);
    fprintf(out, ",\"executable\":");
    json_cstr(out, t->exe);
    fprintf(out, ",\"pointer_bits\":%u,\"address_space\":%" PRIu64 ",\"stack_rlimit\":",
            t->pointer_bytes * 8, t->address_space);
    if (t->stack_rlimit == UINT64_MAX)
        fputs("\"unlimited\"", out);
    else if (t->stack_rlimit)
        fprintf(out, "%" PRIu64, t->stack_rlimit);
    else
        fputs("null", out);
    fprintf(out, ",\"unmeasured_mappings\":%zu", t->unmeasured_maps);
    fprintf(out,
            "},\"frozen\":%s,\"stopped_seconds\":%.6f,\"walk_seconds\":%.6f,"
            "\"total_seconds\":%.6f",
            s->opt->freeze && !t->is_core ? "true" : "false", s->stopped_seconds, s->walk_seconds,
            s->total_seconds);

    fputs(",\"looks\":[", out);
    for (size_t i = 0; i < s->nlooks; i++) {
        const struct scan_look *l = &s->looks[i];
        fprintf(out,
                "%s{\"at\":%.3f,\"vm_size\":%" PRIu64 ",\"rss\":%" PRIu64
                ",\"inuse_chunks\":%" PRIu64 ",\"inuse_bytes\":%" PRIu64 ",\"mappings\":[",
                i ? "," : "", l->at, l->vm_size, l->rss, l->inuse_chunks, l->inuse_bytes);
        for (size_t k = 0; k < l->nregions; k++) {
            if (k)
                fputc(',', out);
            region(out, &l->regions[k]);
        }
        fputs("],\"classes\":[", out);
        for (size_t k = 0; k < l->nclasses; k++)
            fprintf(out, "%s[%" PRIu64 ",%" PRIu64 "]", k ? "," : "", l->classes[k].usable,
                    l->classes[k].chunks);
        fputs("]}", out);
    }
    fputc(']', out);

    fprintf(out, ",\"heap\":{\"glibc\":%s", h->glibc ? "true" : "false");
    if (!h->glibc) {
        fputs(",\"why\":", out);
        json_cstr(out, h->why);
    } else {
        fputs(",\"arenas\":[", out);
        for (size_t i = 0; i < h->narenas; i++)
            fprintf(out,
                    "%s{\"address\":%" PRIu64 ",\"main\":%s,\"heaps\":%u,\"bytes\":%" PRIu64
                    ",\"top\":%" PRIu64 "}",
                    i ? "," : "", h->arenas[i].address, h->arenas[i].main ? "true" : "false",
                    h->arenas[i].heaps, h->arenas[i].bytes, h->arenas[i].top);
        fprintf(out,
                "],\"heap_bytes\":%" PRIu64 ",\"inuse_chunks\":%" PRIu64 ",\"inuse_bytes\":%" PRIu64
                ",\"free_chunks\":%" PRIu64 ",\"free_bytes\":%" PRIu64 ",\"largest_free\":%" PRIu64
                ",\"tcaches\":%" PRIu64 ",\"tcache_chunks\":%" PRIu64 ",\"fastbin_chunks\":%" PRIu64
                ",\"fastbins_read\":%s"
                ",\"unchecked_small\":%" PRIu64 ",\"top_bytes\":%" PRIu64
                ",\"mmapped_chunks\":%" PRIu64 ",\"mmapped_bytes\":%" PRIu64
                ",\"overhead_bytes\":%" PRIu64 ",\"invalid_chunks\":%" PRIu64
                ",\"skipped_bytes\":%" PRIu64 ",\"changed_under_walk\":%s,\"classes\":[",
                h->heap_bytes, h->inuse_chunks, h->inuse_bytes, h->free_chunks, h->free_bytes,
                h->largest_free, h->tcaches, h->tcache_chunks, h->fastbin_chunks,
                h->fastbins_read ? "true" : "false", h->unchecked_small, h->top_bytes,
                h->mmapped_chunks, h->mmapped_bytes, h->overhead_bytes, h->invalid_chunks,
                h->skipped_bytes, h->changed_under_walk ? "true" : "false");
        for (size_t i = 0; i < h->nclasses; i++) {
            const struct heap_class *k = &h->classes[i];
            fprintf(out,
                    "%s{\"usable\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"bytes\":%" PRIu64
                    ",\"mmapped\":%" PRIu64 ",\"cached\":%" PRIu64,
                    i ? "," : "", k->usable, k->chunks, k->usable * k->chunks, k->mmapped,
                    k->cached);
            if (s->nlooks > 1)
                fprintf(out, ",\"growth\":%" PRId64,
                        (int64_t)k->chunks - (int64_t)scan_class_chunks(&s->looks[0], k->usable));
            if (s->reach.taken) {
                static const struct reach_class none;
                const struct reach_class *rk = reachability_class(&s->reach, k->usable);
                reachability(out, (rk ? rk : &none)->state);
                if (rk && rk->nsteps) {
                    fputs(",\"retained_by\":[", out);
                    for (size_t st = 0; st < rk->nsteps; st++) {
                        fputs(st ? "," : "", out);
                        json_cstr(out, rk->retained_by[st]);
                    }
                    fputc(']', out);
                }
            }
            fputc('}', out);
        }
        fputc(']', out);
        if (s->reach.taken)
            reachability(out, s->reach.total);
    }
    fputc('}', out);

    fputs(",\"verdict\":", out);
    if (!s->opt->reach) {
        fputs("null", out);
    } else {
        const struct reachability *rc = &s->reach;
        fprintf(out, "{\"taken\":%s,\"why\":", rc->taken ? "true" : "false");
        cstr_or_null(out, rc->taken ? NULL : rc->why);
        fputs(",\"caveat\":", out);
        cstr_or_null(out, rc->caveat[0] ? rc->caveat : NULL);
        fprintf(out,
                ",\"chunks\":%" PRIu64 ",\"roots\":%" PRIu64 ",\"bytes_scanned\":%" PRIu64
                ",\"seconds\":%.6f,\"lost_only\":%s}",
                rc->blocks, rc->roots, rc->bytes_scanned, rc->seconds,
                s->opt->lost ? "true" : "false");
    }

    fputs(",\"contents\":[", out);
    for (size_t i = 0; i < s->ncontents; i++) {
        struct scan_content *c = &s->contents[i];
        fprintf(out, "%s{", i ? "," : "");
        if (c->usable)
            fprintf(out, "\"usable\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"growth\":%" PRId64,
                    c->usable, c->buffers, c->growth);
        else
            fprintf(out,
                    "\"region_start\":%" PRIu64 ",\"region_end\":%" PRIu64 ",\"windows\":%" PRIu64,
                    c->start, c->end, c->buffers);
        fprintf(out, ",\"bytes\":%" PRIu64 ",\"unread\":%" PRIu64, c->bytes, c->unread);
        if (c->matches) {
            fputs(",\"grep\":", out);
            json_cstr(out, s->opt->grep_pattern);
            fprintf(out, ",\"grep_matched\":%" PRIu64 ",\"grep_total\":%" PRIu64, c->grep_matched,
                    content_histogram_total(c->matches));
            histogram(out, "matches", c->matches, MATCHES_MAX, c->match_buffers);
        }
        histogram(out, "strings", c->strings, STRINGS_MAX, NULL);
        histogram(out, "shapes", c->shapes, STRINGS_MAX, NULL);
        fputs(",\"samples\":[", out);
        for (size_t k = 0; k < c->nsamples; k++) {
            char *hex = malloc(2 * c->samples[k].len + 1);
            if (!hex)
                break;
            content_hex(c->samples[k].bytes, c->samples[k].len, hex);
            fprintf(out, "%s{\"address\":%" PRIu64 ",\"size\":%" PRIu64 ",\"hex\":\"%s\"}",
                    k ? "," : "", c->samples[k].address, c->samples[k].size, hex);
            free(hex);
        }
        fputs("]}", out);
    }
    fputc(']', out);

    fputs(",\"threads\":[", out);
    for (size_t i = 0; i < t->nthreads; i++) {
        const struct target_thread *th = &t->threads[i];
        fprintf(out, "%s{\"tid\":%d,\"name\":", i ? "," : "", th->tid);
        json_cstr(out, th->name);
        fprintf(out, ",\"sp\":%" PRIu64 ",\"stack_reserved\":%" PRIu64 ",\"started_in\":", th->sp,
                th->stack_reserved);
        json_cstr(out, th->start_name);
        fputc('}', out);
    }
    fputs("],\"families\":[", out);
    for (size_t i = 0; i < s->nfamilies; i++) {
        const struct scan_family *f = &s->families[i];
        fprintf(out, "%s{\"name\":", i ? "," : "");
        json_cstr(out, f->name);
        fputs(",\"started_in\":", out);
        json_cstr(out, f->start[0] ? f->start : NULL);
        fprintf(out,
                ",\"threads\":%zu,\"stack_each\":%" PRIu64 ",\"reserved\":%" PRIu64
                ",\"unknown_stacks\":%zu}",
                f->threads, f->stack_each, f->reserved, f->unknown_stacks);
    }
    fprintf(out, "],\"stacks_reserved\":%" PRIu64, s->stacks_reserved);
    if (s->opt->dump_path) {
        fputs(",\"dump\":{\"path\":", out);
        json_cstr(out, s->opt->dump_path);
        fprintf(out, ",\"chunks\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", s->dumped_chunks,
                s->dumped_bytes);
    }
    fputs("}\n", out);
}
