/* Unit tests of writer.c, byte by byte: the file header, a section's header (type, CRC-32 of
 * the payload, length) patched in place, LEB128 and zigzag encodings, strings, the same
 * bytes through a 64-byte buffer as through a large one, a zstd section that decompresses
 * to what was written into it, END, and the first -errno kept: a bad descriptor, a buffer
 * too small for the framing, a full disk. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "crc32.h"
#include "format.h"
#include "writer.h"

/* Writes one section of test fields (and END) through a buffer of cap bytes; returns the
 * file's bytes (malloc'd) and their count. */
static uint8_t *write_fields(size_t cap, size_t *size)
{
    int fd = memfd_create("writer", 0);
    assert_true(fd >= 0);
    char *buf = malloc(cap);
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, cap);
    lts_writer_begin(&w, LT_SECTION_META);
    lts_writer_uv(&w, 0);
    lts_writer_uv(&w, 300);          /* ac 02 */
    lts_writer_uv(&w, UINT64_MAX);   /* ff x9, 01 */
    lts_writer_sv(&w, -1);           /* 01 */
    lts_writer_sv(&w, 1);            /* 02 */
    lts_writer_sv(&w, INT64_MIN);    /* ff x9, 01 */
    lts_writer_str(&w, "channelid=4099", 14);
    lts_writer_u8(&w, 0xab);
    for (int i = 0; i < 100; i++) /* long enough to straddle many flushes of a small buffer */
        lts_writer_bytes(&w, "0123456789", 10);
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0);
    free(buf);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t *image = malloc((size_t)end);
    assert_int_equal(pread(fd, image, (size_t)end, 0), end);
    close(fd);
    *size = (size_t)end;
    return image;
}

static void test_bytes_as_documented(void **state)
{
    (void)state;
    size_t size;
    uint8_t *f = write_fields(1 << 16, &size);
    /* header: magic, version 1, flags 0 */
    assert_memory_equal(f, LT_FORMAT_MAGIC, LT_FORMAT_MAGIC_SIZE);
    uint32_t u32;
    memcpy(&u32, f + 8, 4);
    assert_int_equal(u32, LT_FORMAT_VERSION);
    memcpy(&u32, f + 12, 4);
    assert_int_equal(u32, 0);
    /* the section: type, CRC of the payload, length */
    const uint8_t *h = f + LT_FILE_HEADER_SIZE, *p = h + LT_SECTION_HEADER_SIZE;
    static const uint8_t fields[] = {0x00, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0x01, 0x01, 0x02, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 14,   'c',
                                     'h',  'a',  'n',  'n',  'e',  'l',  'i',  'd',  '=',
                                     '4',  '0',  '9',  '9',  0xab};
    uint64_t length;
    memcpy(&u32, h, 4);
    assert_int_equal(u32, LT_SECTION_META);
    memcpy(&length, h + 8, 8);
    assert_int_equal(length, sizeof(fields) + 1000);
    assert_memory_equal(p, fields, sizeof(fields));
    assert_memory_equal(p + sizeof(fields) + 990, "0123456789", 10);
    memcpy(&u32, h + 4, 4);
    assert_int_equal(u32, lts_crc32(0, p, (size_t)length));
    /* END: type 0, empty, last */
    const uint8_t *e = p + length;
    memcpy(&u32, e, 4);
    assert_int_equal(u32, LT_SECTION_END);
    memcpy(&length, e + 8, 8);
    assert_int_equal(length, 0);
    assert_int_equal(e + LT_SECTION_HEADER_SIZE - f, size);
    free(f);
}

static void test_small_buffer_same_bytes(void **state)
{
    (void)state;
    size_t big_size, small_size;
    uint8_t *big = write_fields(1 << 16, &big_size);
    for (size_t cap = 64; cap <= 200; cap += 17) {
        uint8_t *small = write_fields(cap, &small_size);
        assert_int_equal(small_size, big_size);
        assert_memory_equal(small, big, big_size);
        free(small);
    }
    free(big);
}

static void test_zstd_section(void **state)
{
    (void)state;
    int fd = memfd_create("writer", 0);
    char buf[256];
    size_t zcap = ZSTD_CStreamOutSize();
    char *zbuf = malloc(zcap);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, sizeof(buf));
    lts_writer_begin_zstd(&w, LT_SECTION_SAMPLES, cctx, zbuf, zcap);
    char plain[20000];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = "GET /q?channelid=4099 "[i % 22];
    lts_writer_bytes(&w, plain, sizeof(plain));
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0);
    uint8_t image[4096];
    ssize_t n = pread(fd, image, sizeof(image), 0);
    assert_true(n > LT_FILE_HEADER_SIZE + 2 * LT_SECTION_HEADER_SIZE);
    uint64_t length;
    memcpy(&length, image + LT_FILE_HEADER_SIZE + 8, 8);
    assert_true(length < sizeof(plain) / 10); /* it did compress */
    const uint8_t *payload = image + LT_FILE_HEADER_SIZE + LT_SECTION_HEADER_SIZE;
    uint32_t crc;
    memcpy(&crc, image + LT_FILE_HEADER_SIZE + 4, 4);
    assert_int_equal(crc, lts_crc32(0, payload, (size_t)length)); /* of the compressed bytes */
    char back[sizeof(plain) + 1];
    size_t got = ZSTD_decompress(back, sizeof(back), payload, (size_t)length);
    assert_false(ZSTD_isError(got));
    assert_int_equal(got, sizeof(plain));
    assert_memory_equal(back, plain, sizeof(plain));
    ZSTD_freeCCtx(cctx);
    free(zbuf);
    close(fd);
}

static void test_first_error_kept(void **state)
{
    (void)state;
    char buf[256];
    struct lts_writer w;
    lts_writer_init(&w, -1, buf, sizeof(buf));
    lts_writer_begin(&w, LT_SECTION_META);
    lts_writer_uv(&w, 1);
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), -EBADF);
    lts_writer_init(&w, -1, buf, 8); /* a buffer too small for the framing */
    assert_int_equal(lts_writer_finish(&w), -EINVAL);
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full < 0)
        skip();
    lts_writer_init(&w, full, buf, sizeof(buf));
    lts_writer_begin(&w, LT_SECTION_META);
    for (int i = 0; i < 1000; i++)
        lts_writer_str(&w, "a disk with no room", 19);
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), -ENOSPC);
    close(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_as_documented),
        cmocka_unit_test(test_small_buffer_same_bytes),
        cmocka_unit_test(test_zstd_section),
        cmocka_unit_test(test_first_error_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
