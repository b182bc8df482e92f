/* Unit tests of clock.h: ages start at 0 when leaktag starts, count centiseconds of the
 * monotonic clock from there, never go backwards, and an origin in the future (a clock read
 * before start-up's) reads 0, not a huge unsigned age. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

static void test_counts_from_start(void **state)
{
    (void)state;
    int64_t before = lt_clock_ns(CLOCK_MONOTONIC); /* before the origin: bounds ages above */
    lt_clock_init();
    struct timespec nap = {0, 300 * 1000 * 1000};
    nanosleep(&nap, NULL);
    uint32_t cs = lt_clock_cs();
    int64_t slept_cs = (lt_clock_ns(CLOCK_MONOTONIC) - before) / 10000000;
    /* 300 ms is 30 cs; the coarse clock lags the fine one by at most a tick (4 ms at 250 Hz) */
    assert_true(cs >= 29);
    assert_true(cs <= slept_cs + 2);
    uint32_t last = 0;
    for (int i = 0; i < 100000; i++) {
        uint32_t now = lt_clock_cs();
        assert_true(now >= last);
        last = now;
    }
}

static void test_origin_in_the_future(void **state)
{
    (void)state;
    lt_clock_origin_ns = lt_clock_ns(CLOCK_MONOTONIC_COARSE) + 1000000000; /* 1 s ahead */
    assert_int_equal(lt_clock_cs(), 0);
    lt_clock_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_from_start),
        cmocka_unit_test(test_origin_in_the_future),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
