/* Unit tests of the options table: valid values are taken, invalid ones warn (one line naming
 * the variable) and keep the default. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "options.h"

static struct lt_options defaults;

static int reset(void **state)
{
    (void)state;
    static int saved;
    if (!saved) {
        defaults = lt_opt;
        saved = 1;
    }
    lt_opt = defaults;
    return 0;
}

/* Runs lt_options_load with stderr captured; returns what was written. */
static const char *load_capturing(char **env)
{
    static char out[4096];
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    int saved = dup(2);
    dup2(pipefd[1], 2);
    lt_options_load(env);
    dup2(saved, 2);
    close(saved);
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], out, sizeof(out) - 1);
    close(pipefd[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void defaults_without_environment(void **state)
{
    (void)state;
    char *env[] = {"PATH=/bin", "LEAKTAG=1", "LEAKTAG_DEPTHX=3", NULL};
    assert_string_equal(load_capturing(env), "");
    assert_int_equal(lt_opt.depth, 32);
    assert_int_equal(lt_opt.signal, SIGUSR2);
    assert_true(lt_opt.at_exit);
    assert_string_equal(lt_opt.output, "leaktag.%e.%p.%n.lts");
    assert_int_equal(lt_opt.samples, 8);
    assert_int_equal(lt_opt.sample_bytes, 256);
}

static void valid_values_are_taken(void **state)
{
    (void)state;
    char *env[] = {"LEAKTAG_DEPTH=1", "LEAKTAG_SIGNAL=SIGUSR1", "LEAKTAG_AT_EXIT=no",
                   "LEAKTAG_OUTPUT=/tmp/x.%p.lts", "LEAKTAG_INTERVAL=30", "LEAKTAG_QUIET=yes",
                   "LEAKTAG_SAMPLES=0", "LEAKTAG_SAMPLE_BYTES=16777216", NULL};
    assert_string_equal(load_capturing(env), "");
    assert_int_equal(lt_opt.depth, 1);
    assert_int_equal(lt_opt.signal, SIGUSR1);
    assert_false(lt_opt.at_exit);
    assert_true(lt_opt.quiet);
    assert_string_equal(lt_opt.output, "/tmp/x.%p.lts");
    assert_int_equal(lt_opt.interval, 30);
    assert_int_equal(lt_opt.samples, 0);
    assert_int_equal(lt_opt.sample_bytes, 16777216);
}

/* Sizes are read as every leaktag program reads them (snapshot/size.c). */
static void sizes_in_the_shared_grammar(void **state)
{
    (void)state;
    char *env[] = {"LEAKTAG_MAX_MEMORY=1.5GiB", "LEAKTAG_SAMPLE=64K", NULL};
    assert_string_equal(load_capturing(env), "");
    assert_int_equal(lt_opt.max_memory, 3ull << 29);
    assert_int_equal(lt_opt.sample, 64 << 10);
    char *bad[] = {"LEAKTAG_MAX_MEMORY=1.5X", "LEAKTAG_SAMPLE=2T", NULL};
    const char *said = load_capturing(bad);
    assert_non_null(strstr(said, "LEAKTAG_MAX_MEMORY"));
    assert_non_null(strstr(said, "LEAKTAG_SAMPLE"));
    assert_int_equal(lt_opt.max_memory, 3ull << 29); /* kept */
    assert_int_equal(lt_opt.sample, 64 << 10);
}

static void signal_spellings(void **state)
{
    (void)state;
    char *off[] = {"LEAKTAG_SIGNAL=off", NULL};
    load_capturing(off);
    assert_int_equal(lt_opt.signal, 0);
    char *num[] = {"LEAKTAG_SIGNAL=40", NULL};
    load_capturing(num);
    assert_int_equal(lt_opt.signal, 40);
    char *usr2[] = {"LEAKTAG_SIGNAL=usr2", NULL};
    load_capturing(usr2);
    assert_int_equal(lt_opt.signal, SIGUSR2);
}

static void invalid_values_warn_and_keep_default(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"LEAKTAG_DEPTH=0", "LEAKTAG_DEPTH"},      {"LEAKTAG_DEPTH=65", "LEAKTAG_DEPTH"},
        {"LEAKTAG_DEPTH=12x", "LEAKTAG_DEPTH"},    {"LEAKTAG_DEPTH=", "LEAKTAG_DEPTH"},
        {"LEAKTAG_DEPTH=99999999999999999999", "LEAKTAG_DEPTH"},
        {"LEAKTAG_SIGNAL=KILL", "LEAKTAG_SIGNAL"}, {"LEAKTAG_SIGNAL=9", "LEAKTAG_SIGNAL"},
        {"LEAKTAG_SIGNAL=11", "LEAKTAG_SIGNAL"},   {"LEAKTAG_SIGNAL=99", "LEAKTAG_SIGNAL"},
        {"LEAKTAG_AT_EXIT=maybe", "LEAKTAG_AT_EXIT"}, {"LEAKTAG_SAMPLES=-1", "LEAKTAG_SAMPLES"},
        {"LEAKTAG_SAMPLE_BYTES=16777217", "LEAKTAG_SAMPLE_BYTES"}, {"LEAKTAG_OUTPUT=", "LEAKTAG_OUTPUT"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lt_opt = defaults;
        char *env[] = {(char *)cases[i][0], NULL};
        const char *err = load_capturing(env);
        assert_non_null(strstr(err, "leaktag: "));
        assert_non_null(strstr(err, cases[i][1]));
        assert_non_null(strstr(err, "using"));
        assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err)); /* one line */
        assert_memory_equal(&lt_opt, &defaults, sizeof(defaults));
    }
}

static void describe_lists_every_option(void **state)
{
    (void)state;
    char buf[8192];
    lt_options_describe(buf, sizeof(buf));
    size_t n;
    const struct lt_option_doc *docs = lt_options_docs(&n);
    assert_true(n >= 8);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strstr(buf, docs[i].name));
        assert_non_null(docs[i].help);
        assert_true(strlen(docs[i].help) > 10);
    }
    assert_non_null(strstr(buf, "LEAKTAG_SIGNAL=USR2"));
    assert_non_null(strstr(buf, "LEAKTAG_DEPTH=32"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_without_environment, reset),
        cmocka_unit_test_setup(valid_values_are_taken, reset),
        cmocka_unit_test_setup(sizes_in_the_shared_grammar, reset),
        cmocka_unit_test_setup(signal_spellings, reset),
        cmocka_unit_test_setup(invalid_values_warn_and_keep_default, reset),
        cmocka_unit_test_setup(describe_lists_every_option, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
