/* Unit tests of json.c: every byte value through json_string (printable ASCII as is, the
 * rest and '<' as \u00XX, the usual short escapes), null for NULL, and histograms with and
 * without a per-buffer count, as leaktag-report and leaktag-scan both write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static char *text;
static size_t text_size;

static FILE *open_text(void)
{
    free(text);
    text = NULL;
    FILE *f = open_memstream(&text, &text_size);
    assert_non_null(f);
    return f;
}

static void test_strings(void **state)
{
    (void)state;
    FILE *f = open_text();
    static const char tricky[] = "a\"b\\c\nd\re\tf</script>";
    json_string(f, tricky, sizeof(tricky) - 1);
    fclose(f);
    assert_string_equal(text, "\"a\\\"b\\\\c\\nd\\re\\tf\\u003c/script>\"");

    f = open_text();
    json_cstr(f, NULL);
    fputc(' ', f);
    json_cstr(f, "");
    fclose(f);
    assert_string_equal(text, "null \"\"");

    /* every byte value: of the 95 printable ones, 92 as they are, '"' and '\\' as two
     * characters, '<' as six; of the other 161, \n \r \t as two, 158 as \u00XX */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    f = open_text();
    json_string(f, all, sizeof(all));
    fclose(f);
    size_t expect = 2 + (95 - 3) + 2 * 2 + 6 + 3 * 2 + (256 - 95 - 3) * 6;
    assert_int_equal(strlen(text), expect);
    assert_non_null(strstr(text, "\\u0000\\u0001"));
    assert_non_null(strstr(text, "\\u007f\\u0080"));
    assert_non_null(strstr(text, "\\u00ff\""));
    for (const char *p = text; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f && *p != '<');
}

static void test_histograms(void **state)
{
    (void)state;
    FILE *f = open_text();
    json_histogram(f, NULL, 10, NULL, NULL);
    fclose(f);
    assert_string_equal(text, "[]");

    struct content_histogram *matches = content_histogram_new();
    struct content_histogram *blocks = content_histogram_new();
    for (int i = 0; i < 30; i++) {
        const char *m = i % 3 ? "channelid=4099" : "channelid=4100";
        content_histogram_add(matches, m, strlen(m)); /* each block says it twice */
        content_histogram_add(matches, m, strlen(m));
        content_histogram_add(blocks, m, strlen(m));
    }
    f = open_text();
    json_histogram(f, matches, 10, blocks, "blocks");
    fclose(f);
    assert_string_equal(text, "[{\"text\": \"channelid=4099\", \"count\": 40, \"blocks\": 20}, "
                              "{\"text\": \"channelid=4100\", \"count\": 20, \"blocks\": 10}]");
    f = open_text();
    json_histogram(f, matches, 1, NULL, NULL); /* max 1, no per-buffer counts */
    fclose(f);
    assert_string_equal(text, "[{\"text\": \"channelid=4099\", \"count\": 40}]");
    content_histogram_free(matches);
    content_histogram_free(blocks);
    free(text);
    text = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_histograms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
