/* arena.c — chunks from malloc; an object bigger than a chunk gets a chunk of its own, put
 * behind the current one so that the current one keeps filling. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#define CHUNK_BYTES ((size_t)1 << 20)

struct lts_arena_chunk {
    struct lts_arena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

void *lts_arena_alloc(struct lts_arena_chunk **arena, size_t n)
{
    if (n > SIZE_MAX - 15)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    struct lts_arena_chunk *c = *arena;
    if (c && c->size - c->used >= n) {
        void *p = (char *)c->data + c->used;
        c->used += n;
        return p;
    }
    size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
    if (size > SIZE_MAX - sizeof(*c))
        return NULL;
    struct lts_arena_chunk *fresh = malloc(sizeof(*fresh) + size);
    if (!fresh)
        return NULL;
    fresh->size = size;
    fresh->used = n;
    if (c && n > CHUNK_BYTES) {
        fresh->next = c->next;
        c->next = fresh;
    } else {
        fresh->next = c;
        *arena = fresh;
    }
    return fresh->data;
}

void lts_arena_merge(struct lts_arena_chunk **into, struct lts_arena_chunk **from)
{
    struct lts_arena_chunk *tail = *from;
    if (!tail)
        return;
    while (tail->next)
        tail = tail->next;
    /* `from` goes behind the current chunk of `into`, which keeps filling. */
    if (*into) {
        tail->next = (*into)->next;
        (*into)->next = *from;
    } else {
        *into = *from;
    }
    *from = NULL;
}

void lts_arena_free(struct lts_arena_chunk *arena)
{
    for (struct lts_arena_chunk *next; arena; arena = next) {
        next = arena->next;
        free(arena);
    }
}
