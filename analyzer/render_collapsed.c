/* render_collapsed.c — "root;...;caller bytes" lines, one per distinct stack of the newest
 * snapshot, weighted by live bytes (estimates when sampled): the input of flamegraph.pl,
 * inferno and speedscope. Inlined frames appear in their own right; ';' inside names is
 * replaced (it separates frames); --fold and --min-age apply, as in the model. */
#include <inttypes.h>
#include <math.h>

#include "render.h"

static void put_name(FILE *out, const char *name)
{
    for (const char *p = name; *p; p++)
        fputc(*p == ';' ? ':' : *p == '\n' ? ' ' : *p, out);
}

void render_collapsed(FILE *out, const struct model *m)
{
    const struct analysis *a = model_newest(m);
    for (uint32_t st = 0; st < a->snap->nstacks; st++) {
        uint64_t bytes = (uint64_t)llround(a->stack_bytes[st]);
        if (!bytes)
            continue;
        const struct stack_frames *sf = frames_of(a->frames, st);
        if (!sf->n) {
            fprintf(out, "[no stack] %" PRIu64 "\n", bytes);
            continue;
        }
        for (uint32_t i = sf->n; i-- > 0;) { /* root first: each function, then what it inlined */
            put_name(out, sf->frames[i].name);
            if (i)
                fputc(';', out);
        }
        fprintf(out, " %" PRIu64 "\n", bytes);
    }
}
