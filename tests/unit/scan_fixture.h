/* scan_fixture.h — a leaktag-scan target made in memory, for the scan modules' unit tests
 * (test_mallheap.c, test_tcb.c, test_target.c): mappings at addresses the test chooses, each
 * backed by a zeroed buffer the test fills (or by nothing: a guard, a page a core did not
 * keep), read through target.h's read callback as a live process's or a core's memory is.
 * A read runs on across adjacent backed mappings and stops where the backing does. */
#ifndef SCAN_FIXTURE_H
#define SCAN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

/* An empty target of that pointer size (4 or 8), freed by target_close. */
struct target *fixture_target(unsigned pointer_bytes);

/* Adds the mapping [start, start + size); backed: zeroed bytes behind it, returned (NULL when
 * not backed). path NULL: anonymous. Call fixture_sort once all are added. */
uint8_t *fixture_map(struct target *t, uint64_t start, uint64_t size, const char *perms,
                     const char *path, enum target_map_kind kind, bool backed);
/* The maps in address order, as the back ends leave them. */
void fixture_sort(struct target *t);

/* Host memory behind the target's addr (which must be backed). */
uint8_t *fixture_at(struct target *t, uint64_t addr);
/* A word of the target's pointer size at addr, written and read. */
void fixture_put(struct target *t, uint64_t addr, uint64_t value);
uint64_t fixture_get(struct target *t, uint64_t addr);

/* Adds a thread (no name, no stack yet: target_place_stacks finds it from sp). */
struct target_thread *fixture_thread(struct target *t, int tid, uint64_t sp);

/* How many reads the back end served so far. */
size_t fixture_reads(const struct target *t);

/* ---- glibc's heap, laid out in such a target (test_mallheap.c, test_reachability.c) ------- */

/* glibc 2.36's malloc_state, x86-64, as malloc/malloc.c declares it: the tests' offsets come
 * from this declaration, never from mallheap.c's own table. */
struct glibc_malloc_state {
    int mutex, flags, have_fastchunks;
    uint64_t fastbins[10]; /* NFASTBINS: fastbin_index(request2size(80 * 8 / 4)) + 1 */
    uint64_t top, last_remainder;
    uint64_t bins[128 * 2 - 2];
    unsigned binmap[4];
    uint64_t next, next_free, attached_threads, system_mem, max_system_mem;
};
_Static_assert(sizeof(struct glibc_malloc_state) == 2200, "malloc_state of glibc 2.36");
#define GLIBC_ST(field) offsetof(struct glibc_malloc_state, field)

/* Lays a chunk of size bytes (flags or'ed in) at *p, and moves *p past it; its usable bytes
 * filled with `fill`: size - 8 of them, the next chunk's prev_size word being the last (in
 * use, it is ours). Returns the chunk's address. */
uint64_t fixture_chunk(struct target *t, uint64_t *p, uint64_t size, unsigned flags, uint8_t fill);
/* A malloc_state at a as malloc_init_state leaves it (each bin empty, pointing at itself),
 * with its top chunk, next arena and system memory. */
void fixture_arena(struct target *t, uint64_t a, uint64_t next, uint64_t top, uint64_t system_mem);

#endif
