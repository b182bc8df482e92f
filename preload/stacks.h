/* stacks.h — the stack table: each distinct call stack stored once, named by a small id.
 * Lookups of known stacks are lock-free; only a new stack takes the insert lock. */
#ifndef LT_STACKS_H
#define LT_STACKS_H

#include <stdint.h>

#define LT_STACK_NONE 0u /* id of the empty stack: nothing could be captured */

int lt_stacks_init(void);

/* The hash that identifies a stack; never 0. Callers that cache ids key them by it. */
static inline uint64_t lt_stacks_hash(const uint64_t *f, unsigned n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (unsigned i = 0; i < n; i++) {
        h ^= f[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h | 1;
}

/* Id of this sequence of return addresses (frame 0 = the allocation's caller), adding it
 * if new. Returns LT_STACK_NONE if leaktag's memory for stacks ran out. */
uint32_t lt_stacks_intern(const uint64_t *frames, unsigned depth);
uint32_t lt_stacks_intern_hashed(const uint64_t *frames, unsigned depth, uint64_t hash);

/* Number of ids handed out (ids are 0 .. count-1). */
uint32_t lt_stacks_count(void);

/* The frames of a stack; never freed, never changed. NULL for an unknown id. */
const uint64_t *lt_stacks_get(uint32_t id, unsigned *depth);

void lt_stacks_fork_prepare(void);
void lt_stacks_fork_parent(void);
void lt_stacks_fork_child(void);

#endif
