/* tracker.h — the core: what happens when a block is allocated or released. The wrappers in
 * interpose.c call only this (and the real functions of backend.h); unit tests link it
 * without LD_PRELOAD. The checks every hook makes first are inline here, and so are the
 * release and operator new paths the many wrappers share; the work is in tracker.c.
 *
 * The hook path. lt_hook_begin is a hook's first step: with the thread's guard set (leaktag's
 * own work: libunwind, dlsym, start-up; or a signal handler that interrupted a hook) the real
 * function runs and nothing is tracked; otherwise it sets the guard and notes the hook's
 * frame. A guard found set by a hook entered at or above the frame that set it, on the
 * thread's own stack and off any alternate signal stack, was abandoned by a longjmp out of a
 * signal handler: it is released (and the table's critical section with it) and counted
 * (guards_recovered), so the thread is tracked again. Start-up (the first hook, or the
 * constructor) resolves the real allocator, then checks that malloc resolves to leaktag's own:
 * a program that defines it, or an allocator preloaded ahead, gets one line and a shim that
 * does nothing more (nothing it could track would be right). Until start-up is done,
 * allocations come from backend.c's 256 KiB static scratch arena (dlsym itself allocates);
 * frees of scratch memory are ignored, and realloc copies a scratch block out. When the real
 * allocator succeeds, lt_track_alloc captures the stack, interns it, stamps the time and
 * records the block; errno is left as the real call set it (the slow paths that could change
 * it save and restore it). A release takes the record out before the real free: afterwards the
 * address may already belong to another thread's new block. A record whose allocation kind
 * does not match the release function (free of a new, delete of a new[]) counts a mismatch, an
 * address not recorded an unknown free; both are kept with their stacks in misuse.c and never
 * "fixed". A failing operator new calls the next operator new in the chain (libstdc++'s)
 * without the guard, so the new_handler runs and std::bad_alloc is thrown exactly as without
 * leaktag. */
#ifndef LT_TRACKER_H
#define LT_TRACKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "compiler.h"
#include "kind.h"
#include "options.h"
#include "table.h"
#include "threads.h"

enum lt_state {
    LT_STATE_OFF,
    LT_STATE_STARTING,
    LT_STATE_ON,
    LT_STATE_FAILED,
    LT_STATE_RESTART,    /* tracking works; the next hook starts leaktag's thread first */
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

/* The guard is set, and yet this hook is entered from the frame of the function that set it,
 * or from above: that function cannot still be running on this stack, so a signal handler
 * longjmp'd out of it. Then the guard (and the table's critical section) are released,
 * counted, and this call is tracked. Out of line: re-entry is rare. */
bool lt_guard_abandoned(uintptr_t frame);
uint64_t lt_guards_recovered(void);

/* Hot path, a few instructions: true when this call is to be tracked, and then the guard is
 * held until lt_hook_end. False inside leaktag (re-entry), before start-up, after a failed
 * start-up: the hook then calls the real allocator only. */
LT_INLINE bool lt_hook_begin(void)
{
    uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
    if (lt_inside() && !lt_guard_abandoned(frame))
        return false;
    if (lt_unlikely(atomic_load_explicit(&lt_state, memory_order_acquire) != LT_STATE_ON) &&
        lt_tracker_init() != 0)
        return false;
    lt_tls.guard = 1;
    lt_tls.guard_frame = frame;
    return true;
}

LT_INLINE void lt_hook_end(void)
{
    lt_leave();
}

/* For the wrappers of functions that do not allocate (thread creation, names): is this the
 * application's call, with tracking on? */
LT_INLINE bool lt_hook_applies(void)
{
    return atomic_load_explicit(&lt_state, memory_order_acquire) == LT_STATE_ON && !lt_inside();
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

/* ---- what several wrappers share --------------------------------------------------------- */

/* Sampled mode's shortcuts, before any guard: an allocation that does not reach the thread's
 * sampling point, and a free of a block the filter says was never recorded, need nothing of
 * leaktag but the real call. (Inside leaktag or before start-up they take the full path,
 * which sorts those cases out.) */
LT_INLINE bool lt_sampled_skip_alloc(size_t size)
{
    if (lt_likely(!lt_opt.sample) || lt_inside() || lt_tls.sample_left <= (int64_t)size ||
        atomic_load_explicit(&lt_state, memory_order_relaxed) != LT_STATE_ON)
        return false;
    lt_tls.sample_left -= (int64_t)size;
    return true;
}

LT_INLINE bool lt_sampled_skip_release(void *p)
{
    return lt_table_filter_on && !lt_table_may_contain((uintptr_t)p) && !lt_scratch_owns(p);
}

/* free and every operator delete. The record leaves the table before the real free:
 * afterwards the address may already be another thread's new block. (In sampled mode,
 * blocks that were never recorded skip the table: one filter load.) */
LT_INLINE void lt_hook_release(void *p, enum lt_release how, const void *caller)
{
    if (lt_sampled_skip_release(p)) {
        lt_real.free(p);
        return;
    }
    if (lt_unlikely(!p || lt_scratch_owns(p)))
        return;
    if (!lt_hook_begin()) {
        lt_untracked_free(p);
        return;
    }
    if (lt_table_may_contain((uintptr_t)p))
        lt_track_release(p, how, caller);
    lt_real.free(p);
    lt_hook_end();
}

/* realloc (m = 1) and reallocarray, between lt_hook_begin and lt_hook_end: the old block
 * leaves the table while the real call runs and comes back if it fails, so that a concurrent
 * malloc that reuses the address cannot collide. */
void *lt_track_resize(void *p, size_t n, size_t m, enum lt_kind kind, const void *caller,
                      const uint64_t *ra_slot);

/* The real allocator refused an operator new: the next operator new in the chain
 * (libstdc++'s, by symbol version) does what the standard wants — the new_handler, a retry,
 * std::bad_alloc, or NULL for nothrow. In a tracked call it runs without the guard (a throw
 * must not leave it set), so its own malloc is recorded; that record is taken back, since
 * the caller records the block with its C++ kind. */
void *lt_new_fallback(const char *next_name, size_t size, size_t align, bool nothrow, bool tracked);

/* Every operator new: align 0 for the plain ones. */
LT_INLINE void *lt_hook_new(size_t size, size_t align, enum lt_kind kind, bool nothrow,
                            const char *next_name, const void *caller, const uint64_t *ra_slot)
{
    if (lt_sampled_skip_alloc(size)) {
        void *p = align ? lt_real.memalign(align, size) : lt_real.malloc(size ? size : 1);
        if (lt_likely(p != NULL))
            return p;
    }
    if (!lt_hook_begin()) {
        void *p = align ? lt_untracked_memalign(align, size) : lt_untracked_malloc(size ? size : 1);
        return lt_likely(p != NULL) ? p : lt_new_fallback(next_name, size, align, nothrow, false);
    }
    void *p = align ? lt_real.memalign(align, size) : lt_real.malloc(size ? size : 1);
    if (lt_unlikely(p == NULL))
        p = lt_new_fallback(next_name, size, align, nothrow, true);
    if (lt_likely(p != NULL))
        lt_track_alloc(p, size, kind, caller, ra_slot);
    lt_hook_end();
    return p;
}

/* Global figures, summed over all threads. */
struct lt_totals {
    uint64_t allocations, frees, bytes_allocated, bytes_freed;
    uint64_t unknown_frees, mismatches, untracked_blocks, untracked_bytes;
    uint64_t peak_live_bytes;
    uint32_t threads_seen, threads_alive;
};
void lt_tracker_totals(struct lt_totals *out);

#endif
