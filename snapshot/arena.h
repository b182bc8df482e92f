/* arena.h — bump allocation for data that lives as long as its owner (a snapshot, a
 * symbolizer): no per-object free, one walk to release everything. */
#ifndef LTS_ARENA_H
#define LTS_ARENA_H

#include <stddef.h>

struct lts_arena_chunk;

/* n bytes, 16-aligned, from *arena (NULL starts an empty one). NULL: out of memory. */
void *lts_arena_alloc(struct lts_arena_chunk **arena, size_t n);

/* Moves every chunk of `from` into *into (from is empty afterwards). */
void lts_arena_merge(struct lts_arena_chunk **into, struct lts_arena_chunk **from);

void lts_arena_free(struct lts_arena_chunk *arena);

#endif
