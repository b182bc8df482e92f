/* mem.h — memory for leaktag's own structures, straight from mmap.
 * Nothing here goes through malloc, so the tracker never tracks (or recurses into) itself.
 *
 * When a mapping would pass LEAKTAG_MAX_MEMORY (or the kernel refuses one), the block that
 * needed it is not tracked: untracked_blocks counts it, one line is printed, once, and the
 * host program never fails because of leaktag. Once a block went untracked, frees of unknown
 * addresses are still counted but no longer recorded as misuse (tracker.c). Snapshot buffers
 * (lt_mem_map_scratch) are outside the cap: a snapshot is still possible when the tables are
 * full; so are start-up's fixed structures (about 1.7 MiB), so a cap below them means "track
 * what fits", not "cannot start". The in-handler snapshot's stack (512 KiB, a guard page
 * below) is address space only, not counted. */
#ifndef LT_MEM_H
#define LT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zeroed, page-rounded anonymous memory for leaktag's lasting structures, or NULL when the
 * kernel refuses or LEAKTAG_MAX_MEMORY would be passed (one line says so, once). */
void *lt_mem_map(size_t bytes);
/* The same for short-lived buffers (a snapshot's): not held to LEAKTAG_MAX_MEMORY, so that a
 * capped tracker can still write snapshots. Counted while mapped. */
void *lt_mem_map_scratch(size_t bytes);
void lt_mem_unmap(void *p, size_t bytes);

/* A stack for leaktag's own work (a guard page below it), never unmapped. Returns its top,
 * or NULL. */
void *lt_mem_map_stack(size_t bytes);

/* Start-up begins (true) or is over (false): what is mapped in between is counted but not
 * held to LEAKTAG_MAX_MEMORY. */
void lt_mem_starting(bool on);

/* Bytes leaktag currently holds in mappings of its own (tables, stacks, registry). */
uint64_t lt_mem_in_use(void);

/* Every mapping made here, for a reachability scan to leave out of its roots (leaktag's
 * tables hold the address of every block). Calls visit for each [lo, hi); returns how many
 * mappings could not be listed (the list is full): a scan that includes them as roots sees
 * blocks as more reachable than they are, never less. */
uint64_t lt_mem_each_mapping(void (*visit)(uint64_t lo, uint64_t hi, void *ctx), void *ctx);

#endif
