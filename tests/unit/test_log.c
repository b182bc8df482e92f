/* Unit tests of log.c: the async-signal-safe formatter against snprintf on the conversions
 * the shim uses, cutting to the buffer, byte counts for people, "leaktag: " lines with errno
 * preserved, lt_log_once, and a capture that keeps what fits and counts what does not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static void test_formatter(void **state)
{
    (void)state;
    char buf[64];
    lt_format(buf, sizeof(buf), "%s=%d %u %x %llu %zu %p %c%%", "a", -42, 7u, 255u,
              18446744073709551615ull, (size_t)3, (void *)0x10, 'z');
    assert_string_equal(buf, "a=-42 7 ff 18446744073709551615 3 0x10 z%");
    char tiny[5];
    assert_int_equal(lt_format(tiny, sizeof(tiny), "%s", "abcdefgh"), 8);
    assert_string_equal(tiny, "abcd");
    /* widths and precision, as snprintf writes them */
    char want[64];
    lt_format(buf, sizeof(buf), "[%016llx|%-6s|%5d|%.3s|%.*s]", 0xbeefull, "ab", -7, "abcdef", 2,
              "xyz");
    snprintf(want, sizeof(want), "[%016llx|%-6s|%5d|%.3s|%.*s]", 0xbeefull, "ab", -7, "abcdef", 2,
             "xyz");
    assert_string_equal(buf, want);
    const char *volatile nothing = NULL; /* a NULL string is said, not followed */
    lt_format(buf, sizeof(buf), "<%s>", nothing);
    assert_string_equal(buf, "<(null)>");
}

static void test_bytes(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(lt_format_bytes(buf, sizeof(buf), 512), "512 B");
    assert_string_equal(lt_format_bytes(buf, sizeof(buf), 1536), "1.5 KiB");
    assert_string_equal(lt_format_bytes(buf, sizeof(buf), 32ull << 20), "32 MiB");
    assert_string_equal(lt_format_bytes(buf, sizeof(buf), 91ull * (32ull << 20)), "2.8 GiB");
}

/* What lt_log writes to stderr while f runs. */
static const char *stderr_of(void (*f)(void))
{
    static char out[8192];
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    int saved = dup(2);
    dup2(pipefd[1], 2);
    f();
    dup2(saved, 2);
    close(saved);
    close(pipefd[1]);
    ssize_t n = read(pipefd[0], out, sizeof(out) - 1);
    close(pipefd[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void two_lines(void)
{
    errno = EAGAIN;
    lt_log("pthread_create failed after %d threads", 91);
    assert_int_equal(errno, EAGAIN); /* preserved */
    for (int i = 0; i < 3; i++)
        lt_log_once("said once, asked %d times", 3);
}

static void test_lines(void **state)
{
    (void)state;
    assert_string_equal(stderr_of(two_lines),
                        "leaktag: pthread_create failed after 91 threads\n"
                        "leaktag: said once, asked 3 times\n");
}

static void captured(void)
{
    static struct lt_log_capture c;
    memset(&c, 0, sizeof(c));
    lt_log_capture(&c);
    for (int i = 0; i < 200; i++)
        lt_log("line %d of a thread whose descriptor table has no stderr", i);
    lt_log_capture(NULL);
    assert_true(c.len <= sizeof(c.text));
    assert_true(c.dropped > 0); /* 200 lines of ~60 bytes do not fit in 4 KiB */
    lt_log_write_captured(&c);
}

static void test_capture(void **state)
{
    (void)state;
    const char *out = stderr_of(captured);
    assert_non_null(strstr(out, "leaktag: line 0 of a thread"));
    assert_null(strstr(out, "line 199 of"));
    assert_non_null(strstr(out, "more line")); /* what was dropped is said */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formatter),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
