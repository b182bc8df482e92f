/* content.c — hexdump, printable strings, regex matches (PCRE2) and string histograms over
 * plain byte buffers. The analyzer's replacement for xxd, strings and grep -o | sort | uniq -c.
 * An ordinary C module: it may allocate, and checks every allocation. */
#include "content.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

static bool printable(uint8_t c)
{
    return c >= 0x20 && c < 0x7f;
}

void content_hexdump(FILE *out, const uint8_t *p, size_t n, uint64_t base, const char *indent)
{
    bool squeezed = false;
    for (size_t line = 0; line < n; line += 16) {
        /* Like xxd -a: a run of lines equal to the one before shows as one "*" (the last line
         * is always printed, so the dump still ends at the right offset). */
        if (line >= 16 && line + 16 < n && !memcmp(p + line, p + line - 16, 16)) {
            if (!squeezed)
                fprintf(out, "%s*\n", indent);
            squeezed = true;
            continue;
        }
        squeezed = false;
        fprintf(out, "%s%08llx: ", indent, (unsigned long long)(base + line));
        for (size_t i = 0; i < 16; i++) {
            if (line + i < n)
                fprintf(out, "%02x", p[line + i]);
            else
                fputs("  ", out);
            if (i % 2 == 1)
                fputc(' ', out);
        }
        fputc(' ', out);
        for (size_t i = 0; i < 16 && line + i < n; i++)
            fputc(printable(p[line + i]) ? p[line + i] : '.', out);
        fputc('\n', out);
    }
}

void content_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void content_printable(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = printable(p[i]) ? (char)p[i] : '.';
    out[n] = '\0';
}

/* Separators inside printable runs: whitespace and the punctuation that delimits fields in
 * forms (a=1&b=2), headers and cookies (a; b), lists (a, b) and quoted values. */
static bool separator(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '&' || c == ';' || c == ',' || c == '"';
}

void content_strings(const uint8_t *p, size_t n, size_t min_len, content_token_fn fn, void *ctx)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && printable(p[i]) && !separator(p[i]))
            continue;
        if (i - start >= min_len)
            fn((const char *)p + start, i - start, ctx);
        start = i + 1;
    }
}

struct content_regex {
    pcre2_code *code;
    pcre2_match_data *match;
};

struct content_regex *content_regex_compile(const char *pattern, struct lts_error *err)
{
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code, &at,
                                   NULL);
    if (!re) {
        char msg[256];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
        lts_fail(err, "%s at character %zu", msg, (size_t)at);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* faster when available; fine without */
    struct content_regex *r = malloc(sizeof(*r));
    if (!r || !(r->match = pcre2_match_data_create_from_pattern(re, NULL))) {
        lts_fail(err, "out of memory");
        pcre2_code_free(re);
        free(r);
        return NULL;
    }
    r->code = re;
    return r;
}

void content_regex_free(struct content_regex *re)
{
    if (!re)
        return;
    pcre2_match_data_free(re->match);
    pcre2_code_free(re->code);
    free(re);
}

int content_regex_test(const struct content_regex *re, const char *s, size_t n)
{
    return pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, re->match, NULL) >= 0;
}

size_t content_regex_each(const struct content_regex *re, const uint8_t *p, size_t n,
                          content_token_fn fn, void *ctx)
{
    size_t count = 0;
    PCRE2_SIZE from = 0;
    while (from <= n) {
        int rc = pcre2_match(re->code, p, n, from, 0, re->match, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->match);
        if (ov[1] < ov[0])
            break; /* \K tricks: not a usable match */
        fn((const char *)p + ov[0], ov[1] - ov[0], ctx);
        count++;
        from = ov[1] > ov[0] ? ov[1] : ov[1] + 1; /* an empty match must still advance */
    }
    return count;
}

/* ---- histogram: distinct tokens in an array, found through a hash map ------------------------ */

struct content_histogram {
    struct content_entry *entries; /* in the order first seen; sorted once, at the end */
    size_t count, cap;
    struct hashmap index;          /* token bytes (the entry's copy) -> position in entries */
    uint64_t total;
    bool sorted;
};

struct content_histogram *content_histogram_new(void)
{
    return calloc(1, sizeof(struct content_histogram));
}

void content_histogram_add(struct content_histogram *h, const char *s, size_t n)
{
    content_histogram_add_count(h, s, n, 1);
}

void content_histogram_add_count(struct content_histogram *h, const char *s, size_t n,
                                 uint64_t count)
{
    if (h->sorted || !count)
        return; /* adding after sorting is a caller bug */
    struct hashmap_slot *known = hashmap_find_bytes(&h->index, s, n);
    if (known) {
        h->entries[known->value].count += count;
        h->total += count;
        return;
    }
    /* A new token: room and a copy first, so that running out of memory drops the token
     * and leaves the histogram as it was. */
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct content_entry *grown = realloc(h->entries, cap * sizeof(*grown));
        if (!grown)
            return;
        h->entries = grown;
        h->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return;
    memcpy(copy, s, n);
    copy[n] = '\0';
    struct hashmap_slot *slot = hashmap_bytes(&h->index, copy, n, NULL);
    if (!slot) {
        free(copy);
        return;
    }
    slot->value = h->count;
    h->entries[h->count++] = (struct content_entry){copy, n, count};
    h->total += count;
}

void content_histogram_add_token(const char *s, size_t n, void *histogram)
{
    content_histogram_add(histogram, s, n);
}

void content_histogram_add_shape(const char *s, size_t n, void *histogram)
{
    char buf[512];
    size_t o = 0;
    bool folded = false;
    for (size_t i = 0; i < n && o < sizeof(buf); i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (!o || buf[o - 1] != '#')
                buf[o++] = '#';
            folded = true;
        } else {
            buf[o++] = s[i];
        }
    }
    if (folded) /* a token without digits is its own shape: the strings list shows it */
        content_histogram_add(histogram, buf, o);
}

uint64_t content_histogram_total(const struct content_histogram *h)
{
    return h->total;
}

static bool key_value(const struct content_entry *e)
{
    const char *eq = memchr(e->text, '=', e->len);
    return eq && eq != e->text && eq != e->text + e->len - 1;
}

static int by_rank(const void *a, const void *b)
{
    const struct content_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (key_value(x) != key_value(y))
        return key_value(x) ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return strcmp(x->text, y->text);
}

const struct content_entry *content_histogram_sorted(struct content_histogram *h, size_t *n)
{
    if (!h->sorted) {
        hashmap_free(&h->index); /* positions change now, and nothing is added after */
        if (h->count) /* an empty histogram may have no array at all, and qsort wants one */
            qsort(h->entries, h->count, sizeof(*h->entries), by_rank);
        h->sorted = true;
    }
    *n = h->count;
    return h->entries;
}

void content_histogram_free(struct content_histogram *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->count; i++)
        free(h->entries[i].text);
    free(h->entries);
    hashmap_free(&h->index);
    free(h);
}

/* ---- fields ----------------------------------------------------------------------------- */

/* Text for the field view: printable, or the white space that lines of text carry. */
static bool text_byte(uint8_t c)
{
    return printable(c) || c == '\t' || c == '\r' || c == '\n';
}

/* The printable run starting at p (up to a NUL or the end of the word's buffer), if it is
 * at least 2 bytes and ends at a NUL or the buffer's end: a short string, not bytes that
 * happen to be printable. */
static size_t text_at(const uint8_t *p, size_t avail)
{
    size_t n = 0;
    while (n < avail && n < 64 && text_byte(p[n]))
        n++;
    if (n < 2)
        return 0;
    return n == avail || n == 64 || p[n] == 0 ? n : 0;
}

size_t content_fields(const uint8_t *const *bufs, const size_t *lens, size_t n,
                      struct content_field *out, size_t max)
{
    size_t filled = 0;
    for (uint32_t off = 0; filled < max; off += 8) {
        uint32_t reach = 0;
        bool same = true, text = true, aligned = true;
        uint64_t first = 0, lo = UINT64_MAX, hi = 0;
        for (size_t i = 0; i < n; i++) {
            if (lens[i] < off + 8)
                continue;
            uint64_t w;
            memcpy(&w, bufs[i] + off, 8);
            if (reach == 0)
                first = w;
            same = same && w == first;
            text = text && text_at(bufs[i] + off, lens[i] - off) > 0;
            aligned = aligned && w && !(w & 7);
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
            reach++;
        }
        if (reach < 2)
            break;
        struct content_field *f = &out[filled++];
        *f = (struct content_field){.offset = off, .buffers = reach, .aligned = aligned};
        if (same && !text) {
            f->kind = CONTENT_FIELD_CONSTANT;
            f->value = first;
        } else if (text) {
            f->kind = CONTENT_FIELD_TEXT;
            f->tokens = content_histogram_new();
            for (size_t i = 0; f->tokens && i < n; i++) {
                if (lens[i] < off + 8)
                    continue;
                size_t len = text_at(bufs[i] + off, lens[i] - off);
                content_histogram_add(f->tokens, (const char *)bufs[i] + off, len);
            }
        } else {
            f->kind = CONTENT_FIELD_VARYING;
            f->min = lo;
            f->max = hi;
        }
    }
    return filled;
}

void content_fields_free(struct content_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        content_histogram_free(fields[i].tokens);
}
