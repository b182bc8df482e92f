/* clock.h — the coarse monotonic clock that stamps allocations, in centiseconds since
 * leaktag started (32 bits: 497 days). A vDSO read, no syscall, no lock. */
#ifndef LT_CLOCK_H
#define LT_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int64_t lt_clock_origin_ns; /* CLOCK_MONOTONIC at start-up */

void lt_clock_init(void);

static inline uint32_t lt_clock_cs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - lt_clock_origin_ns;
    return ns > 0 ? (uint32_t)(ns / 10000000) : 0;
}

static inline int64_t lt_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
