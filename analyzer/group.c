/* group.c — the grouping engine behind leaktag-report. Per snapshot: every stack gets a key
 * (its recorded frames after --fold, as module+offset; or the call site; or the function;
 * for --by thread the thread's family name), blocks are summed per key, samples are attached
 * and scanned for strings and --grep matches. Several snapshots are then merged by key into
 * one series per group. Exact integer arithmetic unless the snapshot is sampled.
 *
 * Per stack it also keeps the live bytes and blocks (weighted by 1 / P(sampled) when sampled)
 * and the lost bytes, which the collapsed output and the HTML flame graph draw. What the
 * attached samples hold (strings, --grep matches) is counted by census.c, for the shown groups
 * only, not here. */
#include "group.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* ---- growable text ------------------------------------------------------------------------- */

struct text {
    char *s;
    size_t len, cap;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *s = realloc(t->s, cap);
        if (!s)
            return;
        t->s = s;
        t->cap = cap;
    }
}

/* ---- keys --------------------------------------------------------------------------------- */

static void frame_key(struct text *t, const struct analysis *a, uint64_t address, uint64_t when)
{
    const struct sym_frame *f;
    size_t n = sym_resolve_at(a->sym, address, when, &f);
    if (n && f[0].module)
        text_add(t, "%s+0x%llx", f[0].module, (unsigned long long)f[0].offset);
    else
        text_add(t, "0x%llx", (unsigned long long)address);
}

static char *stack_key(const struct analysis *a, uint32_t stack, const struct group_options *opt)
{
    struct text t = {0};
    uint32_t depth;
    const uint64_t *frames = frames_recorded(a->frames, a->snap, stack, &depth);
    if (depth == 0) {
        text_add(&t, "(no stack)");
        return t.s;
    }
    switch (opt->by) {
    case GROUP_BY_STACK:
        for (uint32_t i = 0; i < depth; i++) {
            if (i)
                text_add(&t, ";");
            frame_key(&t, a, frames[i], a->stack_when[stack]);
        }
        break;
    case GROUP_BY_SITE: frame_key(&t, a, frames[0], a->stack_when[stack]); break;
    case GROUP_BY_FUNCTION: {
        /* The first frame shown: inlined wrappers that --fold names are gone from it. */
        const struct stack_frames *sf = frames_of(a->frames, stack);
        if (sf->n && sf->frames[0].sym->function)
            text_add(&t, "%s", sf->frames[0].sym->function);
        else
            frame_key(&t, a, frames[0], a->stack_when[stack]);
        break;
    }
    case GROUP_BY_THREAD: break;
    }
    return t.s;
}

/* ---- one snapshot ---------------------------------------------------------------------------- */

struct stack_tally {
    uint32_t stack;
    uint64_t bytes;
};

struct partial {
    struct group g;
    struct stack_tally top[3];
    /* thread families: parallel arrays, few per group */
    struct thread_share *shares;
    size_t nshares, capshares;
};

static struct thread_share *share_for(struct partial *p, const char *family)
{
    for (size_t i = 0; i < p->nshares; i++)
        if (!strcmp(p->shares[i].name, family))
            return &p->shares[i];
    if (p->nshares == p->capshares) {
        size_t cap = p->capshares ? p->capshares * 2 : 4;
        struct thread_share *s = realloc(p->shares, cap * sizeof(*s));
        if (!s)
            return NULL;
        p->shares = s;
        p->capshares = cap;
    }
    char *copy = strdup(family);
    if (!copy)
        return NULL;
    p->shares[p->nshares] = (struct thread_share){copy, 0, 0, 0};
    return &p->shares[p->nshares++];
}

static void note_stack(struct partial *p, uint32_t stack, uint64_t bytes_now)
{
    /* keep the three stacks with the most bytes; bytes_now is the stack's running total.
     * Tallied one higher, so that a stack of zero-byte blocks (malloc(0)) still counts
     * and 0 keeps meaning "no stack here". */
    bytes_now++;
    for (int i = 0; i < 3; i++) {
        if (p->top[i].stack == stack && p->top[i].bytes) {
            p->top[i].bytes = bytes_now;
            goto resort;
        }
    }
    if (bytes_now > p->top[2].bytes)
        p->top[2] = (struct stack_tally){stack, bytes_now};
resort:
    for (int i = 2; i > 0; i--)
        if (p->top[i].bytes > p->top[i - 1].bytes) {
            struct stack_tally t = p->top[i];
            p->top[i] = p->top[i - 1];
            p->top[i - 1] = t;
        }
}

struct one {
    struct partial *parts;
    size_t nparts, capparts;
    struct hashmap keys; /* key -> index into parts */
};

static struct partial *part_for(struct one *o, char *key, int *error)
{
    bool inserted;
    struct hashmap_slot *slot = hashmap_bytes(&o->keys, key, strlen(key), &inserted);
    if (!slot) {
        *error = 1;
        free(key);
        return NULL;
    }
    if (!inserted) {
        free(key);
        return &o->parts[slot->value];
    }
    if (o->nparts == o->capparts) {
        size_t cap = o->capparts ? o->capparts * 2 : 64;
        struct partial *p = realloc(o->parts, cap * sizeof(*p));
        if (!p) {
            *error = 1; /* grouping stops: the map is freed without reading its keys again */
            free(key);
            return NULL;
        }
        o->parts = p;
        o->capparts = cap;
    }
    struct partial *p = &o->parts[o->nparts];
    memset(p, 0, sizeof(*p));
    p->g.key = key;
    p->g.min_age_cs = UINT32_MAX;
    slot->value = o->nparts++;
    return p;
}

double group_block_weight(uint64_t size, uint64_t interval)
{
    if (!interval)
        return 1.0;
    double p = -expm1(-(double)(size ? size : 1) / (double)interval);
    return p > 0 ? 1.0 / p : 1.0;
}

void group_live_totals(const struct lts_snapshot *s, uint64_t *blocks, uint64_t *bytes)
{
    uint64_t interval = lts_meta_number(s, "sample_interval_bytes", 0);
    if (!interval) {
        *blocks = lts_counter(s, "live_blocks", s->nblocks);
        *bytes = lts_counter(s, "live_bytes", 0);
        return;
    }
    double nb = 0, ny = 0;
    for (size_t i = 0; i < s->nblocks; i++) {
        double w = group_block_weight(s->blocks[i].size, interval);
        nb += w;
        ny += w * (double)s->blocks[i].size;
    }
    *blocks = (uint64_t)llround(nb);
    *bytes = (uint64_t)llround(ny);
}

static int group_one(struct analysis *a, const struct group_options *opt, struct one *o,
                     struct lts_error *err)
{
    const struct lts_snapshot *s = a->snap;
    uint64_t interval = a->sample_interval;
    int error = 0;
    /* stack -> partial (stack, site, function); thread record -> partial (thread) */
    size_t *stack_part = calloc(s->nstacks + 1, sizeof(size_t));
    uint64_t *stack_bytes = calloc(s->nstacks + 1, sizeof(uint64_t));
    size_t *thread_part = NULL;
    free(a->stack_bytes);
    free(a->stack_blocks);
    free(a->stack_lost);
    a->stack_bytes = calloc(s->nstacks + 1, sizeof(double));
    a->stack_blocks = calloc(s->nstacks + 1, sizeof(double));
    a->stack_lost = calloc(s->nstacks + 1, sizeof(uint64_t));
    if (!stack_part || !stack_bytes || !a->stack_bytes || !a->stack_blocks || !a->stack_lost)
        error = 1;
    if (!error && opt->by != GROUP_BY_THREAD) {
        for (uint32_t st = 0; !error && st < s->nstacks; st++) {
            char *key = stack_key(a, st, opt);
            struct partial *p = key ? part_for(o, key, &error) : NULL;
            if (!key)
                error = 1;
            if (p)
                stack_part[st] = (size_t)(p - o->parts);
        }
    } else if (!error) {
        thread_part = calloc(s->nthreads + 1, sizeof(size_t));
        if (!thread_part)
            error = 1;
        for (size_t i = 0; !error && i < s->nthreads; i++) {
            char *key = strdup(a->families[i]);
            struct partial *p = key ? part_for(o, key, &error) : NULL;
            if (!key)
                error = 1;
            if (p)
                thread_part[i] = (size_t)(p - o->parts);
        }
    }
    /* Unlisted threads (past the registry's limit): one shared "(unknown thread)" group. */
    size_t unknown_thread_part = SIZE_MAX;

    /* (partial, thread) pairs seen, to count distinct threads per family; (partial, stack)
     * bytes, to find each thread group's main stacks. */
    struct hashmap seen = HASHMAP_INIT, per_stack = HASHMAP_INIT;
    bool scanned = group_has_scan(s);
    for (size_t i = 0; !error && i < s->nblocks; i++) {
        const struct lts_block *b = &s->blocks[i];
        if (b->age_cs < opt->min_age_cs)
            continue;
        const struct lts_thread *t = lts_thread(s, b->thread);
        size_t ti = t ? (size_t)(t - s->threads) : SIZE_MAX;
        size_t pi;
        if (opt->by == GROUP_BY_THREAD) {
            if (ti != SIZE_MAX) {
                pi = thread_part[ti];
            } else {
                if (unknown_thread_part == SIZE_MAX) {
                    char *key = strdup("(unknown thread)");
                    struct partial *p = key ? part_for(o, key, &error) : NULL;
                    if (!p) {
                        error = 1;
                        break;
                    }
                    unknown_thread_part = (size_t)(p - o->parts);
                }
                pi = unknown_thread_part;
            }
        } else {
            pi = stack_part[b->stack];
        }
        struct partial *p = &o->parts[pi];
        double weight = group_block_weight(b->size, interval);
        if (scanned) {
            int st = group_reach_state(s, b->addr);
            p->g.has_reach = true;
            p->g.reach.blocks[st]++;
            p->g.reach.bytes[st] += b->size;
            if (st == LT_VERDICT_REACHABLE && !p->g.reach_example)
                p->g.reach_example = b->addr;
            if (reach_state_lost(st))
                a->stack_lost[b->stack] += b->size;
        }
        p->g.sampled_blocks++;
        p->g.est_blocks += weight;
        p->g.est_bytes += weight * (double)b->size;
        a->stack_bytes[b->stack] += weight * (double)b->size;
        a->stack_blocks[b->stack] += weight;
        if (b->age_cs < p->g.min_age_cs)
            p->g.min_age_cs = b->age_cs;
        if (b->age_cs > p->g.max_age_cs)
            p->g.max_age_cs = b->age_cs;
        bool inserted;
        if (opt->by == GROUP_BY_THREAD) {
            struct hashmap_slot *bytes = hashmap_number(&per_stack, (uint64_t)pi << 32 | b->stack,
                                                        &inserted);
            if (!bytes) {
                error = 1;
                break;
            }
            bytes->value += b->size;
            note_stack(p, b->stack, bytes->value);
        } else {
            stack_bytes[b->stack] += b->size;
            note_stack(p, b->stack, stack_bytes[b->stack]);
        }
        struct thread_share *sh = share_for(p,
                                            ti != SIZE_MAX ? a->families[ti] : "(unknown thread)");
        if (!sh || !hashmap_number(&seen, (uint64_t)pi << 20 | b->thread, &inserted)) {
            error = 1;
            break;
        }
        sh->est_blocks += weight;
        sh->est_bytes += weight * (double)b->size;
        sh->threads += inserted;
    }
    hashmap_free(&seen);
    hashmap_free(&per_stack);

    /* Samples: to their group (what they hold is counted for the shown groups only, by
     * census.c, in one pass over the snapshot's samples). */
    bool need_blocks = opt->by == GROUP_BY_THREAD || opt->min_age_cs;
    for (size_t i = 0; !error && i < s->nsamples; i++) {
        const struct lts_sample *sm = &s->samples[i];
        const struct lts_block *b = a->sample_block[i];
        size_t pi = stack_part[sm->stack];
        if (need_blocks) {
            if (!b || b->age_cs < opt->min_age_cs)
                continue;
            if (opt->by == GROUP_BY_THREAD) {
                const struct lts_thread *t = lts_thread(s, b->thread);
                pi = t ? thread_part[t - s->threads] : unknown_thread_part;
                if (pi == SIZE_MAX)
                    continue;
            }
        }
        struct partial *p = &o->parts[pi];
        if ((p->g.nsamples & (p->g.nsamples - 1)) == 0) { /* 0, 1, 2, 4...: room doubles */
            size_t room = p->g.nsamples ? 2 * p->g.nsamples : 1;
            struct group_sample *grown = realloc(p->g.samples, room * sizeof(*grown));
            if (!grown) {
                error = 1;
                break;
            }
            p->g.samples = grown;
        }
        p->g.samples[p->g.nsamples++] = (struct group_sample){sm, b, NULL, 0};
    }

    for (size_t i = 0; i < o->nparts; i++) {
        struct partial *p = &o->parts[i];
        /* Exact sums of integer weights unless sampled; llround keeps them exact. */
        p->g.blocks = (uint64_t)llround(p->g.est_blocks);
        p->g.bytes = (uint64_t)llround(p->g.est_bytes);
        for (size_t t = 0; t < p->nshares; t++) {
            p->shares[t].blocks = (uint64_t)llround(p->shares[t].est_blocks);
            p->shares[t].bytes = (uint64_t)llround(p->shares[t].est_bytes);
        }
        p->g.from = a;
        p->g.stack = p->top[0].bytes ? p->top[0].stack : UINT32_MAX;
        if (p->g.min_age_cs == UINT32_MAX)
            p->g.min_age_cs = 0;
    }
    free(stack_part);
    free(stack_bytes);
    free(thread_part);
    if (error)
        return lts_fail(err, "out of memory while grouping %zu blocks", s->nblocks);
    return 0;
}

static int by_bytes_desc(const void *x, const void *y)
{
    const struct thread_share *a = x, *b = y;
    return a->bytes != b->bytes ? (a->bytes > b->bytes ? -1 : 1) : strcmp(a->name, b->name);
}

static void free_partial_contents(struct partial *p)
{
    free(p->g.key);
    free(p->g.samples); /* nothing counted in a partial yet: census.c runs on groups */
    for (size_t i = 0; i < p->nshares; i++)
        free((char *)p->shares[i].name);
    free(p->shares);
}

static void free_group_contents(struct group *g)
{
    free(g->key);
    for (size_t k = 0; k < g->nsamples; k++)
        free(g->samples[k].bytes);
    free(g->samples);
    content_fields_free(g->fields);
    content_histogram_free(g->strings);
    content_histogram_free(g->shapes);
    content_histogram_free(g->matches);
    content_histogram_free(g->match_blocks);
    for (size_t i = 0; i < g->nthreads; i++)
        free((char *)g->threads[i].name);
    free(g->threads);
    free(g->series_bytes);
    free(g->series_lost_bytes);
    free(g->retained);
    free(g->series_blocks);
}

int group_reach_state(const struct lts_snapshot *s, uint64_t addr)
{
    if (!group_has_scan(s))
        return -1;
    size_t at = lts_reach_index(s, addr);
    return at != SIZE_MAX ? s->reach[at].state : REACH_NOT_SCANNED;
}

int group_build(struct analysis *snaps, size_t n, const struct group_options *opt,
                struct grouping *out, struct lts_error *err)
{
    memset(out, 0, sizeof(*out));
    out->nsnapshots = n;
    struct hashmap final = HASHMAP_INIT; /* key -> index into out->groups */
    size_t cap = 0;
    for (size_t si = 0; si < n; si++) {
        struct one o = {0};
        if (group_one(&snaps[si], opt, &o, err) != 0) {
            for (size_t i = 0; i < o.nparts; i++)
                free_partial_contents(&o.parts[i]);
            free(o.parts);
            hashmap_free(&o.keys);
            goto fail;
        }
        for (size_t i = 0; i < o.nparts; i++) {
            struct partial *p = &o.parts[i];
            if (!p->g.sampled_blocks) { /* a stack with no live block (after --min-age) */
                free_partial_contents(p);
                continue;
            }
            p->g.threads = p->shares;
            p->g.nthreads = p->nshares;
            qsort(p->g.threads, p->g.nthreads, sizeof(*p->g.threads), by_bytes_desc);
            if (si == n - 1) {
                out->live_bytes += p->g.bytes;
                out->live_blocks += p->g.blocks;
                for (int k = 0; k < REACH_KINDS; k++) {
                    out->reach.blocks[k] += p->g.reach.blocks[k];
                    out->reach.bytes[k] += p->g.reach.bytes[k];
                }
            }
            bool inserted;
            struct hashmap_slot *slot = hashmap_bytes(&final, p->g.key, strlen(p->g.key),
                                                      &inserted);
            if (!slot)
                goto oom;
            if (inserted) {
                if (out->ngroups == cap) {
                    cap = cap ? cap * 2 : 64;
                    struct group *grown = realloc(out->groups, cap * sizeof(*grown));
                    if (!grown)
                        goto oom;
                    out->groups = grown;
                }
                slot->value = out->ngroups++;
                struct group *g = &out->groups[slot->value];
                *g = p->g;
                g->series_bytes = calloc(n, sizeof(uint64_t));
                g->series_blocks = calloc(n, sizeof(uint64_t));
                g->series_lost_bytes = calloc(n, sizeof(uint64_t));
                if (!g->series_bytes || !g->series_blocks || !g->series_lost_bytes)
                    goto oom;
            } else {
                /* Newer snapshot: its figures and samples replace the older ones; the
                 * first key stays (the map points at it). */
                struct group *g = &out->groups[slot->value];
                uint64_t *sb = g->series_bytes, *sk = g->series_blocks;
                uint64_t *sl = g->series_lost_bytes;
                char *key = g->key;
                g->series_bytes = g->series_blocks = g->series_lost_bytes = NULL;
                g->key = NULL;
                free_group_contents(g);
                *g = p->g;
                free(g->key);
                g->key = key;
                g->series_bytes = sb;
                g->series_blocks = sk;
                g->series_lost_bytes = sl;
            }
            struct group *g = &out->groups[slot->value];
            g->series_bytes[si] = g->bytes;
            g->series_blocks[si] = g->blocks;
            g->series_lost_bytes[si] = reach_lost_bytes(&g->reach);
        }
        free(o.parts);
        hashmap_free(&o.keys);
        continue;
    oom:
        lts_fail(err, "out of memory");
        free(o.parts);
        hashmap_free(&o.keys);
        goto fail;
    }
    out->sample_interval = snaps[n - 1].sample_interval;
    out->has_reach = group_has_scan(snaps[n - 1].snap);
    for (size_t i = 0; i < out->ngroups; i++) {
        struct group *g = &out->groups[i];
        g->bytes = g->series_bytes[n - 1];
        if (!g->series_blocks[n - 1]) {
            g->sampled_blocks = 0; /* gone from the newest snapshot */
            g->reach = (struct reach_split){0};
        }
        g->has_reach = out->has_reach;
        g->delta_lost_bytes = (int64_t)(g->series_lost_bytes[n - 1] - g->series_lost_bytes[0]);
        g->blocks = g->series_blocks[n - 1];
        g->delta_bytes = (int64_t)(g->series_bytes[n - 1] - g->series_bytes[0]);
        g->delta_blocks = (int64_t)(g->series_blocks[n - 1] - g->series_blocks[0]);
        g->grew_every_interval = n >= 2;
        for (size_t k = 1; k < n; k++)
            if (g->series_bytes[k] <= g->series_bytes[k - 1])
                g->grew_every_interval = false;
    }
    hashmap_free(&final);
    return 0;
fail:
    hashmap_free(&final);
    group_free(out);
    return -1;
}

static int by_bytes(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    if (a->blocks != b->blocks)
        return a->blocks > b->blocks ? -1 : 1;
    return strcmp(a->key, b->key);
}

static int by_growth(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    if (a->grew_every_interval != b->grew_every_interval)
        return a->grew_every_interval ? -1 : 1;
    if (a->delta_bytes != b->delta_bytes)
        return a->delta_bytes > b->delta_bytes ? -1 : 1;
    return by_bytes(x, y);
}

/* With a reachability scan: lost bytes first (definitely and indirectly), then as by_bytes. */
static int by_lost(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    uint64_t la = reach_lost_bytes(&a->reach), lb = reach_lost_bytes(&b->reach);
    if (la != lb)
        return la > lb ? -1 : 1;
    return by_bytes(x, y);
}

void group_sort(struct grouping *g)
{
    if (g->ngroups > 1) /* none left after filtering: groups may be NULL, which qsort refuses */
        qsort(g->groups, g->ngroups, sizeof(*g->groups),
              g->nsnapshots > 1 ? by_growth
              : g->has_reach    ? by_lost
                                : by_bytes);
}

void group_free(struct grouping *g)
{
    for (size_t i = 0; i < g->ngroups; i++)
        free_group_contents(&g->groups[i]);
    free(g->groups);
    memset(g, 0, sizeof(*g));
}
