/* The snapshot reader on real files and on every way they can be broken: each prefix of a
 * valid snapshot, single-byte corruptions everywhere, a future version, wrong magic, bytes
 * after END. Every failure must give a message and an offset inside the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "crc32.h"
#include "format.h"
#include "reader.h"
#include "samples.h"

static const char *corpus_dir;
static uint8_t *image;
static size_t image_size;

static uint8_t *read_corpus(const char *name, size_t *size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(*size);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

static int load(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/threads.lts", corpus_dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    image_size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    image = malloc(image_size);
    assert_int_equal(fread(image, 1, image_size, f), image_size);
    fclose(f);
    return 0;
}

static int unload(void **state)
{
    (void)state;
    free(image);
    return 0;
}

static void valid_file_parses(void **state)
{
    (void)state;
    struct lts_snapshot *s;
    struct lts_error e;
    assert_int_equal(lts_parse(image, image_size, &s, &e), 0);
    assert_true(s->nblocks >= 25);
    assert_true(s->nstacks >= 2 && s->nthreads >= 1 && s->nmodules >= 3 && s->nmaps >= 5);
    assert_string_equal(s->reason, "seed");
    assert_int_equal(s->nblocks, lts_counter(s, "live_blocks", 0));
    lts_close(s);
}

static void every_prefix_fails_cleanly(void **state)
{
    (void)state;
    for (size_t n = 0; n < image_size; n++) {
        struct lts_snapshot *s;
        struct lts_error e;
        if (lts_parse(image, n, &s, &e) == 0)
            fail_msg("a %zu-byte prefix of a %zu-byte snapshot parsed", n, image_size);
        assert_true(e.message[0] != '\0');
        assert_true(e.has_offset);
        assert_true(e.offset <= n);
    }
}

static void every_byte_flip_fails_or_parses(void **state)
{
    (void)state;
    uint8_t *copy = malloc(image_size);
    size_t failed = 0;
    for (size_t i = 0; i < image_size; i++) {
        memcpy(copy, image, image_size);
        copy[i] ^= 0x41;
        struct lts_snapshot *s;
        struct lts_error e;
        if (lts_parse(copy, image_size, &s, &e) == 0) {
            lts_close(s); /* only bytes outside the checksums (section lengths' unused bits) */
        } else {
            failed++;
            assert_true(e.message[0] && e.offset <= image_size);
        }
    }
    assert_true(failed > image_size * 9 / 10); /* the CRCs catch nearly every change */
    free(copy);
}

/* Rewrites the payload of one section and fixes its CRC, to reach the record checks. */
static uint8_t *with_section(uint32_t type, const uint8_t *payload, size_t len, size_t *out_size)
{
    uint8_t *out = malloc(image_size + len + 64);
    size_t o = 0, p = LT_FILE_HEADER_SIZE;
    memcpy(out, image, LT_FILE_HEADER_SIZE);
    o = LT_FILE_HEADER_SIZE;
    while (p < image_size) {
        uint32_t t;
        uint64_t l;
        memcpy(&t, image + p, 4);
        memcpy(&l, image + p + 8, 8);
        if (t == type) {
            uint32_t crc = lts_crc32(0, payload, len);
            uint64_t len64 = len;
            memcpy(out + o, &t, 4);
            memcpy(out + o + 4, &crc, 4);
            memcpy(out + o + 8, &len64, 8);
            memcpy(out + o + 16, payload, len);
            o += 16 + len;
        } else {
            memcpy(out + o, image + p, 16 + l);
            o += 16 + l;
        }
        p += 16 + l;
    }
    *out_size = o;
    return out;
}

static void expect_error(const uint8_t *data, size_t size, const char *fragment)
{
    struct lts_snapshot *s;
    struct lts_error e;
    assert_int_not_equal(lts_parse(data, size, &s, &e), 0);
    if (!strstr(e.message, fragment))
        fail_msg("expected an error about '%s', got '%s'", fragment, e.message);
    assert_true(e.offset <= size);
}

static void corrupt_records_are_named(void **state)
{
    (void)state;
    size_t size;
    /* a block naming a stack that does not exist: addr, size, stack 99999, thread, age, kind */
    const uint8_t bad_stack[] = {0x80, 0x80, 0x04, 0x10, 0x9f, 0x8d, 0x06, 0x00, 0x00, 0x00};
    uint8_t *f = with_section(LT_SECTION_BLOCKS, bad_stack, sizeof(bad_stack), &size);
    expect_error(f, size, "stack 99999");
    free(f);
    /* a string longer than its section */
    const uint8_t long_string[] = {0x03, 'p', 'i', 'd', 0x01, 0xff, 0x7f};
    f = with_section(LT_SECTION_META, long_string, sizeof(long_string), &size);
    expect_error(f, size, "string longer");
    free(f);
    /* an 11-byte varint */
    const uint8_t endless[] = {0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01};
    f = with_section(LT_SECTION_STACKS, endless, sizeof(endless), &size);
    expect_error(f, size, "STACKS");
    free(f);
    /* a stack deeper than leaktag records */
    const uint8_t deep[] = {0xc8, 0x01};
    f = with_section(LT_SECTION_STACKS, deep, sizeof(deep), &size);
    expect_error(f, size, "stack depth");
    free(f);
    /* an unknown allocation kind */
    const uint8_t kind[] = {0x80, 0x80, 0x04, 0x10, 0x00, 0x00, 0x00, 0x77};
    f = with_section(LT_SECTION_BLOCKS, kind, sizeof(kind), &size);
    expect_error(f, size, "allocation kind");
    free(f);
}

/* The reachability sections, on a snapshot that has them (reach.lts). */
static void corrupt_verdicts_are_named(void **state)
{
    (void)state;
    uint8_t *saved = image;
    size_t saved_size = image_size, size;
    image = read_corpus("reach.lts", &image_size);
    struct lts_snapshot *s;
    struct lts_error e;
    assert_int_equal(lts_parse(image, image_size, &s, &e), 0);
    assert_int_equal(s->nreach_scan, 1);
    assert_true(s->nreach > 100 && s->nreach_roots > 0);
    lts_close(s);
    /* addresses must increase: 0x1000 twice */
    const uint8_t twice[] = {0x80, 0x04, 0x00, 0x80, 0x04, 0x00};
    uint8_t *f = with_section(LT_SECTION_REACH, twice, sizeof(twice), &size);
    expect_error(f, size, "address order");
    free(f);
    /* a root that does not exist */
    const uint8_t no_root[] = {0x80, 0x04, 0x0b, 0xff, 0x7f, 0x00};
    f = with_section(LT_SECTION_REACH, no_root, sizeof(no_root), &size);
    expect_error(f, size, "refers to root");
    free(f);
    /* a block reference past the last record */
    const uint8_t no_block[] = {0x80, 0x04, 0x07, 0x05, 0x00};
    f = with_section(LT_SECTION_REACH, no_block, sizeof(no_block), &size);
    expect_error(f, size, "refers to record");
    free(f);
    /* a verdict whose scan says it failed */
    const uint8_t failed[] = {0x03, 0x02, 'n', 'o', 0, 0, 0, 0, 0, 0, 0};
    f = with_section(LT_SECTION_REACH_SCAN, failed, sizeof(failed), &size);
    expect_error(f, size, "without a successful REACH_SCAN");
    free(f);
    /* an unknown root type */
    const uint8_t bad_root[] = {0x09, 0x00, 0x00, 0x00};
    f = with_section(LT_SECTION_REACH_ROOTS, bad_root, sizeof(bad_root), &size);
    expect_error(f, size, "root type");
    free(f);
    free(image);
    image = saved;
    image_size = saved_size;
}

struct census_seen {
    size_t samples, with_request, next_index;
    uint64_t bytes;
    int stop_at; /* a non-zero return at this sample (0: never) */
};

static int see_sample(void *ctx, size_t index, const struct lts_sample *sm, const uint8_t *bytes)
{
    struct census_seen *seen = ctx;
    assert_int_equal(index, seen->next_index++);
    assert_null(sm->bytes); /* a census's bytes are only lent, one sample at a time */
    seen->samples++;
    seen->bytes += sm->len;
    seen->with_request += memmem(bytes, sm->len, "POST /api", 9) != NULL;
    return seen->stop_at && (int)seen->samples == seen->stop_at ? 7 : 0;
}

/* A census (LEAKTAG_SAMPLES=all): its samples come from a zstd frame, read as a stream. */
static void compressed_samples_read_back(void **state)
{
    (void)state;
    size_t size;
    uint8_t *data = read_corpus("census.lts", &size);
    struct lts_snapshot *s;
    struct lts_error e;
    assert_int_equal(lts_parse(data, size, &s, &e), 0);
    assert_true(s->nsamples > 10);
    assert_non_null(s->census);
    struct census_seen seen = {0};
    assert_int_equal(lts_samples_each(s, see_sample, &seen, &e), 0);
    assert_int_equal(seen.samples, s->nsamples);
    /* + stdout's buffer, libstdc++'s pool */
    assert_true(seen.with_request >= 50 && seen.with_request + 2 >= s->nsamples);
    struct census_seen again = {0};
    assert_int_equal(lts_samples_each(s, see_sample, &again, &e), 0); /* and again, the same */
    assert_int_equal(again.bytes, seen.bytes);
    struct census_seen stopped = {.stop_at = 3};
    assert_int_equal(lts_samples_each(s, see_sample, &stopped, &e), 7);
    assert_int_equal(stopped.samples, 3);
    lts_close(s);
    /* a damaged frame is refused, named by its section */
    uint8_t *saved = image;
    size_t saved_size = image_size;
    image = data;
    image_size = size;
    const uint8_t junk[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x01, 0x02, 0x03};
    uint8_t *f = with_section(LT_SECTION_SAMPLES_ZSTD, junk, sizeof(junk), &size);
    expect_error(f, size, "SAMPLES_ZSTD");
    free(f);
    /* a frame whose records are cut: "abc" claims 100 bytes of sample */
    const uint8_t cut[] = {0x02, 0x00, 0x64, 'a', 'b', 'c'};
    uint8_t frame[64];
    size_t n = ZSTD_compress(frame, sizeof(frame), cut, sizeof(cut), 1);
    assert_false(ZSTD_isError(n));
    f = with_section(LT_SECTION_SAMPLES_ZSTD, frame, n, &size);
    expect_error(f, size, "SAMPLES_ZSTD section ends inside a record");
    free(f);
    /* a frame cut short */
    uint8_t *whole = malloc(1 << 20);
    uint8_t plain[4096]; /* a sample at 0x10 of stack 0 with no bytes, over and over */
    size_t plain_n = 0;
    for (; plain_n + 3 <= sizeof(plain); plain_n += 3) {
        plain[plain_n] = 0x02;
        plain[plain_n + 1] = 0x00;
        plain[plain_n + 2] = 0x00;
    }
    n = ZSTD_compress(whole, 1 << 20, plain, plain_n, 1);
    assert_false(ZSTD_isError(n));
    f = with_section(LT_SECTION_SAMPLES_ZSTD, whole, n - 4, &size);
    expect_error(f, size, "SAMPLES_ZSTD");
    free(f);
    free(whole);
    image = saved;
    image_size = saved_size;
    free(data);
}

static void header_problems(void **state)
{
    (void)state;
    uint8_t *copy = malloc(image_size + 8);
    memcpy(copy, image, image_size);
    copy[0] = 'X';
    expect_error(copy, image_size, "magic");
    memcpy(copy, image, image_size);
    uint32_t future = 7;
    memcpy(copy + 8, &future, 4);
    expect_error(copy, image_size, "version 7");
    memcpy(copy, image, image_size);
    memcpy(copy + image_size, "garbage!", 8);
    expect_error(copy, image_size + 8, "after the END");
    expect_error(image, 0, "empty");
    free(copy);
}

static void files_that_are_not_snapshots(void **state)
{
    (void)state;
    struct lts_snapshot *s;
    struct lts_error e;
    assert_int_not_equal(lts_open("/nonexistent/x.lts", &s, &e), 0);
    assert_non_null(strstr(e.message, "No such file"));
    assert_false(e.has_offset);
    assert_int_not_equal(lts_open("/", &s, &e), 0);
    assert_non_null(strstr(e.message, "directory"));
    assert_int_not_equal(lts_open("/dev/null", &s, &e), 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_reader CORPUS_DIR\n");
        return 2;
    }
    corpus_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_file_parses),
        cmocka_unit_test(every_prefix_fails_cleanly),
        cmocka_unit_test(every_byte_flip_fails_or_parses),
        cmocka_unit_test(corrupt_records_are_named),
        cmocka_unit_test(corrupt_verdicts_are_named),
        cmocka_unit_test(compressed_samples_read_back),
        cmocka_unit_test(header_problems),
        cmocka_unit_test(files_that_are_not_snapshots),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
