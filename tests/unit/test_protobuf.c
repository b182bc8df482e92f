/* test_protobuf.c — protobuf.c, the wire format writer, byte for byte against the encoding
 * the protobuf documentation gives (protobuf.dev/programming-guides/encoding), every expected
 * byte written out by hand here: varints at each of their ten lengths and both ends of each,
 * int64s as two's complement, field numbers up to 2^29-1 in the tag, length-delimited bytes
 * and nested messages (the guide's Test1/Test2/Test3), packed repeated varints (its f = 6
 * example), and a buffer that grows, resets, and stays silent once failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protobuf.h"

/* The buffer holds exactly the n bytes of want. */
static void assert_bytes(const struct pb *b, const uint8_t *want, size_t n)
{
    assert_false(b->failed);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->buf, want, n);
}

#define ASSERT_BYTES(b, ...)                                                                      \
    do {                                                                                          \
        static const uint8_t want_[] = {__VA_ARGS__};                                             \
        assert_bytes((b), want_, sizeof(want_));                                                  \
    } while (0)

/* Field 1 as a varint: tag 0x08, then the value's 7-bit groups, low first, each but the last
 * with 0x80 set. The smallest and the largest value of each length, 1 to 10 bytes. */
static void test_varints_every_length(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        uint8_t len, bytes[10];
    } cases[] = {
        {0, 1, {0x00}},
        {127, 1, {0x7f}},
        {128, 2, {0x80, 0x01}},
        {300, 2, {0xac, 0x02}}, /* the guide's example */
        {16383, 2, {0xff, 0x7f}},
        {16384, 3, {0x80, 0x80, 0x01}},
        {(1u << 21) - 1, 3, {0xff, 0xff, 0x7f}},
        {1u << 21, 4, {0x80, 0x80, 0x80, 0x01}},
        {(1u << 28) - 1, 4, {0xff, 0xff, 0xff, 0x7f}},
        {1u << 28, 5, {0x80, 0x80, 0x80, 0x80, 0x01}},
        {(1ull << 35) - 1, 5, {0xff, 0xff, 0xff, 0xff, 0x7f}},
        {1ull << 35, 6, {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {(1ull << 42) - 1, 6, {0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
        {1ull << 42, 7, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {(1ull << 49) - 1, 7, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
        {1ull << 49, 8, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {(1ull << 56) - 1, 8, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
        {1ull << 56, 9, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {(1ull << 63) - 1, 9, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
        {1ull << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
        {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
    };
    struct pb b = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pb_reset(&b);
        pb_uint(&b, 1, cases[i].v);
        uint8_t want[11] = {0x08};
        memcpy(want + 1, cases[i].bytes, cases[i].len);
        assert_bytes(&b, want, 1u + cases[i].len);
    }
    /* the guide's "Test1 a = 150": 08 96 01 */
    pb_reset(&b);
    pb_uint(&b, 1, 150);
    ASSERT_BYTES(&b, 0x08, 0x96, 0x01);
    /* int64 (not sint64): a negative value is its two's complement, always ten bytes; the
     * guide's -2 is fe ff ff ff ff ff ff ff ff 01 */
    pb_reset(&b);
    pb_int(&b, 1, -2);
    ASSERT_BYTES(&b, 0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    pb_reset(&b);
    pb_int(&b, 1, INT64_MIN);
    ASSERT_BYTES(&b, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
    pb_free(&b);
}

/* The tag is the varint (field << 3 | wire type): 0 for varints, 2 for length-delimited.
 * Fields 1-15 fit one byte, 16 takes two, 2^29-1 (the largest) five. */
static void test_field_numbers(void **state)
{
    (void)state;
    struct pb b = {0};
    pb_uint(&b, 15, 1);
    ASSERT_BYTES(&b, 0x78, 0x01);
    pb_reset(&b);
    pb_uint(&b, 16, 1);
    ASSERT_BYTES(&b, 0x80, 0x01, 0x01);
    pb_reset(&b);
    pb_uint(&b, 2047, 0); /* 16376 = 0x3ff8: f8 7f; a zero value is written too */
    ASSERT_BYTES(&b, 0xf8, 0x7f, 0x00);
    pb_reset(&b);
    pb_uint(&b, 2048, 0); /* 16384: 80 80 01 */
    ASSERT_BYTES(&b, 0x80, 0x80, 0x01, 0x00);
    pb_reset(&b);
    pb_uint(&b, (1u << 29) - 1, 5); /* 0xfffffff8 */
    ASSERT_BYTES(&b, 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x05);
    pb_reset(&b);
    pb_bytes(&b, (1u << 29) - 1, "x", 1); /* 0xfffffffa */
    ASSERT_BYTES(&b, 0xfa, 0xff, 0xff, 0xff, 0x0f, 0x01, 'x');
    pb_reset(&b);
    pb_bytes(&b, 16, "", 0); /* 0x82 0x01, length 0 */
    ASSERT_BYTES(&b, 0x82, 0x01, 0x00);
    pb_free(&b);
}

/* The guide's Test2 (b = "testing") and Test3 (c = Test1 {a = 150}); a length of two bytes;
 * a message nested two deep, as profile.proto's Location holds Lines. */
static void test_bytes_and_nesting(void **state)
{
    (void)state;
    struct pb b = {0}, inner = {0}, middle = {0};
    pb_bytes(&b, 2, "testing", 7);
    ASSERT_BYTES(&b, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67);

    pb_reset(&b);
    pb_uint(&inner, 1, 150);
    pb_message(&b, 3, &inner);
    ASSERT_BYTES(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);

    /* 200 bytes: length c8 01, then the bytes as they are (NULs included) */
    uint8_t blob[200];
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i * 7);
    pb_reset(&b);
    pb_bytes(&b, 1, blob, sizeof(blob));
    assert_int_equal(b.len, 3 + sizeof(blob));
    assert_int_equal(b.buf[0], 0x0a);
    assert_int_equal(b.buf[1], 0xc8);
    assert_int_equal(b.buf[2], 0x01);
    assert_memory_equal(b.buf + 3, blob, sizeof(blob));

    /* outer { 4: middle { 3: Test1 {150}, 2: "ab" } } */
    pb_reset(&b);
    pb_message(&middle, 3, &inner);
    pb_bytes(&middle, 2, "ab", 2);
    pb_message(&b, 4, &middle);
    ASSERT_BYTES(&b, 0x22, 0x09, 0x1a, 0x03, 0x08, 0x96, 0x01, 0x12, 0x02, 'a', 'b');
    pb_free(&b);
    pb_free(&inner);
    pb_free(&middle);
}

/* Packed: one length-delimited field whose payload is the varints back to back; the
 * length counts bytes, not values. None: nothing at all (an empty packed field is absent). */
static void test_packed(void **state)
{
    (void)state;
    struct pb b = {0};
    static const uint64_t guide[] = {3, 270, 86942}; /* the guide: 32 06 03 8e 02 9e a7 05 */
    pb_packed(&b, 6, guide, 3);
    ASSERT_BYTES(&b, 0x32, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);

    pb_reset(&b);
    pb_packed(&b, 2, guide, 0);
    assert_int_equal(b.len, 0);

    /* 0 (1 byte), 2^63 (10), 16383 (2), UINT64_MAX (10): 23 bytes */
    static const uint64_t wide[] = {0, 1ull << 63, 16383, UINT64_MAX};
    pb_packed(&b, 1, wide, 4);
    ASSERT_BYTES(&b, 0x0a, 23, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
                 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);

    /* 100 values of 128 (two bytes each): a length of 200, itself two bytes */
    uint64_t many[100];
    for (size_t i = 0; i < 100; i++)
        many[i] = 128;
    pb_reset(&b);
    pb_packed(&b, 1, many, 100);
    assert_int_equal(b.len, 3 + 200);
    assert_memory_equal(b.buf, ((const uint8_t[]){0x0a, 0xc8, 0x01, 0x80, 0x01}), 5);
    assert_memory_equal(b.buf + b.len - 2, ((const uint8_t[]){0x80, 0x01}), 2);
    pb_free(&b);
}

/* Far past the first allocation, every byte where it belongs; reset keeps the memory; a
 * failed buffer takes nothing until reset (protobuf.h: the caller checks once). */
static void test_growth_reset_and_failure(void **state)
{
    (void)state;
    struct pb b = {0};
    char text[300];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    for (int k = 0; k < 1000; k++) /* each: 0x0a, ac 02 (300), the text */
        pb_bytes(&b, 1, text, sizeof(text));
    assert_false(b.failed);
    assert_int_equal(b.len, 1000 * 303);
    for (size_t at = 0; at < b.len; at += 303) {
        assert_memory_equal(b.buf + at, ((const uint8_t[]){0x0a, 0xac, 0x02}), 3);
        assert_memory_equal(b.buf + at + 3, text, sizeof(text));
    }
    uint8_t *kept = b.buf;
    size_t cap = b.cap;
    pb_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.buf, kept);
    assert_int_equal(b.cap, cap);
    pb_uint(&b, 1, 150);
    ASSERT_BYTES(&b, 0x08, 0x96, 0x01);

    b.failed = true; /* as after a failed realloc */
    pb_uint(&b, 1, 1);
    pb_bytes(&b, 2, "xy", 2);
    pb_packed(&b, 3, (const uint64_t[]){1, 2}, 2);
    assert_true(b.failed);
    assert_int_equal(b.len, 3);
    pb_reset(&b);
    assert_false(b.failed);
    pb_uint(&b, 2, 1);
    ASSERT_BYTES(&b, 0x10, 0x01);

    pb_free(&b);
    assert_null(b.buf);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_false(b.failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints_every_length),
        cmocka_unit_test(test_field_numbers),
        cmocka_unit_test(test_bytes_and_nesting),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_growth_reset_and_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
