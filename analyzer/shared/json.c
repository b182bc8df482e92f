/* json.c — JSON strings (see json.h). */
#include "json.h"

#include <inttypes.h>
#include <string.h>

void json_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || c >= 0x7f || c == '<')
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

void json_cstr(FILE *out, const char *s)
{
    if (s)
        json_string(out, s, strlen(s));
    else
        fputs("null", out);
}

void json_histogram(FILE *out, struct content_histogram *h, size_t max,
                    struct content_histogram *per, const char *per_key)
{
    size_t n = 0, nper = 0;
    const struct content_entry *e = h ? content_histogram_sorted(h, &n) : NULL;
    const struct content_entry *p = per ? content_histogram_sorted(per, &nper) : NULL;
    fputs("[", out);
    for (size_t i = 0; i < n && i < max; i++) {
        fprintf(out, "%s{\"text\": ", i ? ", " : "");
        json_string(out, e[i].text, e[i].len);
        fprintf(out, ", \"count\": %" PRIu64, e[i].count);
        if (e[i].uncounted)
            fprintf(out, ", \"uncounted_max\": %" PRIu64, e[i].uncounted);
        if (per) {
            uint64_t in = 0;
            for (size_t k = 0; k < nper; k++)
                if (p[k].len == e[i].len && !memcmp(p[k].text, e[i].text, e[i].len)) {
                    in = p[k].count;
                    break;
                }
            fprintf(out, ", \"%s\": %" PRIu64, per_key, in);
        }
        fputs("}", out);
    }
    fputs("]", out);
}
