/* Unit tests of crc32.c against the standard's check value and a bitwise reference computed
 * here, whole and continued across every split point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crc32.h"

/* The reflected CRC-32 (polynomial 0xEDB88320) one bit at a time: slow and obviously so. */
static uint32_t reference(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
    }
    return ~crc;
}

static void test_check_value(void **state)
{
    (void)state;
    assert_int_equal(lts_crc32(0, "123456789", 9), 0xcbf43926u); /* the catalogue's check */
    assert_int_equal(lts_crc32(0, "", 0), 0);
    assert_int_equal(lts_crc32(0, "a", 1), 0xe8b7be43u);
}

static void test_against_reference(void **state)
{
    (void)state;
    uint8_t buf[1031]; /* odd length: no alignment luck */
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)((x = x * 1103515245 + 12345) >> 16);
    for (size_t n = 0; n <= sizeof(buf); n += n < 64 ? 1 : 97)
        assert_int_equal(lts_crc32(0, buf, n), reference(buf, n));
    /* continued: any split gives the CRC of the whole */
    uint32_t whole = reference(buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut++)
        assert_int_equal(lts_crc32(lts_crc32(0, buf, cut), buf + cut, sizeof(buf) - cut), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
