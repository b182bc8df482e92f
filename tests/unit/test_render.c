/* test_render.c — render.h, the contract every renderer keeps (there is no render.c: the
 * module is its header, and main.c picks the renderer): each reads the model and writes its
 * format, "none computes what the model already knows". On models built in memory
 * (model_fixture.h): every renderer leaves the model as it found it and writes the same bytes
 * twice; and the outputs agree with the model and with each other on which groups are shown
 * (--top), what --min-age leaves, and the bytes of each (text, JSON, collapsed, HTML, dump). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "content.h"
#include "render.h"
#include "render_fixture.h"
#include "units.h"

/* What a renderer could change in the model, written out as text. */
static char *fingerprint(const struct model *m)
{
    struct capture c;
    FILE *f = capture_begin(&c);
    fprintf(f, "%zu %zu %llu %llu %llu %llu\n", m->nsnaps, m->lost_groups,
            (unsigned long long)m->live_bytes, (unsigned long long)m->live_blocks,
            (unsigned long long)m->grouping.live_bytes,
            (unsigned long long)m->grouping.live_blocks);
    for (size_t i = 0; i < m->grouping.ngroups; i++) {
        const struct group *g = &m->grouping.groups[i];
        fprintf(f, "%s %d %llu %llu %zu %zu %lld %u %p\n", g->key, model_shows(m, i),
                (unsigned long long)g->bytes, (unsigned long long)g->blocks, g->nsamples,
                g->nthreads, (long long)g->delta_bytes, g->stack, (const void *)g->retained);
        for (size_t k = 0; k < g->nsamples; k++)
            fprintf(f, " %p %u", (const void *)g->samples[k].bytes, g->samples[k].kept);
    }
    for (size_t i = 0; i < m->nsnaps; i++) {
        const struct analysis *a = &m->snaps[i];
        for (size_t st = 0; st < a->snap->nstacks; st++)
            fprintf(f, "%g %g %llu ", a->stack_bytes[st], a->stack_blocks[st],
                    (unsigned long long)a->stack_lost[st]);
        fprintf(f, "%s\n", a->snap->exe);
    }
    capture_end(&c);
    return c.text;
}

/* Renders m in `format` (0 text, 1 JSON, 2 collapsed, 3 HTML, 4 pprof, 5 dump) into c. */
static void render(struct capture *c, const struct model *m, int format)
{
    static const struct render_options o = {.samples_shown = 3, .strings_shown = 10};
    struct lts_error err;
    FILE *f = capture_begin(c);
    switch (format) {
    case 0: render_text(f, m, &o); break;
    case 1: render_json(f, m); break;
    case 2: render_collapsed(f, m); break;
    case 3: assert_int_equal(render_html(f, m, &err), 0); break;
    case 4: assert_int_equal(render_pprof(f, m, &err), 0); break;
    default: {
        char path[] = "/tmp/test_render.XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(render_dump(m, path, NULL, &err), 0);
        FILE *in = fopen(path, "rb");
        assert_non_null(in);
        int ch;
        while ((ch = fgetc(in)) != EOF)
            fputc(ch, f);
        fclose(in);
        unlink(path);
    }
    }
    capture_end(c);
    assert_true(c->size > 0);
}

static void test_renderers_only_read_the_model(void **state)
{
    (void)state;
    struct lts_error err;
    struct content_regex *re = content_regex_compile("channelid=\\d+", &err);
    assert_non_null(re);
    struct spec sp[2] = {
        {.time_ns = 1, .leak_blocks = 10, .cache_blocks = CACHE_BLOCKS, .census = true,
         .reach = true},
        {.time_ns = 2, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .census = true,
         .reach = true}};
    struct model m;
    fixture_model(&m, sp, 2,
                  &(struct model_options){.group.by = GROUP_BY_STACK,
                                          .group.grep = re,
                                          .grep_pattern = "channelid=\\d+",
                                          .count_contents = true,
                                          .keep_samples = 3});
    char *before = fingerprint(&m);
    for (int format = 0; format < 6; format++) {
        struct capture first, again;
        render(&first, &m, format);
        char *after = fingerprint(&m);
        if (strcmp(before, after) != 0)
            fail_msg("format %d changed the model", format);
        free(after);
        render(&again, &m, format);
        if (first.size != again.size || memcmp(first.text, again.text, first.size) != 0)
            fail_msg("format %d wrote different bytes the second time", format);
        capture_free(&first);
        capture_free(&again);
    }
    free(before);
    fixture_release(&m);
    content_regex_free(re);
}

/* The sum of the counts of collapsed lines ("frames count"). */
static uint64_t collapsed_total(const char *text, size_t *lines)
{
    uint64_t total = 0;
    *lines = 0;
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        const char *space = end;
        while (space > line && space[-1] != ' ')
            space--;
        total += strtoull(space, NULL, 10);
        (*lines)++;
    }
    return total;
}

/* --min-age 0.5 s keeps the cache (0.5 s old) and leak blocks 1..29 (the first is 0 s old):
 * 5,000 and 2,900 bytes; --top 1 shows the cache only. */
static void test_renderers_agree(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .census = true};
    struct model m;
    fixture_model(&m, &sp, 1,
                  &(struct model_options){.group.by = GROUP_BY_STACK,
                                          .group.min_age_cs = 50,
                                          .top = 1,
                                          .count_contents = true,
                                          .keep_samples = 3});
    assert_int_equal(m.grouping.live_bytes, 7900);
    struct capture text, json, collapsed, html;
    render(&text, &m, 0);
    render(&json, &m, 1);
    render(&collapsed, &m, 2);
    render(&html, &m, 3);
    /* collapsed stacks: every stack, after --min-age, not only the shown group */
    size_t lines;
    assert_int_equal(collapsed_total(collapsed.text, &lines), 7900);
    assert_int_equal(lines, 2);
    assert_non_null(strstr(collapsed.text, " 2900\n"));
    /* JSON: the same totals, the one group shown, the other counted */
    assert_non_null(strstr(json.text, "\"shown_bytes\": 7900, \"shown_blocks\": 34"));
    assert_non_null(strstr(json.text, "\"groups\": 2"));
    assert_int_equal(count_of(json.text, "\"rank\": "), 1);
    assert_non_null(strstr(json.text, "{\"rank\": 1, "));
    assert_non_null(strstr(json.text, "\"bytes\": 5000, \"blocks\": 5,"));
    /* text: the same group, the other one in the last line with its 2,900 bytes */
    char b[32], want[128];
    snprintf(want, sizeof(want), "\n#1  %s", units_bytes(b, sizeof(b), 5000));
    assert_non_null(strstr(text.text, want));
    assert_null(strstr(text.text, "\n#2"));
    snprintf(want, sizeof(want), "1 more groups with %s", units_bytes(b, sizeof(b), 2900));
    assert_non_null(strstr(text.text, want));
    /* HTML carries the JSON report as it is */
    assert_non_null(memmem(html.text, html.size, json.text, json.size));
    /* the dump: the shown group's samples only, and the cache has none */
    struct lts_error err;
    char path[] = "/tmp/test_render.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(render_dump(&m, path, NULL, &err), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fgetc(f), EOF);
    fclose(f);
    unlink(path);
    capture_free(&text);
    capture_free(&json);
    capture_free(&collapsed);
    capture_free(&html);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renderers_only_read_the_model),
        cmocka_unit_test(test_renderers_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
