/* render_dump.c — --dump: the captured bytes of the shown groups' blocks, block after block,
 * for xxd, an editor or grep -a (the article's gdb `dump binary memory` of a core, without
 * the core); --dump-index: one line per block saying where in the dump it starts. The files
 * may hold what the blocks held (request bodies, keys): created 0600, never through a link. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render.h"

static FILE *create(const char *path, struct lts_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        lts_fail(err, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

int render_dump(const struct model *m, const char *path, const char *index_path,
                struct lts_error *err)
{
    FILE *out = create(path, err), *index = NULL;
    if (!out)
        return -1;
    if (index_path && !(index = create(index_path, err))) {
        fclose(out);
        return -1;
    }
    if (index)
        fputs("# offset\tlength\taddress\tsize\tgroup\tallocated at\n", index);
    uint64_t at = 0;
    for (size_t i = 0; i < m->grouping.ngroups; i++) {
        const struct group *g = &m->grouping.groups[i];
        if (!model_shows(m, i))
            continue;
        const struct analysis *a = g->from;
        for (size_t k = 0; k < g->nsamples; k++) {
            const struct lts_sample *sm = g->samples[k].sample;
            const struct lts_block *b = g->samples[k].block;
            if (!sm->len || fwrite(sm->bytes, 1, sm->len, out) != sm->len)
                continue;
            if (index) {
                const char *site = g->stack != UINT32_MAX
                                       ? frames_of(a->frames, g->stack)->site.name
                                       : g->key;
                fprintf(index, "%" PRIu64 "\t%u\t0x%" PRIx64 "\t%" PRIu64 "\t#%zu\t%s\n", at,
                        sm->len, sm->addr, b ? b->size : (uint64_t)sm->len, i + 1, site);
            }
            at += sm->len;
        }
    }
    int bad = ferror(out) | (index && ferror(index));
    bad |= fclose(out) != 0;
    if (index)
        bad |= fclose(index) != 0;
    if (bad)
        return lts_fail(err, "%s: writing the dump failed", path);
    return 0;
}
