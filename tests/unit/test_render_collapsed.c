/* test_render_collapsed.c — render_collapsed.c, the "frame;frame bytes" lines of
 * docs/REPORT.md ("Collapsed stacks"), on models built in memory (model_fixture.h): one line
 * per stack with live bytes and none for a stack without; root first, one frame per
 * inlined function, names whole and never splitting a line or a frame; --min-age; a sampled
 * snapshot's bytes weighted by 1 / P(sampled). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "render.h"
#include "render_fixture.h"

/* The fixture's frames are in no module: each is named by its address. */
#define LEAK_NAME "0x401000"
#define CACHE_NAME "0x402000"

static size_t lines_of(const char *text)
{
    return count_of(text, "\n");
}

static void test_one_line_per_stack(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    render_collapsed(capture_begin(&c), &m);
    const char *text = capture_end(&c);
    /* 30 x 100 and 5 x 1,000 bytes; the empty stack (id 0) holds nothing: no line */
    char leak[64], cache[64];
    snprintf(leak, sizeof(leak), "%s %u\n", LEAK_NAME, 30 * LEAK_SIZE);
    snprintf(cache, sizeof(cache), "%s %u\n", CACHE_NAME, CACHE_BLOCKS * CACHE_SIZE);
    assert_int_equal(lines_of(text), 2);
    assert_non_null(strstr(text, leak));
    assert_non_null(strstr(text, cache));
    assert_int_equal(text[c.size - 1], '\n');
    capture_free(&c);
    fixture_release(&m);
}

/* Frames root first; inlined functions are frames of their own; a name keeps every byte
 * but ';' (which separates frames) and a newline (which separates stacks); a long name is
 * whole. */
static void test_root_first_names_whole(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    static char longname[5001];
    memset(longname, 'n', sizeof(longname) - 1);
    static const struct sym_frame inl = {.function = "std::map<a;b>::insert", .inlined = 1},
                                  real = {.function = "handle\nrequest"},
                                  root = {.function = "main"}, deep = {.function = longname};
    static struct frame frames[4]; /* innermost first, as the model holds them */
    frames[0] = (struct frame){&inl, inl.function};
    frames[1] = (struct frame){&real, real.function};
    frames[2] = (struct frame){&deep, longname};
    frames[3] = (struct frame){&root, root.function};
    render_graft(&m, 1, frames, 4);
    struct capture c;
    render_collapsed(capture_begin(&c), &m);
    const char *text = capture_end(&c);
    assert_int_equal(lines_of(text), 2);
    const char *line = strstr(text, "main;");
    assert_non_null(line);
    assert_true(line == text || line[-1] == '\n');
    const char *end = strchr(line, '\n');
    /* four frames: three separators, then " 3000" */
    size_t seps = 0;
    for (const char *p = line; p < end; p++)
        seps += *p == ';';
    assert_int_equal(seps, 3);
    assert_memory_equal(end - 5, " 3000", 5);
    /* main, then the 5,000-byte name whole, then handle request, then the inlined insert */
    assert_memory_equal(line + 5, longname, 5000);
    assert_int_equal(line[5 + 5000], ';');
    const char *third = line + 5 + 5001;
    assert_memory_equal(third, "handle", 6);
    assert_memory_equal(third + 7, "request;", 8);
    assert_memory_equal(third + 15, "std::map<a", 10);
    assert_memory_equal(third + 26, "b>::insert 3000\n", 16);
    /* the cache's line is untouched */
    assert_non_null(strstr(text, CACHE_NAME " 5000\n"));
    capture_free(&c);
    fixture_release(&m);
}

/* --min-age: only blocks at least that old. The leak's block i is i seconds old (age
 * i * 100 cs), the cache's half a second. */
static void test_min_age(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1,
                  &(struct model_options){.group.by = GROUP_BY_STACK, .group.min_age_cs = 1000});
    struct capture c;
    render_collapsed(capture_begin(&c), &m);
    const char *text = capture_end(&c);
    /* blocks 10..29: 20 x 100 bytes; the cache is too young to have a line */
    assert_string_equal(text, LEAK_NAME " 2000\n");
    capture_free(&c);
    fixture_release(&m);
}

/* Sampled every 100 bytes on average: a block of s bytes was recorded with probability
 * 1 - exp(-s / 100), so it stands for 1 / that many blocks. */
static void test_sampled_estimates(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1,
                      .leak_blocks = 30,
                      .cache_blocks = CACHE_BLOCKS,
                      .sample_interval = 100};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    render_collapsed(capture_begin(&c), &m);
    const char *text = capture_end(&c);
    double leak = 30.0 * LEAK_SIZE / (1 - exp(-(double)LEAK_SIZE / 100)); /* 4,745.9 */
    double cache = (double)CACHE_BLOCKS * CACHE_SIZE / (1 - exp(-(double)CACHE_SIZE / 100));
    char want[64];
    snprintf(want, sizeof(want), "%s %.0f\n", LEAK_NAME, leak);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want), "%s %.0f\n", CACHE_NAME, cache);
    assert_non_null(strstr(text, want));
    assert_int_equal(lines_of(text), 2);
    capture_free(&c);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line_per_stack),
        cmocka_unit_test(test_root_first_names_whole),
        cmocka_unit_test(test_min_age),
        cmocka_unit_test(test_sampled_estimates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
