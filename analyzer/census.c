/* census.c — the shown groups' content, over all their samples (see census.h).
 *
 * A bounded histogram keeps the frequent strings and says below which count it may have
 * dropped any (content_histogram_floor); --grep counts every match and, per block, each
 * distinct one once; the words at each offset go to content_fields_add. */
#include "census.h"

#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "reader.h"

/* Distinct strings (and shapes) a group keeps: the top of a histogram is what the report
 * shows, and a census of unique ids would otherwise keep every one. */
#define STRINGS_KEPT 16384

#define NO_GROUP UINT32_MAX

struct owner {
    uint32_t group; /* NO_GROUP: not shown, or shown from another snapshot */
    uint32_t pos;   /* in the group's samples */
};

struct pass {
    struct grouping *grouping;
    const struct content_regex *grep;
    struct owner *owner;
    size_t keep;
    struct content_grep_scratch scratch; /* one sample's --grep matches */
    bool oom;
};

/* --grep in one sample: every match counts in `matches`, each distinct one once more in
 * `match_blocks` (grep -c counts lines, not matches). */
static void grep_sample(struct pass *ps, struct group *g, const uint8_t *bytes, size_t len)
{
    long n = content_grep_buffer(ps->grep, bytes, len, g->matches, g->match_blocks, &ps->scratch);
    g->grep_searched++;
    g->grep_matched += n > 0;
    if (n < 0)
        ps->oom = true;
}

static int count_sample(void *ctx, size_t index, const struct lts_sample *sm, const uint8_t *bytes)
{
    struct pass *ps = ctx;
    struct owner o = ps->owner[index];
    if (o.group == NO_GROUP)
        return 0;
    struct group *g = &ps->grouping->groups[o.group];
    struct group_sample *gs = &g->samples[o.pos];
    if (o.pos < ps->keep && sm->len) {
        gs->kept = sm->len < CENSUS_KEPT_BYTES_MAX ? sm->len : CENSUS_KEPT_BYTES_MAX;
        if (!(gs->bytes = malloc(gs->kept)))
            return 1;
        memcpy(gs->bytes, bytes, gs->kept);
    }
    content_strings(bytes, sm->len, 4, content_histogram_add_token, g->strings);
    content_strings(bytes, sm->len, 4, content_histogram_add_shape, g->shapes);
    content_fields_add(g->fields, bytes, sm->len);
    if (ps->grep)
        grep_sample(ps, g, bytes, sm->len);
    return ps->oom;
}

/* Room for what a shown group counts; false when memory ran out. */
static bool prepare(struct group *g, bool grep, size_t word)
{
    g->strings = content_histogram_new_bounded(STRINGS_KEPT);
    g->shapes = content_histogram_new_bounded(STRINGS_KEPT);
    g->fields = content_fields_new(FIELDS_MAX, word);
    if (grep) {
        g->matches = content_histogram_new();
        g->match_blocks = content_histogram_new();
    }
    return g->strings && g->shapes && g->fields && (!grep || (g->matches && g->match_blocks));
}

int census_count(const struct analysis *snaps, size_t n, struct grouping *grouping,
                 const bool *shown, const struct content_regex *grep, size_t keep,
                 struct lts_error *err)
{
    struct pass ps = {.grouping = grouping, .grep = grep, .keep = keep};
    int rc = 0;
    for (size_t si = 0; !rc && si < n; si++) {
        const struct analysis *a = &snaps[si];
        const struct lts_snapshot *s = a->snap;
        bool any = false;
        ps.owner = malloc((s->nsamples + 1) * sizeof(*ps.owner));
        if (!ps.owner)
            return lts_fail(err, "out of memory for %zu samples", s->nsamples);
        for (size_t i = 0; i < s->nsamples; i++)
            ps.owner[i].group = NO_GROUP;
        for (size_t gi = 0; !rc && gi < grouping->ngroups; gi++) {
            struct group *g = &grouping->groups[gi];
            if (!shown || !shown[gi] || g->from != a || !g->nsamples)
                continue;
            /* the words of the process's pointers: 4 bytes in a 32-bit one's objects */
            size_t word = lts_meta_number(s, "pointer_bits", 64) == 32 ? 4 : 8;
            if (!prepare(g, grep != NULL, word))
                rc = lts_fail(err, "out of memory");
            for (size_t k = 0; k < g->nsamples; k++)
                ps.owner[g->samples[k].sample - s->samples] = (struct owner){(uint32_t)gi,
                                                                             (uint32_t)k};
            any = true;
        }
        if (!rc && any) {
            rc = lts_samples_each(s, count_sample, &ps, err);
            if (rc > 0)
                rc = lts_fail(err, "out of memory counting the samples");
            else if (rc < 0) {
                char why[sizeof(err->message)];
                memcpy(why, err->message, sizeof(why));
                lts_fail(err, "%s: %s", a->path, why);
            }
        }
        free(ps.owner);
    }
    content_grep_scratch_free(&ps.scratch);
    return rc ? -1 : 0;
}
