/* frames.c — folding and naming every stack's frames once per snapshot.
 *
 * --fold is applied here and nowhere else. A frame's shown name is its function, or
 * module+0xoffset (0xaddress outside every module); the frames point into the symbolizer's
 * cache. */
#include "frames.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct frames {
    struct stack_frames *stacks;
    struct symbolizer *sym;
    uint64_t when; /* of the stack being built */
    const struct lts_snapshot *s;
    struct lts_arena_chunk *arena; /* frame arrays and fallback names */
};

static bool folded(const struct content_regex *fold, const char *function)
{
    return fold && function && content_regex_test(fold, function, strlen(function));
}

/* The shown name: the function (whole: C++ names run to tens of kilobytes), or where it is. */
static const char *name_of(struct frames *f, const struct sym_frame *s)
{
    if (s->function)
        return s->function;
    char buf[512];
    int n = s->module ? snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, s->module, s->offset)
                      : snprintf(buf, sizeof(buf), "0x%" PRIx64, s->address);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    char *copy = lts_arena_alloc(&f->arena, len + 1);
    if (copy) {
        memcpy(copy, buf, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The frames of one return address; false when the symbolizer ran out of memory. */
static bool resolve(struct frames *f, uint64_t address, const struct sym_frame **chain, size_t *n)
{
    return (*n = sym_resolve_at(f->sym, address, f->when, chain)) != 0;
}

static int build_stack(struct frames *f, const struct content_regex *fold, uint32_t id)
{
    const struct lts_stack *st = &f->s->stacks[id];
    struct stack_frames *out = &f->stacks[id];
    if (!st->depth) {
        out->site.name = "(no stack)";
        return 0;
    }
    const struct sym_frame *chain;
    size_t n;
    if (!resolve(f, st->frames[0], &chain, &n))
        return -1;
    out->site.sym = &chain[0];
    if (!(out->site.name = name_of(f, &chain[0])))
        return -1;
    /* Whole frames whose real (outermost) function is folded; never the last one. */
    uint32_t skip = 0;
    size_t total = 0;
    for (; skip + 1 < st->depth; skip++) {
        if (!resolve(f, st->frames[skip], &chain, &n))
            return -1;
        if (!folded(fold, chain[n - 1].function))
            break;
    }
    for (uint32_t i = skip; i < st->depth; total += n, i++)
        if (!resolve(f, st->frames[i], &chain, &n))
            return -1;
    struct frame *frames = lts_arena_alloc(&f->arena, total * sizeof(*frames) + 1);
    if (!frames)
        return -1;
    uint32_t count = 0;
    for (uint32_t i = skip; i < st->depth; i++) {
        resolve(f, st->frames[i], &chain, &n); /* cached by now */
        size_t k = 0;
        /* In the first frame shown, inlined wrappers that --fold names go too. */
        while (i == skip && k + 1 < n && folded(fold, chain[k].function))
            k++;
        for (; k < n; k++) {
            frames[count].sym = &chain[k];
            if (!(frames[count].name = name_of(f, &chain[k])))
                return -1;
            count++;
        }
    }
    out->frames = frames;
    out->n = count;
    out->skipped = skip;
    return 0;
}

int frames_build(const struct lts_snapshot *s, struct symbolizer *sym,
                 const struct content_regex *fold, const uint64_t *when, struct frames **out,
                 struct lts_error *err)
{
    *out = NULL;
    struct frames *f = calloc(1, sizeof(*f));
    if (!f || !(f->stacks = calloc(s->nstacks + 1, sizeof(*f->stacks)))) {
        free(f);
        return lts_fail(err, "out of memory");
    }
    f->s = s;
    f->sym = sym;
    for (uint32_t id = 0; id < s->nstacks; id++) {
        f->when = when[id];
        if (build_stack(f, fold, id) != 0) {
            frames_free(f);
            return lts_fail(err, "out of memory naming the frames of %zu stacks", s->nstacks);
        }
    }
    *out = f;
    return 0;
}

const struct stack_frames *frames_of(const struct frames *f, uint32_t stack)
{
    return &f->stacks[stack];
}

const uint64_t *frames_recorded(const struct frames *f, const struct lts_snapshot *s,
                                uint32_t stack, uint32_t *depth)
{
    const struct lts_stack *st = &s->stacks[stack];
    uint32_t skip = f->stacks[stack].skipped;
    *depth = st->depth - skip;
    return st->frames + skip;
}

const char *frames_function_at(struct symbolizer *sym, uint64_t address)
{
    const struct sym_frame *chain;
    return sym_resolve(sym, address, &chain) ? chain[0].function : NULL;
}

void frames_free(struct frames *f)
{
    if (!f)
        return;
    lts_arena_free(f->arena);
    free(f->stacks);
    free(f);
}
