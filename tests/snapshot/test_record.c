/* Unit tests of record.c, each record's encoder and decoder side by side: every record type is
 * written with the writer (extreme values included) and read back with the reader, field by
 * field, through a large buffer and the smallest; the file holds every section, END last. A
 * record whose encoder and decoder disagree fails here, whatever the shim does. (The writer's
 * own bytes and errors: test_writer.c.) */
#include <errno.h>
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

#include "format.h"
#include "reader.h"
#include "record.h"
#include "writer.h"

static const uint64_t frames_a[] = {0x401000, 0x400ff0, 0x7fffffffe000, 0x10, UINT64_MAX};
static uint64_t frames_deep[LT_FORMAT_MAX_DEPTH];
static const uint8_t build_id[20] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5,
                                     6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff};
static const struct lts_segment segments[] = {
    {0x555555554000, 0x1000, 0, 4},
    {0x555555555000, 0x2345, 0x1000, 5},
    {0x555555558000, 0x800, 0x4000, 6},
};
static const char cmdline[] = "prog\0--flag\0value with spaces"; /* NULs inside */
static const uint8_t sample_bytes[] = "GET key:1\0\x01\x02\xff tail";

/* What is written; the test reads it back and compares. */
static const struct lts_meta metas[] = {
    {.key = "pid", .number = 4242},
    {.key = "cmdline", .is_string = 1, .text = cmdline, .text_len = sizeof(cmdline) - 1},
    {.key = "reason", .is_string = 1, .text = "signal", .text_len = 6},
    {.key = "big", .number = UINT64_MAX},
    {.key = "empty", .is_string = 1, .text = "", .text_len = 0},
};
static const struct lts_counter counters[] = {
    {"live_blocks", 3}, {"live_bytes", 1500 + 48}, {"zero", 0}, {"max", UINT64_MAX}};
static const struct lts_module modules[] = {
    {.path = "/usr/bin/prog", .bias = 0x555555554000, .build_id = build_id,
     .build_id_len = sizeof(build_id), .nsegments = 3, .segments = segments},
    {.path = "linux-vdso.so.1", .bias = 0x7ffff7fc1000, .nsegments = 0},
};
static const struct lts_module_time module_times[] = {{0, 0}, {120, UINT32_MAX}};
static const struct lts_map maps[] = {
    {.start = 0x555555554000, .size = 0x1000, .perms = "r--p", .offset = 0, .inode = 1234,
     .path = "/usr/bin/prog", .rss = 4096, .private_dirty = 0, .swap = 0, .anonymous = 0,
     .kind = LT_MAP_FILE},
    {.start = 0x7ffff0000000, .size = 1ull << 40, .perms = "rw-p", .path = "",
     .rss = UINT64_MAX, .private_dirty = 7, .swap = 8, .anonymous = 9, .kind = LT_MAP_ANON},
    {.start = 0x7ffffffde000, .size = 0x21000, .perms = "---p", .path = "[stack]",
     .kind = LT_MAP_GUARD},
};
static struct lts_stack stacks[3]; /* 0 empty, 1 frames_a, 2 frames_deep (set up in main) */
static const struct lts_reach_scan reach_scan = {
    .status = 0, .why = "", .pause_ns = 17300000, .fork_ns = 17200000, .scan_ns = UINT64_MAX,
    .bytes_scanned = 1ull << 30, .blocks = 3, .threads = UINT32_MAX};
static const struct lts_reach_root reach_roots[] = {
    {.type = LT_ROOT_TYPE_REGISTERS, .tid = 100, .lo = 0, .hi = 1},
    {.type = LT_ROOT_TYPE_STACK, .tid = UINT32_MAX, .lo = 0x7ffffffde000, .hi = 0x7ffffffff000},
    {.type = LT_ROOT_TYPE_MAPPING, .tid = 0, .lo = 0x600000, .hi = UINT64_MAX},
    {.type = LT_ROOT_TYPE_CALLER, .tid = 7, .lo = 5, .hi = 5},
};
static const struct lts_reach reaches[] = { /* addresses increase; vias forward and back */
    {.addr = 0x1000, .state = LT_VERDICT_REACHABLE, .via_type = LT_VIA_ROOT, .via = 3,
     .via_addr = 0x600008},
    {.addr = 0x1008, .state = LT_VERDICT_INDIRECTLY_LOST, .via_type = LT_VIA_BLOCK, .via = 2,
     .via_addr = UINT64_MAX},
    {.addr = 0xfffffffffffffff8ull, .state = LT_VERDICT_DEFINITELY_LOST},
};

static const struct lts_thread threads[] = {
    {.idx = 0, .tid = 100, .name = "main", .state = LT_THREAD_FLAG_ALIVE, .start_cs = 0,
     .exit_cs = 0, .stack_size = 8 << 20, .stack_addr = 0x7ffffffde000, .guard_size = 4096,
     .start_routine = 0, .creator = 0, .live_blocks = 2, .live_bytes = 1548, .allocs = 10,
     .frees = 8},
    {.idx = LT_FORMAT_THREADS_MAX - 1, .tid = UINT32_MAX, .name = "handler-7",
     .state = LT_THREAD_FLAGS_ALL, .start_cs = 12, .exit_cs = UINT32_MAX,
     .stack_size = 32ull << 20, .stack_addr = 1, .guard_size = 0, .start_routine = 0x401234,
     .creator = LT_FORMAT_THREADS_MAX - 1, .live_blocks = 1, .live_bytes = 0,
     .allocs = UINT64_MAX, .frees = 0},
};
static const struct lts_block blocks[] = {
    {.addr = 0x5555555a0010, .size = 1500, .stack = 1, .thread = 0, .age_cs = 100,
     .kind = LT_KIND_NEW},
    {.addr = 0x7ffff0000000ull & ~7ull, .size = 0, .stack = 0, .thread = 0, .age_cs = 0,
     .kind = LT_KIND_MALLOC},
    {.addr = UINT64_MAX & ~7ull, .size = UINT64_MAX, .stack = 2,
     .thread = LT_FORMAT_THREADS_MAX - 1, .age_cs = UINT32_MAX,
     .kind = LT_KIND_NEW_ARRAY_ALIGNED},
};
static const struct lts_sample samples[] = {
    {.addr = 0x5555555a0010, .stack = 1, .len = sizeof(sample_bytes) - 1, .bytes = sample_bytes},
    {.addr = 0x5555555a0010, .stack = 2, .len = 0, .bytes = sample_bytes},
};
static const struct lts_misuse misuses[] = {
    {.type = LT_MISUSE_MISMATCH, .alloc_stack = 1, .release_stack = 2,
     .alloc_kind = LT_KIND_NEW_ARRAY, .release_kind = LT_RELEASE_DELETE, .count = 3},
    {.type = LT_MISUSE_UNKNOWN_FREE, .alloc_stack = 0, .release_stack = 1,
     .alloc_kind = LT_KIND_COUNT, .release_kind = LT_RELEASE_FREE, .count = UINT64_MAX},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Writes every section in the order the shim does, with a buffer small enough that every
 * section crosses several flushes. Returns the file's bytes (malloc'd) and size. */
static uint8_t *write_all_sections(size_t buffer_bytes, size_t *size)
{
    int fd = memfd_create("roundtrip", 0);
    assert_true(fd >= 0);
    char *buf = malloc(buffer_bytes);
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, buffer_bytes);
    lts_writer_begin(&w, LT_SECTION_META);
    for (size_t i = 0; i < N(metas); i++)
        lts_put_meta(&w, &metas[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_MODULES);
    for (size_t i = 0; i < N(modules); i++)
        lts_put_module(&w, &modules[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_MODULE_TIMES);
    for (size_t i = 0; i < N(module_times); i++)
        lts_put_module_time(&w, &module_times[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_MAPS);
    for (size_t i = 0; i < N(maps); i++)
        lts_put_map(&w, &maps[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_BLOCKS);
    for (size_t i = 0; i < N(blocks); i++)
        lts_put_block(&w, &blocks[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_SAMPLES);
    for (size_t i = 0; i < N(samples); i++)
        lts_put_sample(&w, &samples[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_STACKS);
    for (size_t i = 0; i < N(stacks); i++)
        lts_put_stack(&w, &stacks[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_THREADS);
    for (size_t i = 0; i < N(threads); i++)
        lts_put_thread(&w, &threads[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_MISUSE);
    for (size_t i = 0; i < N(misuses); i++)
        lts_put_misuse(&w, &misuses[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_REACH_SCAN);
    lts_put_reach_scan(&w, &reach_scan);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_REACH_ROOTS);
    for (size_t i = 0; i < N(reach_roots); i++)
        lts_put_reach_root(&w, &reach_roots[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_REACH);
    for (size_t i = 0; i < N(reaches); i++)
        lts_put_reach(&w, &reaches[i]);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_COUNTERS);
    for (size_t i = 0; i < N(counters); i++)
        lts_put_counter(&w, counters[i].name, counters[i].value);
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0);
    free(buf);
    off_t end = lseek(fd, 0, SEEK_END);
    assert_true(end > 0);
    uint8_t *image = malloc((size_t)end);
    assert_int_equal(pread(fd, image, (size_t)end, 0), end);
    close(fd);
    *size = (size_t)end;
    return image;
}

static void same_text(const char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want ? want : "");
}

static void check_everything(const struct lts_snapshot *s)
{
    assert_int_equal(s->version, LT_FORMAT_VERSION);
    assert_int_equal(s->nmeta, N(metas));
    for (size_t i = 0; i < N(metas); i++) {
        same_text(s->meta[i].key, metas[i].key);
        assert_int_equal(s->meta[i].is_string, metas[i].is_string);
        if (metas[i].is_string) {
            assert_int_equal(s->meta[i].text_len, metas[i].text_len);
            assert_memory_equal(s->meta[i].text, metas[i].text, metas[i].text_len + 0);
            assert_int_equal(s->meta[i].text[metas[i].text_len], '\0');
        } else {
            assert_true(s->meta[i].number == metas[i].number);
        }
    }
    assert_int_equal(s->pid, 4242);
    assert_string_equal(s->reason, "signal");
    assert_int_equal(s->cmdline_len, sizeof(cmdline) - 1);

    assert_int_equal(s->ncounters, N(counters));
    for (size_t i = 0; i < N(counters); i++) {
        same_text(s->counters[i].name, counters[i].name);
        assert_true(s->counters[i].value == counters[i].value);
    }

    assert_int_equal(s->nmodules, N(modules));
    for (size_t i = 0; i < N(modules); i++) {
        const struct lts_module *got = &s->modules[i], *want = &modules[i];
        same_text(got->path, want->path);
        assert_true(got->bias == want->bias);
        assert_int_equal(got->build_id_len, want->build_id ? want->build_id_len : 0);
        if (want->build_id)
            assert_memory_equal(got->build_id, want->build_id, want->build_id_len);
        assert_int_equal(got->nsegments, want->nsegments);
        assert_int_equal(got->loaded_cs, module_times[i].loaded_cs);
        assert_int_equal(got->unloaded_cs, module_times[i].unloaded_cs);
        for (uint32_t k = 0; k < want->nsegments; k++) {
            assert_true(got->segments[k].start == want->segments[k].start);
            assert_true(got->segments[k].size == want->segments[k].size);
            assert_true(got->segments[k].offset == want->segments[k].offset);
            assert_int_equal(got->segments[k].flags, want->segments[k].flags);
        }
    }

    assert_int_equal(s->nmaps, N(maps));
    for (size_t i = 0; i < N(maps); i++) {
        const struct lts_map *got = &s->maps[i], *want = &maps[i];
        assert_true(got->start == want->start && got->size == want->size);
        assert_string_equal(got->perms, want->perms);
        assert_true(got->offset == want->offset && got->inode == want->inode);
        same_text(got->path, want->path);
        assert_true(got->rss == want->rss && got->private_dirty == want->private_dirty);
        assert_true(got->swap == want->swap && got->anonymous == want->anonymous);
        assert_int_equal(got->kind, want->kind);
    }

    assert_int_equal(s->nstacks, N(stacks));
    for (size_t i = 0; i < N(stacks); i++) {
        assert_int_equal(s->stacks[i].depth, stacks[i].depth);
        for (uint32_t k = 0; k < stacks[i].depth; k++)
            assert_true(s->stacks[i].frames[k] == stacks[i].frames[k]);
    }

    assert_int_equal(s->nthreads, N(threads));
    for (size_t i = 0; i < N(threads); i++) {
        const struct lts_thread *got = &s->threads[i], *want = &threads[i];
        assert_int_equal(got->idx, want->idx);
        assert_true(got->tid == want->tid);
        same_text(got->name, want->name);
        assert_int_equal(got->state, want->state);
        assert_true(got->start_cs == want->start_cs && got->exit_cs == want->exit_cs);
        assert_true(got->stack_size == want->stack_size && got->stack_addr == want->stack_addr);
        assert_true(got->guard_size == want->guard_size);
        assert_true(got->start_routine == want->start_routine);
        assert_int_equal(got->creator, want->creator);
        assert_true(got->live_blocks == want->live_blocks && got->live_bytes == want->live_bytes);
        assert_true(got->allocs == want->allocs && got->frees == want->frees);
        assert_ptr_equal(lts_thread(s, want->idx), got);
    }

    assert_int_equal(s->nblocks, N(blocks));
    for (size_t i = 0; i < N(blocks); i++) {
        const struct lts_block *got = &s->blocks[i], *want = &blocks[i];
        assert_true(got->addr == want->addr && got->size == want->size);
        assert_int_equal(got->stack, want->stack);
        assert_int_equal(got->thread, want->thread);
        assert_int_equal(got->age_cs, want->age_cs);
        assert_int_equal(got->kind, want->kind);
    }

    assert_int_equal(s->nsamples, N(samples));
    for (size_t i = 0; i < N(samples); i++) {
        const struct lts_sample *got = &s->samples[i], *want = &samples[i];
        assert_true(got->addr == want->addr);
        assert_int_equal(got->stack, want->stack);
        assert_int_equal(got->len, want->len);
        if (want->len)
            assert_memory_equal(got->bytes, want->bytes, want->len);
    }

    assert_int_equal(s->nmisuse, N(misuses));
    for (size_t i = 0; i < N(misuses); i++) {
        const struct lts_misuse *got = &s->misuse[i], *want = &misuses[i];
        assert_int_equal(got->type, want->type);
        assert_int_equal(got->alloc_stack, want->alloc_stack);
        assert_int_equal(got->release_stack, want->release_stack);
        assert_int_equal(got->alloc_kind, want->alloc_kind);
        assert_int_equal(got->release_kind, want->release_kind);
        assert_true(got->count == want->count);
    }

    assert_int_equal(s->nreach_scan, 1);
    const struct lts_reach_scan *rs = &s->reach_scan[0];
    assert_true(rs->status == reach_scan.status && rs->pause_ns == reach_scan.pause_ns &&
                rs->fork_ns == reach_scan.fork_ns && rs->scan_ns == reach_scan.scan_ns &&
                rs->bytes_scanned == reach_scan.bytes_scanned &&
                rs->blocks == reach_scan.blocks && rs->threads == reach_scan.threads);
    same_text(rs->why, "");
    assert_int_equal(s->nreach_roots, N(reach_roots));
    for (size_t i = 0; i < N(reach_roots); i++)
        assert_true(s->reach_roots[i].type == reach_roots[i].type &&
                    s->reach_roots[i].tid == reach_roots[i].tid &&
                    s->reach_roots[i].lo == reach_roots[i].lo &&
                    s->reach_roots[i].hi == reach_roots[i].hi);
    assert_int_equal(s->nreach, N(reaches));
    for (size_t i = 0; i < N(reaches); i++)
        assert_true(s->reach[i].addr == reaches[i].addr &&
                    s->reach[i].state == reaches[i].state &&
                    s->reach[i].via_type == reaches[i].via_type &&
                    s->reach[i].via == reaches[i].via &&
                    s->reach[i].via_addr == reaches[i].via_addr);
}

static void roundtrip(size_t buffer_bytes)
{
    size_t size;
    uint8_t *image = write_all_sections(buffer_bytes, &size);
    struct lts_snapshot *s;
    struct lts_error e;
    int rc = lts_parse(image, size, &s, &e);
    if (rc != 0)
        fail_msg("%s (at offset %llu)", e.message, (unsigned long long)e.offset);
    check_everything(s);
    lts_close(s);
    free(image);
}

static void every_record_reads_back(void **state)
{
    (void)state;
    roundtrip(1 << 20);
}

static void every_record_reads_back_through_a_small_buffer(void **state)
{
    (void)state;
    roundtrip(64); /* the writer's minimum: every field may straddle a flush */
}

/* The writer's header and section framing, as docs/FORMAT.md says: magic, version, then
 * sections whose headers carry type and length, END last and empty. */
static void framing_is_as_documented(void **state)
{
    (void)state;
    size_t size;
    uint8_t *image = write_all_sections(4096, &size);
    assert_memory_equal(image, LT_FORMAT_MAGIC, LT_FORMAT_MAGIC_SIZE);
    uint32_t version, type;
    uint64_t length;
    memcpy(&version, image + 8, 4);
    assert_int_equal(version, LT_FORMAT_VERSION);
    size_t at = LT_FILE_HEADER_SIZE, sections = 0;
    do {
        memcpy(&type, image + at, 4);
        memcpy(&length, image + at + 8, 8);
        at += LT_SECTION_HEADER_SIZE + length;
        sections++;
    } while (type != LT_SECTION_END && at < size);
    assert_int_equal(type, LT_SECTION_END);
    assert_int_equal(length, 0);
    assert_int_equal(at, size);
    assert_int_equal(sections, 14); /* every section type, END included */
    free(image);
}

int main(void)
{
    for (unsigned i = 0; i < LT_FORMAT_MAX_DEPTH; i++) /* far apart and near: both deltas */
        frames_deep[i] = i % 2 ? 0x7f0000000000ull + i * 3 : 0x400000ull + i;
    stacks[0] = (struct lts_stack){0, NULL};
    stacks[1] = (struct lts_stack){N(frames_a), frames_a};
    stacks[2] = (struct lts_stack){LT_FORMAT_MAX_DEPTH, frames_deep};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_record_reads_back),
        cmocka_unit_test(every_record_reads_back_through_a_small_buffer),
        cmocka_unit_test(framing_is_as_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
