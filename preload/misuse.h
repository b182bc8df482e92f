/* misuse.h — where the allocator API was misused: a block released by a function that does
 * not match its allocation (free of a new, delete of a new[]), or a free of a pointer
 * leaktag never saw allocated. Counted per (site, site, kinds); a cold path only. */
#ifndef LT_MISUSE_H
#define LT_MISUSE_H

#include <stdint.h>

#include "format.h" /* enum lt_misuse_type */

#define LT_MISUSE_MAX 1024

struct lt_misuse {
    uint32_t type;
    uint32_t alloc_stack; /* LT_STACK_NONE for unknown frees */
    uint32_t release_stack;
    uint8_t alloc_kind;
    uint8_t release_kind;
    uint64_t count;
};

/* Records one occurrence. Never allocates; sites past LT_MISUSE_MAX are only counted. */
void lt_misuse_note(enum lt_misuse_type type, uint32_t alloc_stack, uint32_t release_stack,
                    unsigned alloc_kind, unsigned release_kind);

/* Copies up to max records; returns how many there are. */
unsigned lt_misuse_list(struct lt_misuse *out, unsigned max);

void lt_misuse_fork_prepare(void);
void lt_misuse_fork_parent(void);
void lt_misuse_fork_child(void);

#endif
