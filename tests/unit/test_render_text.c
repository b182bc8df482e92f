/* test_render_text.c — render_text.c, the report for people (docs/REPORT.md), on models built
 * in memory (model_fixture.h): the header and the groups largest first with their share,
 * stack and the line for the groups not shown; --diff's growth, suspects first, and the
 * trend; a reachability scan's totals, each group's split and the chain that retains the
 * cache; hexdumps, strings and --grep counts of a census, with the line over all groups; and
 * names from the snapshot that never reach the terminal as control characters. Byte counts
 * are printed as units.h writes them ("2.9 KiB"): the test formats the fixture's numbers so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "content.h"
#include "render.h"
#include "render_fixture.h"
#include "units.h"

static const struct render_options plain_text = {.samples_shown = 0, .strings_shown = 10};

static const char *report(struct capture *c, const struct model *m,
                          const struct render_options *o)
{
    render_text(capture_begin(c), m, o);
    return capture_end(c);
}

/* Where the formatted needle is in text (from `from` on); fails the test when it is not. */
static const char *find(const char *from, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *find(const char *from, const char *fmt, ...)
{
    char needle[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(needle, sizeof(needle), fmt, ap);
    va_end(ap);
    const char *p = strstr(from, needle);
    if (!p)
        fail_msg("not in the report: \"%s\"", needle);
    return p;
}

/* "2.9 KiB": n bytes as the report writes them. */
static const char *bytes(char buf[static 32], uint64_t n)
{
    return units_bytes(buf, 32, (int64_t)n);
}

static void test_header_and_groups(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 86400ull * 1000000000, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = report(&c, &m, &plain_text);
    char b[32];
    find(text, "leaktag report: server (pid 4242)\n");
    find(text, "taken 1970-01-02 00:00:00 UTC, reason: test");
    find(text, "live: %s in 35 blocks", bytes(b, 8000));
    find(text, "2 groups by stack, largest first\n");
    /* the cache, 5,000 of 8,000 live bytes, then the leak; each with its stack */
    const char *cache = find(text, "\n#1  %s (62.5%% of live) in 5 blocks", bytes(b, 5000));
    const char *leak = find(text, "\n#2  %s (37.5%% of live) in 30 blocks", bytes(b, 3000));
    assert_true(cache < leak);
    assert_true(find(cache, "0x402000\n") < leak);
    find(leak, "0x401000\n");
    find(leak, "worker-");
    assert_null(strstr(text, "more groups"));
    assert_null(strstr(text, "\033"));
    capture_free(&c);

    /* colour: on only when asked */
    const struct render_options colour = {.color = true};
    text = report(&c, &m, &colour);
    find(text, "\033[1mleaktag report: server");
    capture_free(&c);
    fixture_release(&m);

    /* --top 1: the leak is left out, and a last line says so */
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK, .top = 1});
    text = report(&c, &m, &plain_text);
    assert_null(strstr(text, "#2"));
    find(text, "\n... 1 more groups with %s (--top 0 shows all)\n", bytes(b, 3000));
    capture_free(&c);
    fixture_release(&m);
}

/* --diff over three snapshots: the leak grows 10, 20, 30 blocks, the cache stays. */
static void test_diff_growth(void **state)
{
    (void)state;
    struct spec sp[3];
    for (uint32_t i = 0; i < 3; i++)
        sp[i] = (struct spec){.time_ns = (i + 1) * 60000000000ull,
                              .leak_blocks = 10 * (i + 1),
                              .cache_blocks = CACHE_BLOCKS};
    struct model m;
    fixture_model(&m, sp, 3, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = report(&c, &m, &plain_text);
    char b[32], b2[32], b3[32];
    find(text, "compared with 2 earlier snapshots");
    find(text, "fastest growing first\n");
    const char *leak = find(text, "\n#1  %s", bytes(b, 3000));
    const char *cache = find(text, "\n#2  %s", bytes(b, 5000));
    assert_true(leak < cache);
    const char *growth = find(leak, "growth: +%s, +20 blocks", bytes(b, 2000));
    assert_true(growth < cache);
    assert_true(find(leak, "grew in every interval") < cache);
    assert_true(find(leak, "%s -> %s -> %s\n", bytes(b, 1000), bytes(b2, 2000),
                     bytes(b3, 3000)) < cache);
    find(cache, "growth: +%s, +0 blocks", bytes(b, 0));
    assert_null(strstr(cache, "grew in every interval"));
    capture_free(&c);
    fixture_release(&m);
}

/* A scan: the leak lost, the cache reachable from the word at GLOBALS + 8 of a mapping that
 * is no module's. */
static void test_reachability_and_retention(void **state)
{
    (void)state;
    struct spec sp = {
        .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .reach = true};
    struct model m;
    fixture_model(&m, &sp, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    struct capture c;
    const char *text = report(&c, &m, &plain_text);
    char b[32];
    const char *groups = find(text, "2 groups by stack, most lost bytes first\n");
    /* the header's totals: every category, these two with blocks in them */
    const char *lost = find(text, "definitely lost: %s in 30 blocks", bytes(b, 3000));
    const char *reachable = find(text, "reachable: %s in 5 blocks", bytes(b, 5000));
    assert_true(lost < groups && reachable < groups);
    const char *leak = find(groups, "\n#1  %s", bytes(b, 3000));
    const char *cache = find(groups, "\n#2  %s", bytes(b, 5000));
    assert_true(find(leak, "definitely lost: %s in 30 blocks", bytes(b, 3000)) < cache);
    assert_true(find(leak, "retained") > cache); /* the cache's, not the leak's */
    find(cache, "reachable: %s in 5 blocks", bytes(b, 5000));
    /* the chain: the root (by its range), then the cache's first block */
    const char *chain = find(cache, "retained (one block of the group, 1 reference from a root)");
    const char *root = find(chain, "0x600000-0x601000");
    find(root, "-> 0x%x: this group's block", FIRST_BLOCK + 30 * 0x100);
    capture_free(&c);
    fixture_release(&m);
}

/* A census (block i: "GET /q?channelid=C&seq=i GET channelid=C", C = 4100 for every third
 * block) with --grep: two hexdumps, the strings, the counts per group and over all. */
static void test_samples_strings_grep(void **state)
{
    (void)state;
    struct model m;
    struct content_regex *re = fixture_census_model(&m);
    struct capture c;
    const struct render_options o = {.samples_shown = 2, .strings_shown = 10};
    const char *text = report(&c, &m, &o);
    char b[32];
    const char *leak = find(text, "\n#2  %s", bytes(b, 3000));
    find(leak, "samples: 2 of 30");
    /* block 0's dump: its first 16 bytes in the text column */
    const char *block0 = find(leak, "block 0x%x (%s)", FIRST_BLOCK, bytes(b, LEAK_SIZE));
    find(block0, "GET /q?channelid\n");
    find(leak, "block 0x%x", FIRST_BLOCK + 0x100);
    assert_null(strstr(leak, "block 0x10000200"));
    /* the strings: "channelid=4099" in 20 blocks, "/q?channelid=4100" in 10 */
    find(leak, "20  channelid=4099\n");
    find(leak, "10  /q?channelid=4100\n");
    /* --grep: two matches a block, in 20 + 10 blocks */
    const char *grep = find(leak, "grep 'channelid=\\d+': 60 matches in 30 of 30 blocks");
    const char *b4099 = find(grep, "20 blocks  channelid=4099\n");
    const char *b4100 = find(grep, "10 blocks  channelid=4100\n");
    assert_true(b4099 < b4100);
    /* the last line, over both groups shown (the cache has no samples) */
    find(b4100, "grep 'channelid=\\d+' over the 2 groups shown: 60 matches in 30 of 30 "
                "blocks searched\n");
    capture_free(&c);
    fixture_release(&m);
    content_regex_free(re);
}

/* Thread names and the command line may hold any byte: an escape sequence in them must not
 * reach a terminal. */
static void hostile(struct lts_snapshot *s, size_t i)
{
    (void)i;
    static const char cmdline[] = "srv\0--title\0\x1b]0;owned\x07\x1b[2J";
    s->cmdline = cmdline;
    s->cmdline_len = sizeof(cmdline) - 1;
    s->threads[1].name = "worker\x1b[31m\r\x7f-1";
    s->threads[2].name = "cache\n\t-0";
    s->exe = "srv\x1b[2J";           /* the program names itself */
    s->reason = "r\x1b]0;t\x07";      /* leaktag_snapshot(reason) is the program's text */
}

/* A frame whose function, file and module names hold control characters (a JIT's names,
 * a path with an escape). */
static void hostile_frame(struct model *m)
{
    static const struct sym_frame sym = {.function = "handle\x1b[31mrequest",
                                         .file = "/src/\x1b[2Jx.c",
                                         .line = 7,
                                         .module = "lib\x07.so"};
    static struct frame frames[1];
    frames[0] = (struct frame){&sym, sym.function};
    render_graft(m, 1, frames, 1);
}

static void test_no_control_characters(void **state)
{
    (void)state;
    struct spec sp = {.time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS};
    static const enum group_by by[] = {GROUP_BY_STACK, GROUP_BY_THREAD};
    for (size_t k = 0; k < 2; k++) {
        struct model m;
        render_model(&m, &sp, 1, &(struct model_options){.group.by = by[k]}, hostile);
        hostile_frame(&m);
        struct capture c;
        const char *text = report(&c, &m, &plain_text);
        /* the names are there, their control characters are not */
        find(text, "cmdline: srv --title ");
        find(text, "srv?[2J");
        find(text, "reason: r?]0;t?");
        if (by[k] == GROUP_BY_STACK)
            find(text, "handle?[31mrequest  /src/?[2Jx.c:7  [lib?.so]");
        find(text, "worker");
        find(text, "cache");
        for (size_t i = 0; i < c.size; i++) {
            unsigned char ch = (unsigned char)text[i];
            if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
                fail_msg("by %d: byte 0x%02x at offset %zu", (int)by[k], ch, i);
        }
        capture_free(&c);
        fixture_release(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_groups),
        cmocka_unit_test(test_diff_growth),
        cmocka_unit_test(test_reachability_and_retention),
        cmocka_unit_test(test_samples_strings_grep),
        cmocka_unit_test(test_no_control_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
