/* Unit tests of samples.c, the census walk: every sample of a zstd frame back in order with
 * its bytes (large ones included, which grow the window), and one clear failure for a frame
 * cut short, a frame that is not zstd, a record cut by the frame's end, a frame that
 * decompresses far past its size (a bomb), and a caller that stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>

#include "cursor.h"
#include "format.h"
#include "record.h"
#include "samples.h"
#include "writer.h"

#define NSAMPLES 500

static uint8_t big[60000];

/* Sample i: at 0x10000 + 64 i, stack i % 7, i bytes of "channelid=..." (every 100th: 60000). */
static size_t sample_len(unsigned i)
{
    return i % 100 == 99 ? sizeof(big) : i;
}

static uint8_t *census(size_t *length)
{
    int fd = memfd_create("census", 0);
    char buf[4096];
    size_t zcap = ZSTD_CStreamOutSize();
    char *zbuf = malloc(zcap);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, sizeof(buf));
    lts_writer_begin_zstd(&w, LT_SECTION_SAMPLES, cctx, zbuf, zcap);
    for (unsigned i = 0; i < NSAMPLES; i++)
        lts_put_sample(&w, &(struct lts_sample){0x10000 + 64ull * i, i % 7,
                                                (uint32_t)sample_len(i), big});
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0);
    ZSTD_freeCCtx(cctx);
    free(zbuf);
    uint64_t n;
    assert_int_equal(pread(fd, &n, 8, LT_FILE_HEADER_SIZE + 8), 8);
    uint8_t *payload = malloc(n);
    assert_int_equal(pread(fd, payload, n, LT_FILE_HEADER_SIZE + LT_SECTION_HEADER_SIZE), n);
    close(fd);
    *length = n;
    return payload;
}

struct seen {
    unsigned n, stop_after;
};

static bool check_sample(void *ctx, const struct lts_sample *sm, const uint8_t *bytes)
{
    struct seen *s = ctx;
    unsigned i = s->n++;
    assert_int_equal(sm->addr, 0x10000 + 64ull * i);
    assert_int_equal(sm->stack, i % 7);
    assert_int_equal(sm->len, sample_len(i));
    assert_memory_equal(bytes, big, sm->len);
    return s->n != s->stop_after;
}

static struct lts_error err;

static bool walk(const uint8_t *payload, size_t length, struct seen *s)
{
    memset(&err, 0, sizeof(err));
    struct lts_cursor c = {payload, payload + length, payload, "SAMPLES", &err, false, NULL,
                           NULL};
    return lts_census_walk(payload, length, &c, check_sample, s);
}

static void test_every_sample_back(void **state)
{
    (void)state;
    size_t length;
    uint8_t *payload = census(&length);
    struct seen s = {0, 0};
    assert_true(walk(payload, length, &s));
    assert_int_equal(s.n, NSAMPLES);
    s = (struct seen){0, 10}; /* the caller stops: the walk stops there */
    assert_false(walk(payload, length, &s));
    assert_int_equal(s.n, 10);
    free(payload);
}

static void test_damaged_frames(void **state)
{
    (void)state;
    size_t length;
    uint8_t *payload = census(&length);
    struct seen s = {0, 0};
    assert_false(walk(payload, length / 2, &s));
    assert_string_equal(err.message, "SAMPLES section ends inside its zstd frame");
    assert_true(s.n < NSAMPLES);
    s.n = 0;
    assert_false(walk((const uint8_t *)"not a zstd frame at all", 23, &s));
    assert_string_equal(err.message, "SAMPLES section does not decompress");
    assert_int_equal(s.n, 0);
    free(payload);

    /* one whole record and half of the next, as one valid frame */
    uint8_t plain[64], packed[256];
    int fd = memfd_create("plain", 0);
    char buf[256];
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, sizeof(buf));
    lts_writer_begin(&w, LT_SECTION_SAMPLES);
    lts_put_sample(&w, &(struct lts_sample){0x10000, 0, 0, big}); /* samples 0 and 1 */
    lts_put_sample(&w, &(struct lts_sample){0x10040, 1, 1, big});
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0);
    uint64_t n;
    assert_int_equal(pread(fd, &n, 8, LT_FILE_HEADER_SIZE + 8), 8);
    assert_true(n > 4 && n <= sizeof(plain));
    assert_int_equal(pread(fd, plain, n, LT_FILE_HEADER_SIZE + LT_SECTION_HEADER_SIZE), n);
    close(fd);
    size_t cut = (size_t)n - 1; /* the second record's last byte missing */
    size_t z = ZSTD_compress(packed, sizeof(packed), plain, cut, 1);
    assert_false(ZSTD_isError(z));
    s = (struct seen){0, 0};
    assert_false(walk(packed, z, &s));
    assert_string_equal(err.message, "SAMPLES section ends inside a record");
    assert_int_equal(s.n, 1);
}

static bool counted(void *ctx, const struct lts_sample *sm, const uint8_t *bytes)
{
    (void)sm, (void)bytes;
    ++*(unsigned *)ctx;
    return true;
}

static void test_bomb(void **state)
{
    (void)state;
    /* 64 MiB of zeros (valid empty samples at address 0) in a few kilobytes */
    size_t plain = 64u << 20;
    uint8_t *zeros = calloc(1, plain);
    size_t cap = ZSTD_compressBound(plain);
    uint8_t *packed = malloc(cap);
    size_t z = ZSTD_compress(packed, cap, zeros, plain, 3);
    assert_false(ZSTD_isError(z));
    assert_true(1024 * z + (1u << 20) < plain);
    memset(&err, 0, sizeof(err));
    struct lts_cursor c = {packed, packed + z, packed, "SAMPLES", &err, false, NULL, NULL};
    unsigned count = 0;
    assert_false(lts_census_walk(packed, z, &c, counted, &count));
    assert_string_equal(err.message, "SAMPLES section decompresses to more than this reader takes");
    free(zeros);
    free(packed);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)"GET /q?channelid=4099&seq="[i % 26];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sample_back),
        cmocka_unit_test(test_damaged_frames),
        cmocka_unit_test(test_bomb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
