/* test_frames.c — frames.c, every stack's shown frames, on a snapshot of the test process
 * itself (self_snapshot.h): --fold takes recorded frames off the top, each remaining one is
 * expanded into its inlined chain, the site keeps frame 0 as recorded, and the empty stack
 * is "(no stack)". Build with -g -O1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "content.h"
#include "frames.h"
#include "self_snapshot.h"

/* --fold (frames.c): recorded frames at the top whose function matches are taken off, each
 * remaining one is expanded into its inlined chain, and the site keeps frame 0 as it was. */
static void fold_takes_frames_off_the_top(void **state)
{
    (void)state;
    struct symbolizer *sym = self_symbolizer(&self_snap, stderr);
    uint64_t recorded[] = {self_call_ra, self_inline_ra};
    struct lts_stack stacks[] = {{0, NULL}, {2, recorded}};
    struct lts_snapshot v = self_snap;
    v.stacks = stacks;
    v.nstacks = 2;
    uint64_t when[] = {SYM_ANY_TIME, SYM_ANY_TIME};
    struct lts_error err;
    struct content_regex *fold = content_regex_compile("^caller_site$", &err);
    assert_non_null(fold);
    for (int folded = 0; folded < 2; folded++) {
        struct frames *f = NULL;
        assert_int_equal(frames_build(&v, sym, folded ? fold : NULL, when, &f, &err), 0);
        const struct stack_frames *sf = frames_of(f, 1);
        assert_int_equal(sf->skipped, folded);
        assert_int_equal(sf->n, folded ? 2 : 3);
        const char *want[] = {"caller_site", "inlined_leaf", "inline_host"};
        for (uint32_t i = 0; i < sf->n; i++)
            assert_string_equal(sf->frames[i].name, want[i + (unsigned)folded]);
        assert_string_equal(sf->site.name, "caller_site");
        uint32_t depth = 0;
        const uint64_t *r = frames_recorded(f, &v, 1, &depth);
        assert_int_equal(depth, 2 - folded);
        assert_int_equal(r[0], folded ? self_inline_ra : self_call_ra);
        assert_string_equal(frames_of(f, 0)->site.name, "(no stack)");
        assert_int_equal(frames_of(f, 0)->n, 0);
        frames_free(f);
    }
    content_regex_free(fold);
    sym_close(sym);
}

/* A frame in no module is named by its address; a start routine (not in any stack) is found
 * by its address alone. */
static void names_without_a_function(void **state)
{
    (void)state;
    struct symbolizer *sym = self_symbolizer(&self_snap, stderr);
    uint64_t nowhere = 0x10; /* below every mapping */
    uint64_t recorded[] = {nowhere};
    struct lts_stack stacks[] = {{0, NULL}, {1, recorded}};
    struct lts_snapshot v = self_snap;
    v.stacks = stacks;
    v.nstacks = 2;
    uint64_t when[] = {SYM_ANY_TIME, SYM_ANY_TIME};
    struct frames *f = NULL;
    struct lts_error err;
    assert_int_equal(frames_build(&v, sym, NULL, when, &f, &err), 0);
    const struct stack_frames *sf = frames_of(f, 1);
    assert_int_equal(sf->n, 1);
    assert_string_equal(sf->frames[0].name, "0x10");
    assert_string_equal(sf->site.name, "0x10");
    frames_free(f);
    assert_string_equal(frames_function_at(sym, (uintptr_t)caller_site + 1), "caller_site");
    assert_null(frames_function_at(sym, nowhere));
    sym_close(sym);
}

int main(void)
{
    /* Offline means offline: no debuginfod download from a test. */
    unsetenv("DEBUGINFOD_URLS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fold_takes_frames_off_the_top),
        cmocka_unit_test(names_without_a_function),
    };
    return cmocka_run_group_tests(tests, self_snapshot_setup, self_snapshot_teardown);
}
