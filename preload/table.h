/* table.h — the live-block table: heap address -> size, kind, thread, stack, time.
 * Insert and remove are lock-free from any thread (a block freed by another thread is found
 * in O(1) expected time); shards grow one at a time while the other threads keep working.
 * All memory comes from mmap. */
#ifndef LT_TABLE_H
#define LT_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "threads.h"

#define LT_TABLE_SHARDS 64
#define LT_BLOCK_SIZE_MAX ((1ull << 40) - 1) /* larger sizes are recorded as this */

struct lt_block {
    uint64_t addr;
    uint64_t size;
    uint32_t stack;   /* stack table id */
    uint32_t time_cs; /* allocation time, lt_clock_cs() */
    uint32_t thread;  /* thread registry index */
    uint8_t kind;     /* enum lt_kind */
};

int lt_table_init(void);

/* Returns 0; -ENOMEM when leaktag's own memory ran out, -EINVAL for an address no conforming
 * allocator returns (not 8-aligned, or in page 0): the block is then not tracked. */
int lt_table_insert(struct lt_thread *self, const struct lt_block *b);

/* Removes addr; true with *out filled when it was tracked. */
bool lt_table_remove(struct lt_thread *self, uint64_t addr, struct lt_block *out);

/* Calls visit for every block live during the whole scan, shard by shard. Blocks inserted
 * or removed while the scan runs may or may not be seen. Only one shard is held at a time,
 * and holding it only delays that shard's growth, never an insert or a remove. */
typedef void (*lt_table_visit_fn)(const struct lt_block *b, void *ctx);
void lt_table_scan(struct lt_thread *self, lt_table_visit_fn visit, void *ctx);

/* Frees table generations retired by growth once no thread can still read them.
 * Returns the number still waiting. Never called with a shard held. */
unsigned lt_table_reclaim(struct lt_thread *self, int64_t timeout_ns);

struct lt_table_stats {
    uint64_t slots;      /* capacity of the current generations */
    uint64_t bytes;      /* mapped by the table, retired generations included */
    uint64_t migrations;
};
void lt_table_stats(struct lt_table_stats *out);

/* fork(): no shard may be mid-migration in the child. */
void lt_table_fork_prepare(void);
void lt_table_fork_parent(void);
void lt_table_fork_child(void);

#endif
