/* Unit tests of units.c: byte counts, ages and counts as the reports print them, at every
 * unit's edges, negative growth included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "units.h"

static void test_bytes(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(units_bytes(b, sizeof(b), 0), "0 B");
    assert_string_equal(units_bytes(b, sizeof(b), 1023), "1023 B");
    assert_string_equal(units_bytes(b, sizeof(b), 1024), "1.0 KiB");
    assert_string_equal(units_bytes(b, sizeof(b), 1536), "1.5 KiB");
    assert_string_equal(units_bytes(b, sizeof(b), 100 * 1024), "100 KiB");
    assert_string_equal(units_bytes(b, sizeof(b), 339755ll * 1496), "485 MiB");
    assert_string_equal(units_bytes(b, sizeof(b), 3ll << 30), "3.0 GiB");
    assert_string_equal(units_bytes(b, sizeof(b), 5ll << 50), "5.0 PiB");
    assert_string_equal(units_bytes(b, sizeof(b), 2000ll << 50), "2000 PiB"); /* no unit past P */
    assert_string_equal(units_bytes(b, sizeof(b), -(3ll << 20)), "-3.0 MiB");
    assert_string_equal(units_bytes(b, sizeof(b), -512), "-512 B");
    assert_string_equal(units_bytes(b, sizeof(b), INT64_MIN), "-8192 PiB");
    assert_string_equal(units_bytes(b, 4, 3ll << 30), "3.0"); /* cut to the buffer */
}

static void test_age(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(units_age(b, sizeof(b), 0), "0.0s");
    assert_string_equal(units_age(b, sizeof(b), 450), "4.5s");
    assert_string_equal(units_age(b, sizeof(b), 5999), "60.0s"); /* 59.99 s, rounded */
    assert_string_equal(units_age(b, sizeof(b), 6000), "1m00s");
    assert_string_equal(units_age(b, sizeof(b), (3 * 3600 + 12 * 60) * 100), "3h12m");
    assert_string_equal(units_age(b, sizeof(b), (86400 + 2 * 3600 + 59) * 100), "1d02h");
}

static void test_count(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(units_count(b, sizeof(b), 0), "0");
    assert_string_equal(units_count(b, sizeof(b), 999), "999");
    assert_string_equal(units_count(b, sizeof(b), 1000), "1,000");
    assert_string_equal(units_count(b, sizeof(b), 339755), "339,755");
    assert_string_equal(units_count(b, sizeof(b), 1234567), "1,234,567");
    assert_string_equal(units_count(b, sizeof(b), UINT64_MAX), "18,446,744,073,709,551,615");
    assert_string_equal(units_count(b, 4, 1234567), "1,2"); /* cut to the buffer, terminated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_age),
        cmocka_unit_test(test_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
