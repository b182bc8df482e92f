/* Unit tests of error.c: lts_fail formats the message, clears a previous offset (a failure
 * not about the file's content has none), returns -1 for `return lts_fail(...)`, and cuts a
 * long message to the buffer, terminated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

static void test_fail(void **state)
{
    (void)state;
    struct lts_error err = {.offset = 1234, .has_offset = 1};
    assert_int_equal(lts_fail(&err, "%s: %d threads, %s", "core.42", 91, "EAGAIN"), -1);
    assert_string_equal(err.message, "core.42: 91 threads, EAGAIN");
    assert_int_equal(err.has_offset, 0);

    char long_name[600];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(lts_fail(&err, "%s: not ELF", long_name), -1);
    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
    assert_int_equal(err.message[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
