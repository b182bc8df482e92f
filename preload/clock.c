/* clock.c — fixes the origin of leaktag's centisecond clock at start-up. */
#include "clock.h"

int64_t lt_clock_origin_ns;

void lt_clock_init(void)
{
    lt_clock_origin_ns = lt_clock_ns(CLOCK_MONOTONIC_COARSE);
}
