/* test_render_html.c — render_html.c and html_assets (the generated html_assets.c), the one
 * self-contained page of docs/REPORT.md ("HTML"), on models built in memory
 * (model_fixture.h): the page carries its stylesheet and script and loads nothing; its data
 * is the JSON report as render_json writes it plus every stack of the newest snapshot with
 * live bytes, blocks and lost bytes; frames merged by name, as flame graphs do; and no text
 * from the snapshot (exe, a frame's name) can close the title or the data's <script>. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "html_assets.h"
#include "render.h"
#include "render_fixture.h"

#define DATA_OPEN "<script type=\"application/json\" id=\"leaktag-data\">"

static const char *page(struct capture *c, const struct model *m)
{
    struct lts_error err;
    assert_int_equal(render_html(capture_begin(c), m, &err), 0);
    return capture_end(c);
}

/* The page's data: what DATA_OPEN opens, up to the first "</script" after it (where a
 * browser ends it, whatever the JSON says); valid JSON. */
static const char *data_of(const char *text, size_t *n)
{
    const char *open = strstr(text, DATA_OPEN);
    assert_non_null(open);
    const char *data = open + strlen(DATA_OPEN);
    const char *end = strstr(data, "</script");
    assert_non_null(end);
    *n = (size_t)(end - data);
    assert_true(json_valid(data, *n));
    return data;
}

/* Occurrences of needle in the page's own markup: the stylesheet and the script, which say
 * "<script" in their comments, left out. */
static size_t page_count(const char *text, const char *needle)
{
    return count_of(text, needle) - count_of(lt_html_css, needle) - count_of(lt_html_js, needle);
}

/* The index of the frame named `name` in the flame graph's frame table. */
static size_t frame_index(const char *flame, const char *name)
{
    const char *frames = strstr(flame, "\"frames\": [");
    assert_non_null(frames);
    char entry[128];
    snprintf(entry, sizeof(entry), "{\"n\": \"%s\"", name);
    const char *at = strstr(frames, entry);
    if (!at)
        fail_msg("no frame %s", name);
    size_t index = 0;
    for (const char *p = frames; (p = strstr(p, "{\"n\": ")) && p < at; p++)
        index++;
    return index;
}

static void test_self_contained_page(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = page(&c, &m);
    assert_memory_equal(text, "<!DOCTYPE html>", 15);
    assert_non_null(strstr(text, "Content-Security-Policy\" content=\"default-src 'none'"));
    assert_non_null(strstr(text, "<title>leaktag: server (pid 4242)</title>"));
    /* the stylesheet and the script are in the page, whole; neither could end its element */
    assert_true(strlen(lt_html_css) > 100 && strlen(lt_html_js) > 1000);
    assert_non_null(strstr(text, lt_html_css));
    assert_non_null(strstr(text, lt_html_js));
    assert_null(strcasestr(lt_html_css, "</style"));
    assert_null(strcasestr(lt_html_js, "</script"));
    /* and neither asks for anything: no stylesheet import or url(), no request from script */
    static const char *const css_loads[] = {"@import", "url("};
    static const char *const js_loads[] = {"fetch(", "XMLHttpRequest", "import(", "WebSocket",
                                           "EventSource", "sendBeacon", ".src"};
    for (size_t i = 0; i < sizeof(css_loads) / sizeof(css_loads[0]); i++)
        assert_null(strcasestr(lt_html_css, css_loads[i]));
    for (size_t i = 0; i < sizeof(js_loads) / sizeof(js_loads[0]); i++)
        assert_null(strstr(lt_html_js, js_loads[i]));
    /* nothing loaded from elsewhere: two inline scripts, no link, image, frame or source */
    assert_int_equal(page_count(text, "<script"), 2);
    assert_int_equal(page_count(text, "</script>"), 2);
    assert_null(strcasestr(text, "<link"));
    assert_null(strcasestr(text, "<img"));
    assert_null(strcasestr(text, "<iframe"));
    assert_null(strcasestr(text, "<script src"));
    assert_int_equal(page_count(text, "</html>"), 1);
    assert_string_equal(text + c.size - 8, "</html>\n");
    capture_free(&c);
    fixture_release(&m);
}

/* The data: {"report": the JSON report, "flame": {"scan": B, "stacks": [[bytes, blocks,
 * lost, [frame...]]], "frames": [{"n", "m", "f"}]}}. */
static void test_data_carries_report_and_stacks(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c, json;
    const char *text = page(&c, &m);
    size_t n;
    const char *data = data_of(text, &n);
    /* the report, byte for byte as render_json writes it for this model */
    render_json(capture_begin(&json), &m);
    capture_end(&json);
    assert_memory_equal(data, "{\"report\": ", 11);
    assert_true(n > 11 + json.size);
    assert_memory_equal(data + 11, json.text, json.size);
    const char *flame = data + 11 + json.size;
    static const char flame_open[] = ",\n\"flame\": {\"scan\": true, \"stacks\": [";
    assert_memory_equal(flame, flame_open, sizeof(flame_open) - 1);
    /* the leak: 3,000 bytes in 30 blocks, all lost; the cache: 5,000 in 5, none lost */
    char want[96];
    snprintf(want, sizeof(want), "[3000, 30, 3000, [%zu]]", frame_index(flame, "0x401000"));
    assert_non_null(strstr(flame, want));
    snprintf(want, sizeof(want), "[5000, 5, 0, [%zu]]", frame_index(flame, "0x402000"));
    assert_non_null(strstr(flame, want));
    /* the empty stack has no bytes: two stacks, two frames, in no module and no file */
    assert_int_equal(count_of(flame, "{\"n\": "), 2);
    assert_int_equal(count_of(flame, ", \"m\": null, \"f\": null}"), 2);
    capture_free(&json);
    capture_free(&c);
    fixture_release(&m);
}

/* Two stacks that share their callers: main and dispatch are one frame each in the table,
 * and each stack lists its frames root first. */
static void test_frames_merged_by_name(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    static const struct sym_frame leak = {.function = "leak_alloc", .module = "server"},
                                  cache = {.function = "cache_fill", .module = "server"},
                                  dispatch = {.function = "dispatch", .file = "/src/d.c"},
                                  dispatch2 = {.function = "dispatch", .file = "/src/d.c"},
                                  root = {.function = "main"}, root2 = {.function = "main"};
    static const struct frame leak_frames[] = {
        {&leak, "leak_alloc"}, {&dispatch, "dispatch"}, {&root, "main"}};
    static const struct frame cache_frames[] = {
        {&cache, "cache_fill"}, {&dispatch2, "dispatch"}, {&root2, "main"}};
    render_graft(&m, 1, leak_frames, 3);
    render_graft(&m, 2, cache_frames, 3);
    struct capture c;
    const char *text = page(&c, &m);
    size_t n;
    const char *flame = strstr(data_of(text, &n), "\"flame\": ");
    assert_non_null(flame);
    assert_int_equal(count_of(flame, "{\"n\": "), 4);
    assert_int_equal(count_of(flame, "{\"n\": \"main\""), 1);
    assert_int_equal(count_of(flame, "{\"n\": \"dispatch\""), 1);
    assert_non_null(strstr(flame, "{\"n\": \"dispatch\", \"m\": null, \"f\": \"/src/d.c\"}"));
    assert_non_null(strstr(flame, "{\"n\": \"leak_alloc\", \"m\": \"server\", \"f\": null}"));
    size_t main_i = frame_index(flame, "main"), dispatch_i = frame_index(flame, "dispatch");
    char want[96];
    snprintf(want, sizeof(want), "[3000, 30, 0, [%zu,%zu,%zu]]", main_i, dispatch_i,
             frame_index(flame, "leak_alloc"));
    assert_non_null(strstr(flame, want));
    snprintf(want, sizeof(want), "[5000, 5, 0, [%zu,%zu,%zu]]", main_i, dispatch_i,
             frame_index(flame, "cache_fill"));
    assert_non_null(strstr(flame, want));
    capture_free(&c);
    fixture_release(&m);
}

/* An exe and a function named to break out of the title and the data. */
static void hostile_exe(struct lts_snapshot *s, size_t i)
{
    (void)i;
    s->exe = "a<b&c</title></script><script>alert(1)//";
}

static void test_snapshot_text_escaped(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    render_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK}, hostile_exe);
    static const struct sym_frame evil = {.function = "</script><script>alert(2)</script>"};
    static const struct frame frames[] = {{&evil, "</script><script>alert(2)</script>"}};
    render_graft(&m, 1, frames, 1);
    struct capture c;
    const char *text = page(&c, &m);
    assert_non_null(strstr(
        text, "<title>leaktag: a&lt;b&amp;c&lt;/title>&lt;/script>&lt;script>alert(1)// (pid "));
    assert_int_equal(page_count(text, "</title>"), 1);
    /* the data runs to its own end: valid, and holds both names */
    size_t n;
    const char *data = data_of(text, &n);
    assert_memory_equal(data + n, "</script>", 9);
    assert_non_null(strstr(data, "a\\u003cb&c\\u003c/title>\\u003c/script>"));
    assert_non_null(strstr(data, "{\"n\": \"\\u003c/script>\\u003cscript>alert(2)"));
    assert_int_equal(page_count(text, "</script>"), 2);
    assert_int_equal(page_count(text, "<script"), 2);
    capture_free(&c);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_contained_page),
        cmocka_unit_test(test_data_carries_report_and_stacks),
        cmocka_unit_test(test_frames_merged_by_name),
        cmocka_unit_test(test_snapshot_text_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
