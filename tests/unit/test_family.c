/* Unit tests of family.c: thread names as families, so that 91 "router-N" threads are one
 * line (the article's third case) and six "handler" threads another (its second). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "family.h"

static const char *family(const char *name)
{
    static char out[40];
    family_of(name, out, sizeof(out));
    return out;
}

static void test_families(void **state)
{
    (void)state;
    assert_string_equal(family("router-12"), "router-*");
    assert_string_equal(family("router-7"), "router-*");
    assert_string_equal(family("handler3"), "handler*");
    assert_string_equal(family("handler"), "handler"); /* no number: kept */
    assert_string_equal(family("spp_worker"), "spp_worker");
    assert_string_equal(family("1234"), "1234"); /* only a number: kept */
    assert_string_equal(family(""), "(unnamed)");
    assert_string_equal(family("pool-2-thread-15"), "pool-2-thread-*"); /* the trailing one only */
    assert_string_equal(family("h2o"), "h2o");
}

static void test_cut_to_the_buffer(void **state)
{
    (void)state;
    char out[6];
    family_of("abcdefgh-1", out, sizeof(out));
    assert_string_equal(out, "abcde");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_cut_to_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
