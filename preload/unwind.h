/* unwind.h — capture the calling thread's stack as return addresses.
 * Backend: libunwind's unw_backtrace (its per-thread cache of frame descriptions). */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

#include <stdint.h>

int lt_unwind_init(void);

/* Fills frames[0..max) starting at the frame that `caller` (the hook's return address)
 * belongs to, so leaktag's own frames never appear. Returns the depth captured. */
unsigned lt_unwind_capture(uint64_t *frames, unsigned max, const void *caller);

/* The same, step by step, also giving where each return address is stored on the stack
 * (slots[i] holds frames[i]); ra_slot is where the hook's own return address (caller) is.
 * Slower than lt_unwind_capture: for filling the stack cache. 0 when the frames are not
 * where they should be (the caller must then use lt_unwind_capture). */
unsigned lt_unwind_capture_slots(uint64_t *frames, uint64_t *slots, unsigned max,
                                 const void *caller, const uint64_t *ra_slot);

/* True for a code address inside libleaktag itself. */
int lt_unwind_is_own(uint64_t ip);

#endif
