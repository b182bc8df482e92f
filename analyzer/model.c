/* model.c — builds the model: per snapshot the symbolizer, the folded frames, the sample ->
 * block index, thread families and start routines; then the groups, their order and which
 * are shown, and the newest snapshot's totals and thread inventory. Everything a renderer
 * shows is decided here.
 *
 * The block of each byte sample comes from a hash map of sample addresses and one pass over
 * the blocks. The groups shown: --min-bytes first, then --top of what is left. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "family.h"
#include "format.h"
#include "hashmap.h"
#include "retention.h"

/* For each sample, the block it was taken from: the samples' addresses in a hash map, then
 * one pass over the blocks (there are far fewer samples than blocks), which also finds the
 * heap's extent for the field view. A sample whose block was freed before the scan reached
 * it keeps NULL. */
static int index_samples(struct analysis *a)
{
    const struct lts_snapshot *s = a->snap;
    a->sample_block = calloc(s->nsamples + 1, sizeof(*a->sample_block));
    if (!a->sample_block)
        return -1;
    struct hashmap first = HASHMAP_INIT; /* address -> the first sample taken there */
    for (size_t k = 0; k < s->nsamples; k++) {
        bool inserted;
        struct hashmap_slot *slot = hashmap_number(&first, s->samples[k].addr, &inserted);
        if (!slot) {
            hashmap_free(&first);
            return -1;
        }
        if (inserted)
            slot->value = k;
    }
    a->heap_lo = UINT64_MAX;
    a->heap_hi = 0;
    for (size_t i = 0; first.count && i < s->nblocks; i++) {
        const struct lts_block *b = &s->blocks[i];
        if (b->addr < a->heap_lo)
            a->heap_lo = b->addr;
        if (b->addr + b->size > a->heap_hi)
            a->heap_hi = b->addr + b->size;
        struct hashmap_slot *slot = hashmap_find_number(&first, s->blocks[i].addr);
        if (slot && !a->sample_block[slot->value])
            a->sample_block[slot->value] = &s->blocks[i];
    }
    for (size_t k = 0; k < s->nsamples; k++) /* a second sample of one address (damaged file) */
        a->sample_block[k] =
            a->sample_block[hashmap_find_number(&first, s->samples[k].addr)->value];
    hashmap_free(&first);
    return 0;
}

static int describe_threads(struct analysis *a)
{
    const struct lts_snapshot *s = a->snap;
    a->families = calloc(s->nthreads + 1, sizeof(*a->families));
    a->start_functions = calloc(s->nthreads + 1, sizeof(*a->start_functions));
    if (!a->families || !a->start_functions)
        return -1;
    for (size_t i = 0; i < s->nthreads; i++) {
        family_of(s->threads[i].name, a->families[i], sizeof(a->families[i]));
        /* +1: the symbolizer takes return addresses and looks at the byte before. */
        if (s->threads[i].start_routine)
            a->start_functions[i] = frames_function_at(a->sym, s->threads[i].start_routine + 1);
    }
    return 0;
}

/* For each stack, when its newest block was allocated: its frames are named after the
 * modules loaded then. */
static int date_stacks(struct analysis *a)
{
    const struct lts_snapshot *s = a->snap;
    if (!(a->stack_when = malloc((s->nstacks + 1) * sizeof(*a->stack_when))))
        return -1;
    for (size_t i = 0; i < s->nstacks; i++)
        a->stack_when[i] = SYM_ANY_TIME;
    for (size_t i = 0; i < s->nblocks; i++) {
        const struct lts_block *b = &s->blocks[i];
        uint64_t when = s->now_cs > b->age_cs ? s->now_cs - b->age_cs : 0;
        if (a->stack_when[b->stack] == SYM_ANY_TIME || when > a->stack_when[b->stack])
            a->stack_when[b->stack] = when;
    }
    return 0;
}

static int analyse(struct analysis *a, const struct model_options *opt, FILE *warn,
                   struct lts_error *err)
{
    a->sample_interval = lts_meta_number(a->snap, "sample_interval_bytes", 0);
    if (date_stacks(a) != 0)
        return lts_fail(err, "out of memory");
    if (sym_open(a->snap, warn, &a->sym, err) != 0 ||
        frames_build(a->snap, a->sym, opt->fold, a->stack_when, &a->frames, err) != 0)
        return -1;
    if (index_samples(a) != 0 || describe_threads(a) != 0)
        return lts_fail(err, "out of memory");
    return 0;
}

/* --min-bytes first, then --top of what is left: under --diff, groups are sorted by growth,
 * so the ones --min-bytes drops are not all at the end. */
static int select_shown(struct model *m)
{
    size_t n = m->grouping.ngroups, kept = 0;
    m->shown = calloc(n ? n : 1, sizeof(*m->shown));
    if (!m->shown)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct group *g = &m->grouping.groups[i];
        bool big = g->bytes >= m->opt.min_bytes ||
                   (m->nsnaps > 1 && (uint64_t)llabs(g->delta_bytes) >= m->opt.min_bytes);
        bool lost = reach_lost_bytes(&g->reach) || g->reach.blocks[LT_VERDICT_DEFINITELY_LOST] ||
                    g->reach.blocks[LT_VERDICT_INDIRECTLY_LOST];
        m->lost_groups += lost;
        if (m->opt.lost_only && !lost)
            big = false;
        if (big && (!m->opt.top || kept < m->opt.top)) {
            m->shown[i] = true;
            kept++;
        }
    }
    return 0;
}

static int by_reservation(const void *x, const void *y)
{
    const struct thread_family *a = x, *b = y;
    uint64_t ra = a->stack * a->count, rb = b->stack * b->count;
    return ra != rb ? (ra > rb ? -1 : 1) : strcmp(a->name, b->name);
}

/* Alive application threads folded into families of one name and one stack reservation. */
static int take_inventory(struct model *m)
{
    const struct analysis *a = model_newest(m);
    const struct lts_snapshot *s = a->snap;
    struct thread_inventory *inv = &m->threads;
    inv->families = calloc(s->nthreads + 1, sizeof(*inv->families));
    if (!inv->families)
        return -1;
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct lts_thread *t = &s->threads[i];
        if (!(t->state & LT_THREAD_FLAG_ALIVE) || (t->state & LT_THREAD_FLAG_INTERNAL))
            continue;
        inv->alive++;
        inv->reserved += t->stack_size;
        size_t f = 0;
        while (f < inv->nfamilies && !(inv->families[f].stack == t->stack_size &&
                                       !strcmp(inv->families[f].name, a->families[i])))
            f++;
        if (f == inv->nfamilies) {
            struct thread_family *fam = &inv->families[inv->nfamilies++];
            snprintf(fam->name, sizeof(fam->name), "%s", a->families[i]);
            fam->stack = t->stack_size;
            fam->start = a->start_functions[i];
        }
        inv->families[f].count++;
    }
    qsort(inv->families, inv->nfamilies, sizeof(*inv->families), by_reservation);
    uint64_t rlimit = lts_meta_number(s, "rlimit_as_bytes", 0);
    inv->space_is_rlimit = rlimit != 0;
    inv->space = rlimit ? rlimit : lts_meta_number(s, "address_space_bytes", 0);
    inv->rlimit_stack = lts_meta_number(s, "rlimit_stack_bytes", 0);
    uint32_t biggest = 0;
    for (size_t f = 0; f < inv->nfamilies; f++)
        biggest = inv->families[f].count > biggest ? inv->families[f].count : biggest;
    /* Worth showing when it can explain something: many threads, or stacks that take a real
     * share of the address space a failing pthread_create would run out of. */
    inv->matters = inv->alive >= 32 || biggest >= 8 ||
                   (inv->space && inv->reserved * 4 >= inv->space) || inv->reserved >= (1ull << 30);
    return 0;
}

/* For each shown group with reachable blocks in the newest snapshot's scan: one chain from
 * a root to one of them. */
static int trace_retention(struct model *m)
{
    const struct lts_snapshot *s = model_newest(m)->snap;
    if (!group_has_scan(s))
        return 0;
    const struct lts_block **index = retention_index(s);
    if (!index)
        return -1;
    for (size_t i = 0; i < m->grouping.ngroups; i++) {
        struct group *g = &m->grouping.groups[i];
        if (!model_shows(m, i) || !g->reach_example || g->from != model_newest(m))
            continue;
        struct retention *r = malloc(sizeof(*r));
        if (!r) {
            free(index);
            return -1;
        }
        if (retention_trace(s, index, g->reach_example, r) == 0)
            g->retained = r;
        else
            free(r);
    }
    free(index);
    return 0;
}

int model_build(struct model *m, struct analysis *snaps, size_t n, const struct model_options *opt,
                FILE *warn, struct lts_error *err)
{
    memset(m, 0, sizeof(*m));
    m->snaps = snaps;
    m->nsnaps = n;
    m->opt = *opt;
    for (size_t i = 0; i < n; i++)
        if (analyse(&snaps[i], opt, warn, err) != 0)
            return -1;
    if (group_build(snaps, n, &opt->group, &m->grouping, err) != 0)
        return -1;
    group_sort(&m->grouping);
    if (select_shown(m) != 0 || take_inventory(m) != 0 || trace_retention(m) != 0)
        return lts_fail(err, "out of memory");
    if (opt->count_contents && census_count(m->snaps, m->nsnaps, &m->grouping, m->shown,
                                            opt->group.grep, opt->keep_samples, err) != 0)
        return -1;
    group_live_totals(model_newest(m)->snap, &m->live_blocks, &m->live_bytes);
    return 0;
}

void model_free(struct model *m)
{
    group_free(&m->grouping);
    free(m->shown);
    free(m->threads.families);
    for (size_t i = 0; m->snaps && i < m->nsnaps; i++) {
        struct analysis *a = &m->snaps[i];
        frames_free(a->frames);
        sym_close(a->sym);
        free(a->sample_block);
        free(a->families);
        free(a->start_functions);
        free(a->stack_bytes);
        free(a->stack_blocks);
        free(a->stack_lost);
        free(a->stack_when);
        lts_close(a->snap);
    }
    free(m->snaps);
    memset(m, 0, sizeof(*m));
}
