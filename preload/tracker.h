/* tracker.h — the core: what happens when a block is allocated or released. The hooks in
 * interpose.c call only this; unit tests link it without LD_PRELOAD.
 * The checks every hook makes first are inline here; the work is in tracker.c. */
#ifndef LT_TRACKER_H
#define LT_TRACKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "kind.h"
#include "options.h"
#include "table.h"
#include "threads.h"

struct lt_tls {
    struct lt_thread *self; /* registry entry, created on the thread's first allocation */
    uint32_t guard;         /* non-zero inside leaktag: nothing is tracked */
    int64_t sample_left;    /* sampled mode: bytes to allocate before the next sampled block */
    uint64_t rng;           /* sampled mode: this thread's random state */
};
extern LT_TLS struct lt_tls lt_tls;

enum lt_state {
    LT_STATE_OFF,
    LT_STATE_STARTING,
    LT_STATE_ON,
    LT_STATE_FAILED,
    LT_STATE_RESTART, /* tracking works; the next hook starts leaktag's thread first */
    LT_STATE_RESTARTING, /* tracking works; one thread is starting leaktag's thread */
};
extern _Atomic int lt_state;

/* Brings the tracker up (idempotent, callable from the first hook). 0 when tracking. */
int lt_tracker_init(void);

/* True when blocks are being tracked (a fork child waiting for its worker included). */
static inline bool lt_tracker_active(void)
{
    int state = atomic_load_explicit(&lt_state, memory_order_acquire);
    return state == LT_STATE_ON || state == LT_STATE_RESTART || state == LT_STATE_RESTARTING;
}

/* Have the next hook (in any thread) call fn, which may create a thread, before tracking
 * that call: from a fork child, or from a signal handler. Async-signal-safe. The hot path
 * pays nothing for it: it already checks the state. */
void lt_tracker_request_restart(void (*fn)(void));

/* Hot path, a few instructions: true when this call is to be tracked, and then the guard is
 * held until lt_hook_end. False inside leaktag (re-entry), before start-up, after a failed
 * start-up: the hook then calls the real allocator only. */
LT_INLINE bool lt_hook_begin(void)
{
    struct lt_tls *t = &lt_tls;
    if (lt_unlikely(t->guard))
        return false;
    if (lt_unlikely(atomic_load_explicit(&lt_state, memory_order_acquire) != LT_STATE_ON) &&
        lt_tracker_init() != 0)
        return false;
    t->guard = 1;
    return true;
}

LT_INLINE void lt_hook_end(void)
{
    lt_tls.guard = 0;
}

/* A block was handed out. `caller` is the hook's return address (frame 0). In sampled mode
 * most blocks stop here, after one subtraction: only a sampled one is recorded. */
/* ra_slot is where the hook's return address (caller) is stored: the key of the per-thread
 * stack cache (interpose.c passes __builtin_frame_address(0) + 1). */
void lt_track_alloc_slow(void *p, size_t size, enum lt_kind kind, const void *caller,
                         const uint64_t *ra_slot);
bool lt_sample_crossed(size_t size);

LT_INLINE void lt_track_alloc(void *p, size_t size, enum lt_kind kind, const void *caller,
                              const uint64_t *ra_slot)
{
    /* Sampled mode: one subtraction decides for nearly every block. */
    if (lt_unlikely(lt_opt.sample) &&
        ((lt_tls.sample_left -= (int64_t)size) > 0 || !lt_sample_crossed(size)))
        return;
    lt_track_alloc_slow(p, size, kind, caller, ra_slot);
}

/* A block is about to be handed back (call before the real free, never after: the address
 * may be reused at once). Counts mismatches and unknown pointers. */
void lt_track_release(void *p, enum lt_release how, const void *caller);

/* realloc: take the old block out while the real realloc runs, then either commit the
 * release or put it back if realloc failed. */
bool lt_track_detach(void *p, struct lt_block *out);
void lt_track_commit_release(const struct lt_block *b, enum lt_release how, const void *caller);
void lt_track_restore(const struct lt_block *b);
void lt_track_unknown_release(enum lt_release how, const void *caller);

/* Undoes lt_track_alloc of this thread's block, as if it had never been recorded. */
void lt_track_forget(void *p);

/* Global figures, summed over all threads. */
struct lt_totals {
    uint64_t allocations, frees, bytes_allocated, bytes_freed;
    uint64_t unknown_frees, mismatches, untracked_blocks, untracked_bytes;
    uint64_t peak_live_bytes;
    uint32_t threads_seen, threads_alive;
};
void lt_tracker_totals(struct lt_totals *out);

#endif
