/* Unit tests of scan_text.c, leaktag-scan's text, on scan results made in memory
 * (scan_fixture_scan.h). Cases: a glibc heap looked at twice — docs/SCAN.md's four parts in
 * order (memory and what grew, the glibc heap and its size classes with their growth, the
 * size class shown, threads) with the scan's numbers, bold only when asked; a heap that is
 * not glibc's in a core — why, the largest region instead of a class, what a core lacks;
 * the chunks' bytes (strings, --grep matches, hexdump) with their control characters and
 * bytes that are not ASCII shown as '.'; and the other text that came from the target (the
 * process's and threads' names, the executable's and mappings' paths, why the heap is not
 * glibc's): no control character or byte that is not ASCII may reach the terminal either.
 * And the verdict (--reach): the four categories in all, the table by class, who retains the
 * largest reachable classes (a chain's root naming a global of the target's, shown printable),
 * no verdict and why, and --lost's class of lost chunks. */
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

/* What the target's text becomes once shown: each control byte and each byte past ASCII as
 * '.', as print_text shows the chunks' strings. */
#define SHOWN "<i>\"q\"..[2J..&'"

/* The last output, kept here (not in a local) for open_memstream to grow. */
static char *output;
static size_t output_size;

static const char *render(struct scan_fixture *f)
{
    free(output);
    output = NULL;
    FILE *out = open_memstream(&output, &output_size);
    assert_non_null(out);
    scan_render_text(out, &f->s);
    fclose(out);
    return output;
}

/* Each fragment in the text, in this order. */
static void in_order(const char *text, const char *const *fragments, size_t n)
{
    const char *from = text;
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(from, fragments[i]);
        if (!hit)
            fail_msg("\"%s\" is not in the text (after \"%.40s\")", fragments[i], from);
        from = hit + strlen(fragments[i]);
    }
}

/* No control character but the newline, no byte past ASCII. */
static void only_printable(const char *text)
{
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\n') || c >= 0x7f) {
            char before[41]; /* what precedes it, itself made printable for the message */
            size_t n = (size_t)(p - text) < 40 ? (size_t)(p - text) : 40;
            for (size_t i = 0; i < n; i++)
                before[i] = p[i - n] >= 0x20 && p[i - n] < 0x7f ? p[i - n] : '.';
            before[n] = '\0';
            fail_msg("byte %#x left as is, after \"%s\"", c, before);
        }
    }
}

static void test_glibc_two_looks(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 2, true);
    const char *text = render(&f);
    static const char *const parts[] = {
        ", 64-bit, not stopped; heap walked in 0.250 s\n",
        "\nmemory  48.3 MiB mapped, 32.4 MiB resident\n",
        "  heap                    1    32.0 MiB    32.0 MiB         0 B\n",
        "grew in 10.0 s (2 looks), largest growth first:",
        "RSS +8.0 MiB    now 32.0 MiB   [heap] (malloc's main arena)\n",
        "\nglibc heap  1 arena, 1 heap, 32.0 MiB, and 272 KiB in 2 mmapped chunks\n",
        "  in use      1.7 MiB in 1,052 chunks (5.2 %)\n",
        "largest 1.0 MiB; of them 9 in 3 tcaches, 3 in fastbins\n",
        "2 chunks failed a check (the heap changed under the walk: use --freeze",
        "        1,496        1,000     1.4 MiB   84.2%       +200\n",
        "      139,248            2     272 KiB   15.7%         +0  (2 mmapped)\n",
        "\nsize class 1,496 B: 1,000 chunks read, 1.4 MiB, +200 chunks since the first look\n",
        "  grep 'id=\\d+': 603 matches in 552 of 1,000 chunks\n",
        "           600 id=4099\n",
        "  strings (occurrences; + : may be more)\n",
        "  shapes (the strings, each number as #)\n         1,000 channelid=#\n",
        "  at 0x55555555a010 (48 of 1,496 bytes):\n",
        "\nthreads  3: io-* x2",
        "  stack rlimit 8.0 MiB",
        "  io-*                               2     8.0 MiB    16.0 MiB  " SHOWN "\n",
        "  thread stacks reserve 16.0 MiB: 0.0 % of the 128 TiB address space",
        "\n--dump /tmp/chunks.bin: 1000 chunks, 1496000 bytes\n",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    assert_null(strstr(text, "\033[1m")); /* no bold unless asked */

    f.opt.color = true;
    text = render(&f);
    assert_non_null(strstr(text, "\n\033[1mglibc heap\033[0m  1 arena"));
    scan_free(&f.s);
}

static void test_not_glibc_core(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, false);
    f.s.t->is_core = true;
    f.s.t->stack_rlimit = 0;
    free(f.s.t->source);
    f.s.t->source = strdup("/var/crash/core.4242");
    f.opt.dump_path = NULL;
    const char *text = render(&f);
    static const char *const parts[] = {
        "leaktag-scan: /var/crash/core.4242 (",
        ", 64-bit, a core file; heap walked",
        "\nmemory  48.3 MiB mapped, 32.4 MiB in the core\n",
        "  largest mappings:\n",
        "\nglibc heap: not glibc's heap: /usr/lib/",
        "\nregion 0x7ffff0000000-0x7ffff4000000: 64.0 MiB read\n",
        "  grep 'id=\\d+': 603 matches in 552 of 64 windows of 1 MiB\n",
        "  stack rlimit: not kept in a core file\n",
        "(a core keeps no thread names: threads are named by the function they started in)\n",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    assert_null(strstr(text, "usable size"));
    assert_null(strstr(text, "grew in"));
    assert_null(strstr(text, "--dump"));
    scan_free(&f.s);
}

/* The chunks' bytes, as strings, matches and hexdump: printable, '.' for the rest. */
static void test_chunk_text(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    const char *text = render(&f);
    static const char *const parts[] = {
        "             3 " SHOWN "\n",
        "           700 " SHOWN "\n",
        "    00000000: 3c69 3e22 7122 0a1b 5b32 4aff fe26 2763  " SHOWN "c\n",
        "    00000020: 0000 0000 0000 0000 8007 0000 0000 0000  ................\n",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    scan_free(&f.s);
}

/* Names and paths from the target: a newline in them would forge a line, an escape would
 * drive the terminal. */
static void test_target_names(void **state)
{
    (void)state;
    for (int glibc = 0; glibc < 2; glibc++) {
        struct scan_fixture f;
        scan_fixture_build(&f, 2 - glibc, glibc);
        const char *text = render(&f);
        only_printable(text);
        assert_non_null(strstr(text, "(" SHOWN ")")); /* the process's name */
        assert_non_null(strstr(text, "  executable /srv/app/" SHOWN "server\n"));
        assert_non_null(strstr(text, "  " SHOWN " (main) "));
        scan_free(&f.s);
    }
}

/* ---- the verdict (--reach) ---------------------------------------------------------------- */

/* Its heading, the four categories in all, the caveat, and what leaked: between the heap and
 * the size class shown. */
static void test_verdict_totals(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    const char *text = render(&f);
    static const char *const parts[] = {
        "\nglibc heap  ",
        "\nreachability (valgrind's categories): 1,052 chunks, 37 roots, 2.0 MiB scanned in "
        "0.125 s\n"
        "  definitely lost     877 KiB in 600 chunks\n"
        "  indirectly lost     146 KiB in 100 chunks\n"
        "  possibly lost      73.0 KiB in 50 chunks\n"
        "  reachable           638 KiB in 302 chunks\n"
        "  (2 chunks failed the walk's checks and were skipped: what only they point at is "
        "counted lost)\n"
        "  => 1023 KiB leaked: nothing the process can reach points at it (--lost: the content "
        "of those chunks alone)\n",
        "\nsize class 1,496 B: 1,000 chunks read",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    scan_free(&f.s);
}

/* The table by class: most lost bytes first, then most reachable; "-" for none. */
static void test_verdict_classes(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    const char *text = render(&f);
    static const char *const parts[] = {
        "\n  usable size    definitely lost    indirectly lost      possibly lost          "
        "reachable\n"
        "        1,496      600 (877 KiB)      100 (146 KiB)"
        "      50 (73.0 KiB)      250 (365 KiB)\n"
        "      139,248                  -                  -"
        "                  -        2 (272 KiB)\n"
        "           24                  -                  -"
        "                  -       50 (1.2 KiB)\n",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    scan_free(&f.s);
}

/* Who retains: the classes with a chain, most reachable bytes first, each chain root first;
 * the root's name (a symbol of the target's) shown as printable text on its own line. */
static void test_verdict_retained_by(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT);
    const char *text = render(&f);
    static const char *const parts[] = {
        "\n  who retains the largest reachable classes (one chain each, root first):\n"
        "  1,496 B x 250 (365 KiB reachable):\n"
        "    global " SHOWN "+0x8 (server)\n"
        "    -> chunk 0x55555555a5e0 (usable 1496), at +0x10\n"
        "    -> chunk 0x55555555abc0 (usable 1496) of this class\n"
        "  139,248 B x 2 (272 KiB reachable):\n"
        "    the stack of thread io-2 (tid 4244), 112 bytes above its stack pointer, in the "
        "frame of worker_main\n"
        "    -> chunk 0x7ffff7a00010 (usable 139248) of this class\n"
        "  24 B x 50 (1.2 KiB reachable):\n"
        "    a register of thread io-1 (tid 4243)\n"
        "    -> chunk 0x5555555d0010 (usable 24) of this class\n"
        "\nsize class 1,496 B",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    only_printable(text);
    scan_free(&f.s);
}

/* No --reach, no section; --reach and no verdict: why, in one printable line. */
static void test_no_verdict(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    const char *text = render(&f);
    assert_null(strstr(text, "reachability"));
    scan_fixture_verdict(&f, SCAN_FIXTURE_NO_VERDICT);
    text = render(&f);
    static const char *const glibc[] = {
        "\nglibc heap  ",
        "\nreachability: no verdict: a running process's heap changes under the mark "
        "(--freeze stops it)\n\nsize class 1,496 B: 1,000 chunks read",
    };
    in_order(text, glibc, sizeof(glibc) / sizeof(glibc[0]));
    assert_null(strstr(text, "valgrind's categories"));
    assert_null(strstr(text, "who retains"));
    /* the 32-bit reason names the target's source: a core's path may hold anything */
    snprintf(f.s.reach.why, sizeof(f.s.reach.why),
             "the verdict reads 8-byte words: /var/crash/%s is a 32-bit process",
             SCAN_FIXTURE_EVIL);
    text = render(&f);
    assert_non_null(strstr(text, "\nreachability: no verdict: the verdict reads 8-byte words: "
                                 "/var/crash/" SHOWN " is a 32-bit process\n\n"));
    only_printable(text);
    scan_free(&f.s);

    scan_fixture_build(&f, 1, false);
    scan_fixture_verdict(&f, SCAN_FIXTURE_NO_VERDICT);
    text = render(&f);
    static const char *const other[] = {
        "\nglibc heap: not glibc's heap: ",
        "\nreachability: no verdict: the heap is not glibc's, whose chunks the verdict reads: "
        "not glibc's heap: /usr/lib/" SHOWN "/libjemalloc.so.2 is mapped and its malloc serves "
        "the process\n\nregion ",
    };
    in_order(text, other, sizeof(other) / sizeof(other[0]));
    only_printable(text);
    scan_free(&f.s);
}

/* --lost: the class shown is its lost chunks, and the verdict no longer suggests --lost. */
static void test_verdict_lost(void **state)
{
    (void)state;
    struct scan_fixture f;
    scan_fixture_build(&f, 1, true);
    scan_fixture_verdict(&f, SCAN_FIXTURE_VERDICT_LOST);
    const char *text = render(&f);
    static const char *const parts[] = {
        "  => 1023 KiB leaked: nothing the process can reach points at it\n",
        "\nsize class 1,496 B: 700 lost chunks read, 1023 KiB\n",
    };
    in_order(text, parts, sizeof(parts) / sizeof(parts[0]));
    assert_null(strstr(text, "(--lost:"));
    scan_free(&f.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glibc_two_looks),     cmocka_unit_test(test_not_glibc_core),
        cmocka_unit_test(test_chunk_text),          cmocka_unit_test(test_target_names),
        cmocka_unit_test(test_verdict_totals),      cmocka_unit_test(test_verdict_classes),
        cmocka_unit_test(test_verdict_retained_by), cmocka_unit_test(test_no_verdict),
        cmocka_unit_test(test_verdict_lost),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(output);
    return failed;
}
