/* unwind.h — capture the calling thread's stack as return addresses.
 * Backend: libunwind's unw_backtrace (its per-thread cache of frame descriptions). */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

#include <stdint.h>

int lt_unwind_init(void);

/* Fills frames[0..max) starting at the frame that `caller` (the hook's return address)
 * belongs to, so leaktag's own frames never appear. Returns the depth captured. */
unsigned lt_unwind_capture(uint64_t *frames, unsigned max, const void *caller);

/* True for a code address inside libleaktag itself. */
int lt_unwind_is_own(uint64_t ip);

#endif
