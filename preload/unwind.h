/* unwind.h — capture the calling thread's stack as return addresses: leaktag's own walker over
 * the modules' call-frame information (cfi.h), libunwind for the stacks it cannot follow.
 * stack_lo/stack_hi bound the thread's own stack (read directly); memory outside it is read
 * without faulting. */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"

int lt_unwind_init(void);

/* Fills frames[0..max) starting at the frame that `caller` (the hook's return address)
 * belongs to, so leaktag's own frames never appear. Returns the depth captured. */
unsigned lt_unwind_capture(uint64_t *frames, unsigned max, const void *caller, uint64_t stack_lo,
                           uint64_t stack_hi);

/* A thread's last walk, outermost frame first, so that the next one can stop where the two
 * meet: recursion and call trees share their outer frames, and a frame whose slot holds the
 * same return address at the same place continues as before if every return address above
 * it is still in its slot (the stack cache's test). Only its owner thread uses it. */
struct lt_unwind_memo {
    uint32_t n;       /* frames held */
    bool complete;    /* ra[0] is the outermost frame */
    uint64_t spliced; /* walks that ended in the memo (statistics) */
    uint64_t ra[LT_MAX_DEPTH], slot[LT_MAX_DEPTH];
};

/* The same, step by step, also giving where each return address is stored on the stack
 * (slots[i] holds frames[i]); ra_slot is where the hook's own return address (caller) is.
 * For filling the stack cache. With a memo, the walk ends where it meets the memo's frames
 * and takes the rest from there (validated), and the memo becomes this walk. 0 when a frame
 * cannot be followed (the caller must then use lt_unwind_capture). */
unsigned lt_unwind_capture_slots(uint64_t *frames, uint64_t *slots, unsigned max,
                                 const void *caller, const uint64_t *ra_slot, uint64_t stack_lo,
                                 uint64_t stack_hi, struct lt_unwind_memo *memo);

/* How far above the slot of return_address (frame N's) frame N+1's return address lies,
 * when the code fixes it (the frame's CFA is SP + a constant); 0 otherwise. For the stack
 * cache (lt_stackcache_frame_size_fn). */
uint32_t lt_unwind_frame_size(uint64_t return_address);

/* Captures libunwind made because the walker could not follow a frame. */
uint64_t lt_unwind_fallbacks(void);

/* True for a code address inside libleaktag itself. */
int lt_unwind_is_own(uint64_t ip);

#endif
