/* render_collapsed.c — "root;...;caller bytes" lines, one per distinct stack of the newest
 * snapshot, weighted by live bytes: the input of flamegraph.pl, inferno and speedscope.
 * Inlined frames appear in their own right; ';' inside names is replaced (it separates
 * frames), and --fold and --min-age apply. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static void put_name(FILE *out, const char *name)
{
    for (const char *p = name; *p; p++)
        fputc(*p == ';' ? ':' : *p == '\n' ? ' ' : *p, out);
}

void render_collapsed(FILE *out, const struct report *r)
{
    const struct analysis *a = report_newest(r);
    const struct lts_snapshot *s = a->snap;
    /* A sampled snapshot: each block stands for 1/P(sampled) blocks (weight 1 unsampled),
     * as in the other outputs, or the graph would lean towards large blocks. */
    uint64_t interval = lts_meta_number(s, "sample_interval_bytes", 0);
    double *weighted = calloc(s->nstacks + 1, sizeof(double));
    if (!weighted)
        return;
    for (size_t i = 0; i < s->nblocks; i++)
        if (s->blocks[i].age_cs >= r->gopt.min_age_cs)
            weighted[s->blocks[i].stack] +=
                group_block_weight(s->blocks[i].size, interval) * (double)s->blocks[i].size;
    for (uint32_t st = 0; st < s->nstacks; st++) {
        uint64_t bytes = (uint64_t)llround(weighted[st]);
        if (!bytes)
            continue;
        uint32_t depth;
        const uint64_t *frames = group_frames(a, st, &depth);
        if (!depth) {
            fprintf(out, "[no stack] %" PRIu64 "\n", bytes);
            continue;
        }
        bool first = true;
        for (uint32_t i = depth; i-- > 0;) { /* root first */
            const struct sym_frame *f;
            size_t n = sym_resolve(a->sym, frames[i], &f);
            size_t skip = 0;
            while (i == 0 && r->gopt.fold && skip + 1 < n && f[skip].function &&
                   content_regex_test(r->gopt.fold, f[skip].function, strlen(f[skip].function)))
                skip++;
            for (size_t k = n; k-- > skip;) { /* the real function, then what it inlined */
                char name[512];
                if (!first)
                    fputc(';', out);
                first = false;
                put_name(out, report_frame_name(name, sizeof(name), &f[k]));
            }
        }
        fprintf(out, " %" PRIu64 "\n", bytes);
    }
    free(weighted);
}
