/* Unit tests of kind.h: of every allocation kind and every release function, exactly the
 * pairs C and C++ allow match (free for the C family, delete / delete[] and their aligned
 * forms for the matching new), and every other pair is a mismatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kind.h"

static void test_every_pair(void **state)
{
    (void)state;
    unsigned matches = 0;
    for (int k = 0; k < LT_KIND_COUNT; k++)
        for (int r = 0; r < LT_RELEASE_COUNT; r++) {
            bool want;
            switch (k) {
            case LT_KIND_NEW: want = r == LT_RELEASE_DELETE; break;
            case LT_KIND_NEW_ARRAY: want = r == LT_RELEASE_DELETE_ARRAY; break;
            case LT_KIND_NEW_ALIGNED: want = r == LT_RELEASE_DELETE_ALIGNED; break;
            case LT_KIND_NEW_ARRAY_ALIGNED: want = r == LT_RELEASE_DELETE_ARRAY_ALIGNED; break;
            default: want = r == LT_RELEASE_FREE; /* malloc ... pvalloc */
            }
            if (lt_kind_matches((enum lt_kind)k, (enum lt_release)r) != want)
                fail_msg("kind %d, release %d: %s", k, r, want ? "must match" : "must not");
            matches += want;
        }
    assert_int_equal(matches, LT_KIND_COUNT); /* one release per kind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
