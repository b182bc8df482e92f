/* test_render_pprof.c — render_pprof.c, the gzipped profile.proto of docs/REPORT.md
 * ("pprof"), on models built in memory (model_fixture.h), read back here: gunzipped with zlib
 * and decoded by a reader of the wire format written for this test against profile.proto
 * (github.com/google/pprof/proto/profile.proto). Cases: the sample types, one sample per
 * stack and thread family with its objects and bytes and `thread` label, locations and
 * functions that resolve; lost_space with a scan, estimates and the period when sampled;
 * one location per return address holding its inlined chain innermost first, shared between
 * stacks; one mapping per executable segment with path and build-id; --min-age applies,
 * --top and --min-bytes do not. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "render.h"
#include "render_fixture.h"

/* ---- profile.proto, as much of it as leaktag writes -------------------------------------- */

#define MAX_ITEMS 64

struct value_type {
    int64_t type, unit;
};

struct sample {
    uint64_t locations[MAX_ITEMS];
    size_t nlocations;
    int64_t values[4];
    size_t nvalues;
    int64_t label_key, label_str;
    size_t nlabels;
};

struct line {
    uint64_t function;
    int64_t line;
};

struct location {
    uint64_t id, mapping, address;
    struct line lines[8];
    size_t nlines;
};

struct function {
    uint64_t id;
    int64_t name, system_name, filename;
};

struct mapping {
    uint64_t id, start, limit, offset;
    int64_t filename, build_id;
    uint64_t has_functions;
};

struct profile {
    uint8_t *raw; /* the gunzipped message; strings point into it */
    struct value_type sample_types[4], period_type;
    size_t nsample_types;
    struct sample samples[MAX_ITEMS];
    size_t nsamples;
    struct location locations[MAX_ITEMS];
    size_t nlocations;
    struct function functions[MAX_ITEMS];
    size_t nfunctions;
    struct mapping mappings[8];
    size_t nmappings;
    char *strings[MAX_ITEMS * 4]; /* NUL-terminated copies */
    size_t nstrings;
    int64_t time_nanos, period, comment, default_sample_type;
};

/* A reader over bytes [p, end): every read is checked against the end. */
struct reader {
    const uint8_t *p, *end;
};

static uint64_t read_varint(struct reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        assert_true(r->p < r->end);
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail_msg("a varint of more than 10 bytes");
    return 0;
}

/* The next field: its number, and either its varint (wire type 0) or its bytes (2). */
struct field {
    uint32_t number;
    int wire;
    uint64_t v;
    struct reader bytes;
};

static bool next_field(struct reader *r, struct field *f)
{
    if (r->p == r->end)
        return false;
    uint64_t tag = read_varint(r);
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (f->wire == 0) {
        f->v = read_varint(r);
    } else if (f->wire == 2) {
        uint64_t n = read_varint(r);
        assert_true(n <= (uint64_t)(r->end - r->p));
        f->bytes = (struct reader){r->p, r->p + n};
        r->p += n;
    } else {
        fail_msg("wire type %d: profile.proto has only varints and length-delimited fields",
                 f->wire);
    }
    return true;
}

/* A repeated varint field, packed (wire type 2) or not (0): both are valid encodings. */
static void repeated(const struct field *f, uint64_t *out, size_t *n, size_t max)
{
    if (f->wire == 0) {
        assert_true(*n < max);
        out[(*n)++] = f->v;
        return;
    }
    struct reader r = f->bytes;
    while (r.p < r.end) {
        assert_true(*n < max);
        out[(*n)++] = read_varint(&r);
    }
}

static struct value_type decode_value_type(struct reader r)
{
    struct value_type vt = {0};
    struct field f;
    while (next_field(&r, &f))
        if (f.number == 1)
            vt.type = (int64_t)f.v;
        else if (f.number == 2)
            vt.unit = (int64_t)f.v;
    return vt;
}

static void decode_sample(struct reader r, struct sample *s)
{
    struct field f;
    uint64_t values[4];
    while (next_field(&r, &f)) {
        if (f.number == 1) {
            repeated(&f, s->locations, &s->nlocations, MAX_ITEMS);
        } else if (f.number == 2) {
            repeated(&f, values, &s->nvalues, 4);
        } else if (f.number == 3) { /* Label: key, str */
            struct field g;
            s->nlabels++;
            while (next_field(&f.bytes, &g))
                if (g.number == 1)
                    s->label_key = (int64_t)g.v;
                else if (g.number == 2)
                    s->label_str = (int64_t)g.v;
        }
    }
    for (size_t i = 0; i < s->nvalues; i++)
        s->values[i] = (int64_t)values[i];
}

static void decode_location(struct reader r, struct location *l)
{
    struct field f;
    while (next_field(&r, &f)) {
        if (f.number == 1) {
            l->id = f.v;
        } else if (f.number == 2) {
            l->mapping = f.v;
        } else if (f.number == 3) {
            l->address = f.v;
        } else if (f.number == 4) { /* Line: function_id, line */
            assert_true(l->nlines < 8);
            struct line *ln = &l->lines[l->nlines++];
            struct field g;
            while (next_field(&f.bytes, &g))
                if (g.number == 1)
                    ln->function = g.v;
                else if (g.number == 2)
                    ln->line = (int64_t)g.v;
        }
    }
}

static void decode_function(struct reader r, struct function *fn)
{
    struct field f;
    while (next_field(&r, &f))
        switch (f.number) {
        case 1: fn->id = f.v; break;
        case 2: fn->name = (int64_t)f.v; break;
        case 3: fn->system_name = (int64_t)f.v; break;
        case 4: fn->filename = (int64_t)f.v; break;
        default: break;
        }
}

static void decode_mapping(struct reader r, struct mapping *mp)
{
    struct field f;
    while (next_field(&r, &f))
        switch (f.number) {
        case 1: mp->id = f.v; break;
        case 2: mp->start = f.v; break;
        case 3: mp->limit = f.v; break;
        case 4: mp->offset = f.v; break;
        case 5: mp->filename = (int64_t)f.v; break;
        case 6: mp->build_id = (int64_t)f.v; break;
        case 7: mp->has_functions = f.v; break;
        default: break;
        }
}

/* Gunzips data[0..n) (a gzip member: RFC 1952) into a buffer of *len bytes. */
static uint8_t *gunzip(const uint8_t *data, size_t n, size_t *len)
{
    assert_true(n > 18);
    assert_int_equal(data[0], 0x1f); /* the gzip magic */
    assert_int_equal(data[1], 0x8b);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    size_t cap = 1 << 16;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    int rc;
    do {
        if (z.total_out == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        z.next_out = out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
    } while (rc != Z_STREAM_END);
    assert_int_equal(z.avail_in, 0); /* nothing after the member */
    *len = z.total_out;
    inflateEnd(&z);
    return out;
}

/* Renders m as pprof and decodes it into p. */
static void render(struct profile *p, const struct model *m)
{
    struct capture c;
    struct lts_error err;
    assert_int_equal(render_pprof(capture_begin(&c), m, &err), 0);
    capture_end(&c);
    size_t len;
    *p = (struct profile){0};
    p->raw = gunzip((const uint8_t *)c.text, c.size, &len);
    capture_free(&c);
    struct reader r = {p->raw, p->raw + len};
    struct field f;
    while (next_field(&r, &f)) {
        switch (f.number) {
        case 1:
            assert_true(p->nsample_types < 4);
            p->sample_types[p->nsample_types++] = decode_value_type(f.bytes);
            break;
        case 2:
            assert_true(p->nsamples < MAX_ITEMS);
            decode_sample(f.bytes, &p->samples[p->nsamples++]);
            break;
        case 3:
            assert_true(p->nmappings < 8);
            decode_mapping(f.bytes, &p->mappings[p->nmappings++]);
            break;
        case 4:
            assert_true(p->nlocations < MAX_ITEMS);
            decode_location(f.bytes, &p->locations[p->nlocations++]);
            break;
        case 5:
            assert_true(p->nfunctions < MAX_ITEMS);
            decode_function(f.bytes, &p->functions[p->nfunctions++]);
            break;
        case 6:
            assert_int_equal(f.wire, 2);
            assert_true(p->nstrings < MAX_ITEMS * 4);
            p->strings[p->nstrings++] =
                strndup((const char *)f.bytes.p, (size_t)(f.bytes.end - f.bytes.p));
            break;
        case 9: p->time_nanos = (int64_t)f.v; break;
        case 11: p->period_type = decode_value_type(f.bytes); break;
        case 12: p->period = (int64_t)f.v; break;
        case 13: p->comment = (int64_t)f.v; break;
        case 14: p->default_sample_type = (int64_t)f.v; break;
        default: break;
        }
    }
    /* string_table[0] is "" (profile.proto) */
    assert_true(p->nstrings > 0);
    assert_string_equal(p->strings[0], "");
}

static void release(struct profile *p)
{
    for (size_t i = 0; i < p->nstrings; i++)
        free(p->strings[i]);
    free(p->raw);
}

static const char *str(const struct profile *p, int64_t index)
{
    assert_true(index >= 0 && (uint64_t)index < p->nstrings);
    return p->strings[index];
}

static const struct location *location(const struct profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->nlocations; i++)
        if (p->locations[i].id == id)
            return &p->locations[i];
    fail_msg("no location %" PRIu64, id);
    return NULL;
}

static const struct function *function(const struct profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->nfunctions; i++)
        if (p->functions[i].id == id)
            return &p->functions[i];
    fail_msg("no function %" PRIu64, id);
    return NULL;
}

/* The sample whose leaf location is at `address`. */
static const struct sample *sample_at(const struct profile *p, uint64_t address)
{
    for (size_t i = 0; i < p->nsamples; i++)
        if (p->samples[i].nlocations &&
            location(p, p->samples[i].locations[0])->address == address)
            return &p->samples[i];
    fail_msg("no sample at 0x%" PRIx64, address);
    return NULL;
}

static void assert_values(const struct sample *s, size_t n, int64_t a, int64_t b, int64_t c)
{
    assert_int_equal(s->nvalues, n);
    assert_int_equal(s->values[0], a);
    assert_int_equal(s->values[1], b);
    if (n > 2)
        assert_int_equal(s->values[2], c);
}

/* ---- the cases ------------------------------------------------------------------------- */

static void test_samples_and_types(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 1234567890123, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct profile p;
    render(&p, &m);
    assert_int_equal(p.nsample_types, 2);
    assert_string_equal(str(&p, p.sample_types[0].type), "inuse_objects");
    assert_string_equal(str(&p, p.sample_types[0].unit), "count");
    assert_string_equal(str(&p, p.sample_types[1].type), "inuse_space");
    assert_string_equal(str(&p, p.sample_types[1].unit), "bytes");
    assert_string_equal(str(&p, p.default_sample_type), "inuse_space");
    assert_int_equal(p.time_nanos, 1234567890123);
    assert_int_equal(p.period, 0);
    /* one sample per stack (and thread family): 30 objects of 100 bytes, 5 of 1,000 */
    assert_int_equal(p.nsamples, 2);
    const struct sample *leak = sample_at(&p, LEAK_FRAME), *cache = sample_at(&p, CACHE_FRAME);
    assert_values(leak, 2, 30, 30 * LEAK_SIZE, 0);
    assert_values(cache, 2, CACHE_BLOCKS, CACHE_BLOCKS * CACHE_SIZE, 0);
    assert_int_equal(leak->nlabels, 1);
    assert_string_equal(str(&p, leak->label_key), "thread");
    assert_string_equal(str(&p, leak->label_str), "worker-*");
    assert_string_equal(str(&p, cache->label_str), "cache-*");
    /* one frame each, in no module: no mapping, the function named by its address */
    assert_int_equal(leak->nlocations, 1);
    const struct location *l = location(&p, leak->locations[0]);
    assert_int_equal(l->mapping, 0);
    assert_int_equal(l->nlines, 1);
    assert_string_equal(str(&p, function(&p, l->lines[0].function)->name), "0x401000");
    assert_int_equal(p.nmappings, 0);
    assert_int_equal(p.nlocations, 2);
    assert_int_equal(p.nfunctions, 2);
    release(&p);
    fixture_release(&m);
}

/* Two threads of one family ("main" renamed worker-0 takes half the leak's blocks from
 * worker-1): still one sample for the leak's stack, labelled with the family. */
static void split_between_workers(struct lts_snapshot *s, size_t i)
{
    (void)i;
    s->threads[0].name = "worker-0";
    for (size_t k = 0; k < s->nblocks; k++)
        if (s->blocks[k].stack == 1 && k % 2)
            ((struct lts_block *)s->blocks)[k].thread = 0;
}

static void test_one_sample_per_family(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    render_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK},
                 split_between_workers);
    struct profile p;
    render(&p, &m);
    assert_int_equal(p.nsamples, 2);
    const struct sample *leak = sample_at(&p, LEAK_FRAME);
    assert_values(leak, 2, 30, 30 * LEAK_SIZE, 0);
    assert_string_equal(str(&p, leak->label_str), "worker-*");
    release(&p);
    fixture_release(&m);
}

/* lost_space with a scan (the leak's 3,000 bytes); estimates and the interval as period in
 * a sampled snapshot, which the comment mentions. */
static void test_lost_space_and_sampled(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct profile p;
    render(&p, &m);
    assert_int_equal(p.nsample_types, 3);
    assert_string_equal(str(&p, p.sample_types[2].type), "lost_space");
    assert_string_equal(str(&p, p.sample_types[2].unit), "bytes");
    assert_values(sample_at(&p, LEAK_FRAME), 3, 30, 3000, 3000);
    assert_values(sample_at(&p, CACHE_FRAME), 3, 5, 5000, 0);
    assert_null(strstr(str(&p, p.comment), "estimate"));
    release(&p);
    fixture_release(&m);

    /* every 100 bytes on average: a block of s bytes stands for 1 / (1 - exp(-s / 100)) */
    sp = (struct spec){
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .sample_interval = 100};
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    render(&p, &m);
    assert_int_equal(p.nsample_types, 2);
    double w_leak = 1 / (1 - exp(-1.0)), w_cache = 1 / (1 - exp(-10.0));
    assert_values(sample_at(&p, LEAK_FRAME), 2, llround(30 * w_leak), llround(3000 * w_leak), 0);
    assert_values(sample_at(&p, CACHE_FRAME), 2, llround(5 * w_cache), llround(5000 * w_cache),
                  0);
    assert_int_equal(p.period, 100);
    assert_non_null(strstr(str(&p, p.comment), "estimate"));
    release(&p);
    fixture_release(&m);
}

/* The leak's return address 0x401000 is leak_alloc with a helper inlined into it; both
 * stacks were called from main at 0x403000. */
static void test_inlined_chain_shared_location(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    static const struct sym_frame helper = {"helper", "/src/h.h", 7, NULL, LEAK_FRAME,
                                            LEAK_FRAME, 1},
                                  leak_fn = {"leak_alloc", "/src/l.c", 42, NULL, LEAK_FRAME,
                                             LEAK_FRAME, 0},
                                  cache_fn = {"cache_fill", "/src/c.c", 9, NULL, CACHE_FRAME,
                                              CACHE_FRAME, 0},
                                  main1 = {"main", "/src/main.c", 3, NULL, 0x403000, 0x403000, 0},
                                  main2 = {"main", "/src/main.c", 3, NULL, 0x403000, 0x403000, 0};
    static const struct frame leak_frames[] = {
        {&helper, "helper"}, {&leak_fn, "leak_alloc"}, {&main1, "main"}};
    static const struct frame cache_frames[] = {{&cache_fn, "cache_fill"}, {&main2, "main"}};
    render_graft(&m, 1, leak_frames, 3);
    render_graft(&m, 2, cache_frames, 2);
    struct profile p;
    render(&p, &m);
    /* three return addresses, three locations; four functions */
    assert_int_equal(p.nlocations, 3);
    assert_int_equal(p.nfunctions, 4);
    const struct sample *leak = sample_at(&p, LEAK_FRAME), *cache = sample_at(&p, CACHE_FRAME);
    assert_int_equal(leak->nlocations, 2);
    assert_int_equal(cache->nlocations, 2);
    assert_int_equal(leak->locations[1], cache->locations[1]); /* main's, shared */
    const struct location *at = location(&p, leak->locations[0]);
    assert_int_equal(at->nlines, 2); /* innermost first: the helper, then leak_alloc */
    const struct function *f0 = function(&p, at->lines[0].function),
                          *f1 = function(&p, at->lines[1].function);
    assert_string_equal(str(&p, f0->name), "helper");
    assert_string_equal(str(&p, f0->filename), "/src/h.h");
    assert_int_equal(at->lines[0].line, 7);
    assert_string_equal(str(&p, f1->name), "leak_alloc");
    assert_string_equal(str(&p, f1->filename), "/src/l.c");
    assert_int_equal(at->lines[1].line, 42);
    const struct location *caller = location(&p, leak->locations[1]);
    assert_int_equal(caller->address, 0x403000);
    assert_int_equal(caller->nlines, 1);
    assert_string_equal(str(&p, function(&p, caller->lines[0].function)->name), "main");
    assert_int_equal(caller->lines[0].line, 3);
    release(&p);
    fixture_release(&m);
}

/* A module whose file is not there: its executable segment (0x400000-0x403000, file offset
 * 0x1000) holds both frames; its writable one is no mapping. */
static const uint8_t build_id[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
static const struct lts_segment segments[] = {{0x400000, 0x3000, 0x1000, 5 /* R|X */},
                                              {0x600000, 0x1000, 0x4000, 6 /* R|W */}};
static struct lts_module module = {"/nonexistent/leaktag-test/libfake.so", 0x3ff000, build_id,
                                   sizeof(build_id), 2, segments, 0, 0};

static void with_module(struct lts_snapshot *s, size_t i)
{
    (void)i;
    s->modules = &module;
    s->nmodules = 1;
}

static void test_mappings(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    render_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK}, with_module);
    struct profile p;
    render(&p, &m);
    assert_int_equal(p.nmappings, 1);
    const struct mapping *mp = &p.mappings[0];
    assert_int_equal(mp->id, 1);
    assert_int_equal(mp->start, 0x400000);
    assert_int_equal(mp->limit, 0x403000);
    assert_int_equal(mp->offset, 0x1000);
    assert_string_equal(str(&p, mp->filename), "/nonexistent/leaktag-test/libfake.so");
    assert_string_equal(str(&p, mp->build_id), "deadbeef01");
    /* its file is gone: no location is named, pprof may look for the binary itself */
    assert_int_equal(mp->has_functions, 0);
    assert_int_equal(location(&p, sample_at(&p, LEAK_FRAME)->locations[0])->mapping, 1);
    assert_int_equal(location(&p, sample_at(&p, CACHE_FRAME)->locations[0])->mapping, 1);
    release(&p);
    fixture_release(&m);
}

/* --top and --min-bytes leave a profile whole; --min-age takes the young blocks out (the
 * leak's block i is i s old, the cache's 0.5 s). */
static void test_filters(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1,
                  &(struct model_options){.group.by = GROUP_BY_STACK, .top = 1, .min_bytes = 4000});
    struct profile p;
    render(&p, &m);
    assert_int_equal(p.nsamples, 2);
    assert_values(sample_at(&p, LEAK_FRAME), 2, 30, 3000, 0);
    release(&p);
    fixture_release(&m);

    fixture_model(&m, &sp, 1,
                  &(struct model_options){.group.by = GROUP_BY_STACK, .group.min_age_cs = 1000});
    render(&p, &m);
    assert_int_equal(p.nsamples, 1);
    assert_values(sample_at(&p, LEAK_FRAME), 2, 20, 2000, 0);
    release(&p);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_and_types),
        cmocka_unit_test(test_one_sample_per_family),
        cmocka_unit_test(test_lost_space_and_sampled),
        cmocka_unit_test(test_inlined_chain_shared_location),
        cmocka_unit_test(test_mappings),
        cmocka_unit_test(test_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
