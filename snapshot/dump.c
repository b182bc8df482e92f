/* dump.c — a snapshot's records as lines of text (leaktag-report --dump-raw): what the file
 * holds, without interpretation, for debugging the format and the tools that read it. */
#include "dump.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

/* Bytes of a string from the file on one line: printable ASCII as is, but for the quote and
 * the backslash (and, in a bare word, the space); those and the rest as \xNN. A process
 * names its threads and files as it likes: a newline in a thread name must not start a
 * record of its own. */
static void text(FILE *out, const char *s, size_t n, bool bare)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        bool as_is = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && !(bare && c == ' ');
        fprintf(out, as_is ? "%c" : "\\x%02x", c);
    }
}

static void word(FILE *out, const char *s)
{
    if (s)
        text(out, s, strlen(s), true);
}

static void quoted(FILE *out, const char *s)
{
    fputc('"', out);
    if (s)
        text(out, s, strlen(s), false);
    fputc('"', out);
}

void lts_dump_raw(FILE *out, const struct lts_snapshot *s)
{
    fprintf(out, "version %u\n", s->version);
    for (size_t i = 0; i < s->nmeta; i++) {
        fputs("meta ", out);
        word(out, s->meta[i].key);
        if (!s->meta[i].is_string) {
            fprintf(out, " %" PRIu64 "\n", s->meta[i].number);
            continue;
        }
        fputs(" \"", out);
        text(out, s->meta[i].text, s->meta[i].text_len, false);
        fputs("\"\n", out);
    }
    for (size_t i = 0; i < s->ncounters; i++) {
        fputs("counter ", out);
        word(out, s->counters[i].name);
        fprintf(out, " %" PRIu64 "\n", s->counters[i].value);
    }
    for (size_t i = 0; i < s->nmodules; i++) {
        const struct lts_module *m = &s->modules[i];
        fputs("module ", out);
        word(out, m->path);
        fprintf(out, " bias 0x%" PRIx64 " build-id ", m->bias);
        for (size_t k = 0; k < m->build_id_len; k++)
            fprintf(out, "%02x", m->build_id[k]);
        for (uint32_t k = 0; k < m->nsegments; k++)
            fprintf(out, " [0x%" PRIx64 "+0x%" PRIx64 " off 0x%" PRIx64 " flags %u]",
                    m->segments[k].start, m->segments[k].size, m->segments[k].offset,
                    m->segments[k].flags);
        fputc('\n', out);
    }
    for (size_t i = 0; i < s->nmaps; i++) {
        const struct lts_map *m = &s->maps[i];
        fprintf(out,
                "map 0x%" PRIx64 "+0x%" PRIx64 " %s rss %" PRIu64 " dirty %" PRIu64 " swap %" PRIu64
                " kind %u ",
                m->start, m->size, m->perms, m->rss, m->private_dirty, m->swap, m->kind);
        word(out, m->path);
        fputc('\n', out);
    }
    for (size_t i = 0; i < s->nstacks; i++) {
        fprintf(out, "stack %zu", i);
        for (uint32_t k = 0; k < s->stacks[i].depth; k++)
            fprintf(out, " 0x%" PRIx64, s->stacks[i].frames[k]);
        fputc('\n', out);
    }
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *t = &s->threads[i];
        fprintf(out, "thread %u tid %" PRIu64 " name ", t->idx, t->tid);
        quoted(out, t->name);
        fprintf(out, " state %u stack %" PRIu64 " live %" PRIu64 " blocks %" PRIu64 " bytes\n",
                t->state, t->stack_size, t->live_blocks, t->live_bytes);
    }
    for (size_t i = 0; i < s->nblocks; i++) {
        const struct lts_block *b = &s->blocks[i];
        fprintf(out, "block 0x%" PRIx64 " size %" PRIu64 " stack %u thread %u age %u kind %u\n",
                b->addr, b->size, b->stack, b->thread, b->age_cs, b->kind);
    }
    for (size_t i = 0; i < s->nsamples; i++)
        fprintf(out, "sample 0x%" PRIx64 " stack %u bytes %u\n", s->samples[i].addr,
                s->samples[i].stack, s->samples[i].len);
    for (size_t i = 0; i < s->nmisuse; i++)
        fprintf(out,
                "misuse type %u alloc-stack %u release-stack %u kinds %u/%u count %" PRIu64 "\n",
                s->misuse[i].type, s->misuse[i].alloc_stack, s->misuse[i].release_stack,
                s->misuse[i].alloc_kind, s->misuse[i].release_kind, s->misuse[i].count);
    for (size_t i = 0; i < s->nreach_scan; i++) {
        const struct lts_reach_scan *r = &s->reach_scan[i];
        fprintf(out, "reach-scan status %" PRId64 " why ", r->status);
        quoted(out, r->why);
        fprintf(out,
                " pause-ns %" PRIu64 " fork-ns %" PRIu64 " scan-ns %" PRIu64 " bytes %" PRIu64
                " blocks %" PRIu64 " threads %u retries %u\n",
                r->pause_ns, r->fork_ns, r->scan_ns, r->bytes_scanned, r->blocks, r->threads,
                r->retries);
    }
    for (size_t i = 0; i < s->nreach_roots; i++)
        fprintf(out, "reach-root %zu type %u tid %" PRIu64 " 0x%" PRIx64 "-0x%" PRIx64 "\n", i,
                s->reach_roots[i].type, s->reach_roots[i].tid, s->reach_roots[i].lo,
                s->reach_roots[i].hi);
    for (size_t i = 0; i < s->nreach; i++)
        fprintf(out, "reach 0x%" PRIx64 " state %u via %u:%u at 0x%" PRIx64 "\n", s->reach[i].addr,
                s->reach[i].state, s->reach[i].via_type, s->reach[i].via, s->reach[i].via_addr);
}
