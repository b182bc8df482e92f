/* dump.c — a snapshot's records as lines of text (leaktag-report --dump-raw): what the file
 * holds, without interpretation, for debugging the format and the tools that read it. */
#include "dump.h"

#include <inttypes.h>

void lts_dump_raw(FILE *out, const struct lts_snapshot *s)
{
    fprintf(out, "version %u\n", s->version);
    for (size_t i = 0; i < s->nmeta; i++) {
        if (!s->meta[i].is_string) {
            fprintf(out, "meta %s %" PRIu64 "\n", s->meta[i].key, s->meta[i].number);
            continue;
        }
        fprintf(out, "meta %s \"", s->meta[i].key);
        for (size_t k = 0; k < s->meta[i].text_len; k++) {
            unsigned char c = (unsigned char)s->meta[i].text[k];
            fprintf(out, c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? "%c" : "\\x%02x", c);
        }
        fputs("\"\n", out);
    }
    for (size_t i = 0; i < s->ncounters; i++)
        fprintf(out, "counter %s %" PRIu64 "\n", s->counters[i].name, s->counters[i].value);
    for (size_t i = 0; i < s->nmodules; i++) {
        const struct lts_module *m = &s->modules[i];
        fprintf(out, "module %s bias 0x%" PRIx64 " build-id ", m->path, m->bias);
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
                " kind %u %s\n",
                m->start, m->size, m->perms, m->rss, m->private_dirty, m->swap, m->kind, m->path);
    }
    for (size_t i = 0; i < s->nstacks; i++) {
        fprintf(out, "stack %zu", i);
        for (uint32_t k = 0; k < s->stacks[i].depth; k++)
            fprintf(out, " 0x%" PRIx64, s->stacks[i].frames[k]);
        fputc('\n', out);
    }
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *t = &s->threads[i];
        fprintf(out,
                "thread %u tid %" PRIu64 " name \"%s\" state %u stack %" PRIu64 " live %" PRIu64
                " blocks %" PRIu64 " bytes\n",
                t->idx, t->tid, t->name, t->state, t->stack_size, t->live_blocks, t->live_bytes);
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
        fprintf(out,
                "reach-scan status %" PRId64 " why \"%s\" pause-ns %" PRIu64 " fork-ns %" PRIu64
                " scan-ns %" PRIu64 " bytes %" PRIu64 " blocks %" PRIu64 " threads %u retries %u\n",
                r->status, r->why, r->pause_ns, r->fork_ns, r->scan_ns, r->bytes_scanned, r->blocks,
                r->threads, r->retries);
    }
    for (size_t i = 0; i < s->nreach_roots; i++)
        fprintf(out, "reach-root %zu type %u tid %" PRIu64 " 0x%" PRIx64 "-0x%" PRIx64 "\n", i,
                s->reach_roots[i].type, s->reach_roots[i].tid, s->reach_roots[i].lo,
                s->reach_roots[i].hi);
    for (size_t i = 0; i < s->nreach; i++)
        fprintf(out, "reach 0x%" PRIx64 " state %u via %u:%u at 0x%" PRIx64 "\n", s->reach[i].addr,
                s->reach[i].state, s->reach[i].via_type, s->reach[i].via, s->reach[i].via_addr);
}
