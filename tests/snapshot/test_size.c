/* Unit tests of the one size grammar (snapshot/size.c) that LEAKTAG_* options, leaktag-report
 * and leaktag-scan all read: every unit and spelling, fractions, and every way to be wrong,
 * up to and past 2^64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "size.h"

static uint64_t size_of(const char *text)
{
    uint64_t v = 12345;
    if (!lts_size_parse(text, &v))
        fail_msg("'%s' refused", text);
    return v;
}

static void refused(const char *text)
{
    uint64_t v = 12345;
    if (lts_size_parse(text, &v))
        fail_msg("'%s' read as %llu", text, (unsigned long long)v);
    assert_int_equal(v, 12345); /* untouched */
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(size_of("0"), 0);
    assert_int_equal(size_of("500000"), 500000);
    assert_int_equal(size_of("1496B"), 1496);
    assert_int_equal(size_of("64K"), 64 << 10);
    assert_int_equal(size_of("64k"), 64 << 10);
    assert_int_equal(size_of("64KiB"), 64 << 10);
    assert_int_equal(size_of("64Ki"), 64 << 10); /* as Kubernetes writes it */
    assert_int_equal(size_of("64KB"), 64 << 10);
    assert_int_equal(size_of("64kb"), 64 << 10);
    assert_int_equal(size_of("16M"), 16u << 20);
    assert_int_equal(size_of("16MiB"), 16u << 20);
    assert_int_equal(size_of("3G"), 3ull << 30);
    assert_int_equal(size_of("1T"), 1ull << 40);
    assert_int_equal(size_of("1TiB"), 1ull << 40);
}

static void test_fractions(void **state)
{
    (void)state;
    assert_int_equal(size_of("1.5G"), 3ull << 29);
    assert_int_equal(size_of("1.5GiB"), 3ull << 29);
    assert_int_equal(size_of("0.5K"), 512);
    assert_int_equal(size_of("2.25M"), 9ull << 18);
    assert_int_equal(size_of("1.5"), 1); /* a fraction of a byte is cut off */
    assert_int_equal(size_of("0.001K"), 1);
    assert_int_equal(size_of("0.1K"), 102);
    assert_int_equal(size_of("0.999999999999T"), (1ull << 40) - 1100);
    /* 1/3 of a TiB, to the byte, from its first nine digits */
    assert_int_equal(size_of("0.333333333T"), 366503875558ull);
}

static void test_limits(void **state)
{
    (void)state;
    assert_int_equal(size_of("18446744073709551615"), UINT64_MAX);
    refused("18446744073709551616");
    assert_int_equal(size_of("16777215T"), 16777215ull << 40);
    refused("16777216T");
    /* the largest whole number of TiB and almost one more: still below 2^64 */
    assert_int_equal(size_of("16777215.999999999T"), UINT64_MAX - 1099);
    refused("17179869184G");
}

static void test_refused(void **state)
{
    (void)state;
    refused("");
    refused("-1");
    refused("+1");
    refused(" 1");
    refused("1 ");
    refused("K");
    refused(".5K");
    refused("1.K");
    refused("1.5.2K");
    refused("1e6");
    refused("64X");
    refused("64iB");
    refused("64KiBs");
    refused("nan");
    refused("0x10");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
