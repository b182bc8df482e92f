/* render_dump.c — --dump: the captured bytes of the shown groups' blocks, block after block,
 * for xxd, an editor or grep -a (the article's gdb `dump binary memory` of a core, without
 * the core); --dump-index: one line per block saying where in the dump it starts. The files
 * may hold what the blocks held (request bodies, keys): written as output.c writes a file
 * (0600, a temporary name renamed into place only when whole, nothing left on a failure),
 * and never through a link: a path that is a symbolic link is refused.
 *
 * The bytes are put at their place in the dump with pwrite, group after group, in one pass
 * over each snapshot's samples (lts_samples_each). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "render.h"
#include "samples.h"

/* Opens path's temporary, refusing a path that is a symbolic link (rename would replace
 * the link, not write through it, but a link there is someone's mistake or trap). */
static int create(struct output *o, const char *path, struct lts_error *err)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return lts_fail(err, "%s: a symbolic link; not written through", path);
    return output_open(o, path, err);
}

/* Where each sample of a shown group goes in the dump (UINT64_MAX: nowhere): the groups in
 * the order shown, each group's blocks in its order, so that the file reads group after
 * group although the samples are read in the snapshot's order. */
struct placing {
    uint64_t *at;
    int fd;
    int error; /* errno of a failed write, 0 */
};

static int place(void *ctx, size_t index, const struct lts_sample *sm, const uint8_t *bytes)
{
    struct placing *pl = ctx;
    uint64_t at = pl->at[index];
    for (size_t done = 0; at != UINT64_MAX && done < sm->len;) {
        ssize_t n = pwrite(pl->fd, bytes + done, sm->len - done, (off_t)(at + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            pl->error = n < 0 ? errno : EIO;
            return 1;
        }
        done += (size_t)n;
    }
    return 0;
}

int render_dump(const struct model *m, const char *path, const char *index_path,
                struct lts_error *err)
{
    struct output dump, index_file = {0};
    if (create(&dump, path, err) < 0)
        return -1;
    fflush(dump.out);
    int fd = fileno(dump.out); /* the bytes go in place with pwrite, not through stdio */
    FILE *index = NULL;
    if (index_path) {
        if (create(&index_file, index_path, err) < 0) {
            output_close(&dump, false, err);
            return -1;
        }
        index = index_file.out;
        fputs("# offset\tlength\taddress\tsize\tgroup\tallocated at\n", index);
    }
    int rc = 0;
    uint64_t at = 0;
    for (size_t si = 0; !rc && si < m->nsnaps; si++) {
        const struct analysis *a = &m->snaps[si];
        const struct lts_snapshot *s = a->snap;
        struct placing pl = {malloc((s->nsamples + 1) * sizeof(uint64_t)), fd, 0};
        if (!pl.at) {
            rc = lts_fail(err, "out of memory");
            break;
        }
        for (size_t k = 0; k < s->nsamples; k++)
            pl.at[k] = UINT64_MAX;
        bool any = false;
        for (size_t i = 0; i < m->grouping.ngroups; i++) {
            const struct group *g = &m->grouping.groups[i];
            if (!model_shows(m, i) || g->from != a)
                continue;
            for (size_t k = 0; k < g->nsamples; k++) {
                const struct lts_sample *sm = g->samples[k].sample;
                const struct lts_block *b = g->samples[k].block;
                if (!sm->len)
                    continue;
                pl.at[sm - s->samples] = at;
                any = true;
                if (index) {
                    const char *site = g->stack != UINT32_MAX
                                           ? frames_of(a->frames, g->stack)->site.name
                                           : g->key;
                    fprintf(index, "%" PRIu64 "\t%u\t0x%" PRIx64 "\t%" PRIu64 "\t#%zu\t", at,
                            sm->len, sm->addr, b ? b->size : (uint64_t)sm->len, i + 1);
                    for (const char *c = site; *c; c++) /* one line, six columns: no tab */
                        fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, index);
                    fputc('\n', index);
                }
                at += sm->len;
            }
        }
        if (any && lts_samples_each(s, place, &pl, err) != 0)
            rc = pl.error ? lts_fail(err, "%s: %s", path, strerror(pl.error)) : -1;
        free(pl.at);
    }
    /* the dump whole, then its index; neither when the dump could not be written */
    struct lts_error close_err;
    if (output_close(&dump, rc == 0, &close_err) != 0 && !rc) {
        *err = close_err;
        rc = -1;
    }
    if (index && output_close(&index_file, rc == 0, &close_err) != 0 && !rc) {
        *err = close_err;
        rc = -1;
    }
    return rc;
}
