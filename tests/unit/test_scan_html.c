/* Unit tests of scan_html.c, leaktag-scan --format html, on scan results made in memory
 * (scan_fixture_scan.h). Cases: one self-contained page — its Content-Security-Policy, and
 * no element but the few the page is built of (no script, nothing loaded: no src, no url(),
 * no link); the text's four parts in order with the scan's numbers and bars, for a glibc
 * heap looked at twice and for one that is not glibc's; target text — every name, path,
 * string, match and sample byte from the target, holding '<', '"', a newline, an escape and
 * bytes that are not UTF-8, comes out HTML-escaped with its unprintable bytes as '.', so
 * that the page is printable ASCII. And the verdict (--reach): the Reachability table, who
 * retains the largest reachable classes as lists (a chain's root naming a symbol of the
 * target's, escaped), no verdict and why, and --lost's class of lost chunks. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan.h"
#include "scan_fixture_scan.h"

/* SCAN_FIXTURE_EVIL as the page must show it. */
#define SHOWN "&lt;i&gt;&quot;q&quot;..[2J..&amp;&#39;"

/* The last output, kept here (not in a local) for open_memstream to grow. */
static char *output;
static size_t output_size;

static const char *render(struct scan_fixture *f)
{
    free(output);
    output = NULL;
    FILE *out = open_memstream(&output, &output_size);
    assert_non_null(out);
    scan_render_html(out, &f->s);
    fclose(out);
    return output;
}

static void in_order(const char *text, const char *const *fragments, size_t n)
{
    const char *from = text;
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(from, fragments[i]);
        if (!hit)
            fail_msg("\"%s\" is not in the page (after \"%.60s\")", fragments[i], from);
        from = hit + strlen(fragments[i]);
    }
}

/* Every '<' opens or closes one of the elements the page is made of. */
static void only_known_elements(const char *page)
{
    static const char known[] = " !doctype html head meta title style body h1 h2 h3 p b table "
                                "tr th td div pre ol li ";
    for (const char *p = strchr(page, '<'); p; p = strchr(p + 1, '<')) {
        const char *name = p + 1 + (p[1] == '/');
        size_t n = 0;
        while (name[n] == '!' || isalnum((unsigned char)name[n]))
            n++;
        char word[40];
        snprintf(word, sizeof(word), " %.*s ", (int)(n < 30 ? n : 30), name);
        if (!n || !strstr(known, word))
            fail_msg("an element that is not the page's own: \"%.30s\"", p);
    }
}

/* Printable ASCII and newlines, and the target's markup escaped. */
static void escaped_page(const char *page)
{
    for (const char *p = page; *p; p++)
        if (!((*p >= 0x20 && *p < 0x7f) || *p == '\n'))
            fail_msg("byte %#x at %zu left as is", (unsigned char)*p, (size_t)(p - page));
    assert_null(strstr(page, "<i>"));
}

static void test_self_contained(void **state)
{
    (void)state;
    for (int glibc = 0; glibc < 2; glibc++) {
        struct scan_fixture f;
        scan_fixture_build(&f, 2, glibc);
        const char *page = render(&f);
        assert_memory_equal(page, "<!doctype html>\n", 16);
        assert_non_null(strstr(page, "<meta http-equiv=\"Content-Security-Policy\" "
                                     "content=\"default-src 'none'; style-src "
                                     "'unsafe-inline'\">"));
        const char *csp_end = strstr(page, "'unsafe-inline'\">") + 17;
        static const char *const loads[] = {"<script", "src=",   "href",  "url(", "@import",
                                            "http:",   "https:", "<link", "<img"};
        for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++)
            if (strstr(csp_end, loads[i]))
                fail_msg("the page loads or runs something: %s", loads[i]);
        only_known_elements(page);
        size_t len = strlen(page);
        assert_string_equal(page + len - 15, "</body></html>\n");
        scan_free(&f.s);
    }
}

static void test_parts(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 2, true);
    const char *page = render(&f);
    static const char *const parts[] = {
        "<p id=summary>64-bit, not stopped; heap walked in 0.250 s</p>",
        "<h2>Memory</h2><p>48.3 MiB mapped, 32.4 MiB resident</p>",
        "<tr><td>heap</td><td class=n>1</td><td class=n>32.0 MiB</td>",
        "<h3>Grew in 10.0 s</h3>",
        "<td>[heap] (malloc&#39;s main arena)</td><td class=n>+8.0 MiB</td>",
        "<h2>glibc heap</h2>",
        "in use <b>1.7 MiB</b> in 1,052 chunks (5.2 %); free 3.0 MiB in 52 chunks (9 in "
        "tcaches, 3 in fastbins)",
        "<p class=why>2 chunks failed a check: the heap changed under the walk (--freeze)</p>",
        "<tr><td class=n>1,496</td><td class=n>1,000</td><td class=n>1.4 MiB</td>"
        "<td class=n>84.2 %</td><td class=bar><div style=\"width:84.2%\"></div></td>"
        "<td class=n>+200</td></tr>",
        "<h2>Size class 1,496 B</h2><p>1,000 chunks read, 1.4 MiB</p>",
        "<h3>grep 'id=\\d+': 603 matches in 552 of 1,000</h3>",
        "<tr><td class=n>600</td><td class=t>id=4099</td></tr>",
        "<h3>Strings</h3>",
        "<p class=at>at 0x55555555a010 (48 of 1496 bytes)</p><pre>00000000: 3c69 3e22",
        "<h2>Threads</h2><p>3 threads; stack rlimit 8.0 MiB; their stacks reserve 16.0 MiB",
        "<tr><td>io-*</td><td class=n>2</td><td class=n>8.0 MiB</td><td class=n>16.0 MiB</td>",
    };
    in_order(page, parts, sizeof(parts) / sizeof(parts[0]));
    scan_free(&f.s);

    scan_fixture_build(&f, 1, false);
    page = render(&f);
    static const char *const other[] = {
        "<h2>Memory</h2>",
        "<h2>glibc heap</h2>\n<p class=why>not glibc&#39;s heap: /usr/lib/" SHOWN
        "/libjemalloc.so.2 is mapped",
        "<h2>Region 0x7ffff0000000-0x7ffff4000000</h2><p>64.0 MiB read</p>",
        "<h2>Threads</h2>",
    };
    in_order(page, other, sizeof(other) / sizeof(other[0]));
    assert_null(strstr(page, "Grew in"));
    assert_null(strstr(page, "<table id=classes>"));
    scan_free(&f.s);
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

static void test_target_text(void **state)
{
    (void)state;
    for (int glibc = 0; glibc < 2; glibc++) {
        struct scan_fixture f;
        scan_fixture_build(&f, 2, glibc);
        const char *page = render(&f);
        escaped_page(page);
        assert_non_null(strstr(page, "<title>leaktag-scan: pid 4242 (" SHOWN ")</title>"));
        assert_non_null(strstr(page, "<h1>leaktag-scan: pid 4242 (" SHOWN ")</h1>"));
        assert_non_null(strstr(page, "<td>/srv/app/" SHOWN "server</td>")); /* grew */
        assert_non_null(strstr(page, "<td class=t>" SHOWN "</td>"));        /* strings */
        assert_non_null(strstr(page, "<td>" SHOWN " (main)</td>"));         /* a family */
        assert_non_null(strstr(page, "<td>" SHOWN "</td></tr>"));           /* started in */
        assert_non_null(strstr(page, "3c69 3e22 7122 0a1b 5b32 4aff fe26 2763  " SHOWN "c\n"));
        /* title, h1, grew, grep and strings, hexdump, both families; and why, if not glibc */
        assert_int_equal(count(page, SHOWN), 8 + !glibc);
        scan_free(&f.s);
    }
}

/* ---- the verdict (--reach) ---------------------------------------------------------------- */

/* The Reachability table after the heap's: all chunks, then each class, most lost first. */
static void test_verdict_table(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    const char *page = render(&f);
    static const char *const parts[] = {
        "<table id=classes>",
        "</table>\n<h2>Reachability</h2>\n"
        "<p>valgrind's categories over 1,052 chunks from 37 roots, 0.125 s</p>\n"
        "<p class=why>2 chunks failed the walk&#39;s checks and were skipped: what only they "
        "point at is counted lost</p>\n"
        "<table id=reachability><tr><th>usable size</th><th>definitely lost</th>"
        "<th>indirectly lost</th><th>possibly lost</th><th>reachable</th></tr>\n"
        "<tr><td>all</td><td class=n>877 KiB in 600</td><td class=n>146 KiB in 100</td>"
        "<td class=n>73.0 KiB in 50</td><td class=n>638 KiB in 302</td></tr>\n"
        "<tr><td class=n>1,496</td><td class=n>877 KiB in 600</td><td class=n>146 KiB in 100</td>"
        "<td class=n>73.0 KiB in 50</td><td class=n>365 KiB in 250</td></tr>\n"
        "<tr><td class=n>139,248</td><td class=n></td><td class=n></td><td class=n></td>"
        "<td class=n>272 KiB in 2</td></tr>\n"
        "<tr><td class=n>24</td><td class=n></td><td class=n></td><td class=n></td>"
        "<td class=n>1.2 KiB in 50</td></tr>\n</table>\n",
        "<h2>Size class 1,496 B</h2><p>1,000 chunks read, 1.4 MiB</p>",
    };
    in_order(page, parts, sizeof(parts) / sizeof(parts[0]));
    only_known_elements(page);
    scan_free(&f.s);
}

/* Who retains: a list per class, most reachable bytes first, root first; the root's name (a
 * symbol of the target's) escaped. */
static void test_verdict_chain(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    const char *page = render(&f);
    static const char *const parts[] = {
        "</table>\n<h3>Who retains 1,496 B x 250</h3><ol class=chain><li>global " SHOWN
        "+0x8 (server)</li><li>chunk 0x55555555a5e0 (usable 1496), at +0x10</li>"
        "<li>chunk 0x55555555abc0 (usable 1496) of this class</li></ol>\n",
        "<h3>Who retains 139,248 B x 2</h3><ol class=chain><li>the stack of thread io-2 (tid "
        "4244), 112 bytes above its stack pointer, in the frame of worker_main</li>"
        "<li>chunk 0x7ffff7a00010 (usable 139248) of this class</li></ol>\n",
        "<h3>Who retains 24 B x 50</h3><ol class=chain><li>a register of thread io-1 (tid "
        "4243)</li><li>chunk 0x5555555d0010 (usable 24) of this class</li></ol>\n",
        "<h2>Size class",
    };
    in_order(page, parts, sizeof(parts) / sizeof(parts[0]));
    escaped_page(page);
    scan_free(&f.s);
}

/* No --reach, no section; --reach and no verdict: why, escaped. */
static void test_no_verdict(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    const char *page = render(&f);
    assert_null(strstr(page, "Reachability"));
    scan_fixture_verdict(&f, SCAN_FIXTURE_NO_VERDICT);
    page = render(&f);
    assert_non_null(strstr(page, "</table>\n<h2>Reachability</h2>\n<p class=why>No verdict: a "
                                 "running process&#39;s heap changes under the mark (--freeze "
                                 "stops it)</p>\n<h2>Size class"));
    assert_null(strstr(page, "<table id=reachability>"));
    scan_free(&f.s);

    scan_fixture_build(&f, 1, false);
    scan_fixture_verdict(&f, SCAN_FIXTURE_NO_VERDICT);
    page = render(&f);
    assert_non_null(strstr(page, "<h2>Reachability</h2>\n<p class=why>No verdict: the heap is "
                                 "not glibc&#39;s, whose chunks the verdict reads: not glibc&#39;s "
                                 "heap: /usr/lib/" SHOWN "/libjemalloc.so.2 is mapped and its "
                                 "malloc serves the process</p>\n<h2>Region "));
    escaped_page(page);
    scan_free(&f.s);
}

/* --lost: the class shown is its lost chunks. */
static void test_verdict_lost(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    assert_non_null(strstr(render(&f), "<h2>Size class 1,496 B</h2><p>1,000 chunks read, "));
    scan_free(&f.s);
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT_LOST);
    assert_non_null(
        strstr(render(&f), "<h2>Size class 1,496 B</h2><p>700 lost chunks read, 1023 KiB</p>"));
    scan_free(&f.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_contained), cmocka_unit_test(test_parts),
        cmocka_unit_test(test_target_text),    cmocka_unit_test(test_verdict_table),
        cmocka_unit_test(test_verdict_chain),  cmocka_unit_test(test_no_verdict),
        cmocka_unit_test(test_verdict_lost),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(output);
    return failed;
}
