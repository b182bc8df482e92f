/* format_check.c — each conversion given on the command line ("%016llx", "%.*s", ...)
 * formatted by the shim's lt_format and by snprintf with the same arguments: the two must
 * agree. tests/unit/test_formats.py gives it every conversion found in the shim's sources.
 * Prints one line per disagreement; exit status 1 if there was one, 2 for a conversion it
 * cannot build arguments for. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"

/* Formats fmt with the arguments its one conversion takes (star_width and star_precision
 * first when the conversion has '*'), each way; false if the conversion is not known. */
#define BOTH(...)                                                                            \
    do {                                                                                     \
        lt_format(ours, sizeof(ours), fmt, __VA_ARGS__);                                     \
        snprintf(theirs, sizeof(theirs), fmt, __VA_ARGS__);                                  \
    } while (0)

static int check(const char *spec, long long value, const char *text)
{
    char fmt[64], ours[256], theirs[256];
    if (snprintf(fmt, sizeof(fmt), "[%s]", spec) >= (int)sizeof(fmt))
        return 2;
    size_t n = strlen(spec);
    char conv = spec[n - 1];
    int stars = 0;
    for (const char *p = spec; *p; p++)
        stars += *p == '*';
    const char *len = spec + 1;
    while (*len && !strchr("lzhjt", *len) && len < spec + n - 1)
        len++;
    int longs = 0, size = 0;
    for (const char *p = len; p < spec + n - 1; p++)
        longs += *p == 'l', size |= *p == 'z';
    int w = 9, prec = 3; /* what a '*' takes, width before precision */
    int is_prec_star = strstr(spec, ".*") != NULL;
    int is_width_star = stars - is_prec_star;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat"
#define WITH_STARS(arg)                                                                      \
    do {                                                                                     \
        if (is_width_star && is_prec_star)                                                   \
            BOTH(w, prec, arg);                                                              \
        else if (is_width_star)                                                              \
            BOTH(w, arg);                                                                    \
        else if (is_prec_star)                                                               \
            BOTH(prec, arg);                                                                 \
        else                                                                                 \
            BOTH(arg);                                                                       \
    } while (0)
    switch (conv) {
    case 'd':
    case 'i':
        if (size)
            WITH_STARS((ssize_t)value);
        else if (longs >= 2)
            WITH_STARS((long long)value);
        else if (longs == 1)
            WITH_STARS((long)value);
        else
            WITH_STARS((int)value);
        break;
    case 'u':
    case 'x':
        if (size)
            WITH_STARS((size_t)value);
        else if (longs >= 2)
            WITH_STARS((unsigned long long)value);
        else if (longs == 1)
            WITH_STARS((unsigned long)value);
        else
            WITH_STARS((unsigned)value);
        break;
    case 'p':
        WITH_STARS((void *)(uintptr_t)(value ? value : 1));
        break;
    case 's':
        WITH_STARS(text);
        break;
    case 'c':
        WITH_STARS('q');
        break;
    case '%':
        lt_format(ours, sizeof(ours), fmt);
        snprintf(theirs, sizeof(theirs), fmt);
        break;
    default:
        fprintf(stderr, "%s: no arguments known for this conversion\n", spec);
        return 2;
    }
#pragma GCC diagnostic pop
    if (strcmp(ours, theirs)) {
        printf("%s with %lld / \"%s\": lt_format wrote %s, snprintf %s\n", spec, value, text,
               ours, theirs);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const long long values[] = {0, 7, -7, 255, 123456789, -2147483647LL - 1,
                                       0x1234567890abcdefLL};
    static const char *const texts[] = {"", "ab", "abcdefghijklmnop"};
    int status = 0;
    for (int i = 1; i < argc; i++)
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
            for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
                int rc = check(argv[i], values[v], texts[t]);
                if (rc == 2)
                    return 2;
                status |= rc;
            }
    if (!status)
        printf("%d conversions format as snprintf does\n", argc - 1);
    return status;
}
