/* content.c — hexdump, printable strings, regex matches (PCRE2) and string histograms over
 * plain byte buffers. The analyzer's replacement for xxd, strings and grep -o | sort | uniq -c.
 * An ordinary C module: it may allocate, and checks every allocation.
 *
 * Histograms are exact, or bounded by lossy counting (content_histogram_new_bounded);
 * content_fields counts the words at each offset; everything works one buffer at a time. */
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
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
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

/* ---- --grep over many buffers ---------------------------------------------------------------- */

struct content_match {
    const char *text;
    size_t len;
};

static void found_match(const char *s, size_t n, void *ctx)
{
    struct content_grep_scratch *sc = ctx;
    if (sc->nfound == sc->cap) {
        size_t cap = sc->cap ? 2 * sc->cap : 64;
        struct content_match *grown = realloc(sc->found, cap * sizeof(*grown));
        if (!grown) {
            sc->oom = true;
            return;
        }
        sc->found = grown;
        sc->cap = cap;
    }
    sc->found[sc->nfound++] = (struct content_match){s, n};
}

static int match_order(const void *x, const void *y)
{
    const struct content_match *a = x, *b = y;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->text, b->text, a->len);
}

long content_grep_buffer(const struct content_regex *re, const uint8_t *p, size_t n,
                         struct content_histogram *matches, struct content_histogram *buffers,
                         struct content_grep_scratch *sc)
{
    sc->nfound = 0;
    content_regex_each(re, p, n, found_match, sc);
    if (sc->oom)
        return -1;
    qsort(sc->found, sc->nfound, sizeof(*sc->found), match_order);
    for (size_t i = 0; i < sc->nfound;) {
        size_t same = 1;
        while (i + same < sc->nfound && !match_order(&sc->found[i], &sc->found[i + same]))
            same++;
        content_histogram_add(buffers, sc->found[i].text, sc->found[i].len);
        content_histogram_add_count(matches, sc->found[i].text, sc->found[i].len, same);
        i += same;
    }
    return (long)sc->nfound;
}

void content_grep_scratch_free(struct content_grep_scratch *sc)
{
    free(sc->found);
    memset(sc, 0, sizeof(*sc));
}

/* ---- histogram: distinct tokens in an array, found through a hash map ------------------------ */

struct content_histogram {
    struct content_entry *entries; /* in the order first seen; sorted once, at the end */
    size_t count, cap;
    struct hashmap index; /* token bytes (the entry's copy) -> position in entries */
    uint64_t total;
    size_t bound;   /* 0: every distinct token is kept */
    uint64_t floor; /* a token not kept was seen at most this many times */
    bool sorted;
};

struct content_histogram *content_histogram_new(void)
{
    return calloc(1, sizeof(struct content_histogram));
}

struct content_histogram *content_histogram_new_bounded(size_t bound)
{
    struct content_histogram *h = content_histogram_new();
    if (h)
        h->bound = bound < 64 ? 64 : bound;
    return h;
}

void content_histogram_add(struct content_histogram *h, const char *s, size_t n)
{
    content_histogram_add_count(h, s, n, 1);
}

/* What an entry may have been seen at most: its count, and what was not counted of it. */
static uint64_t upper(const struct content_entry *e)
{
    return e->count + e->uncounted;
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A bounded histogram that is full keeps its most frequent half (lossy counting): the
 * entries whose upper bound is at most t go, t chosen so that at least half go, and a token
 * that comes again later is counted from there, with what it may have had before (t at
 * most) as its uncounted part. Whatever is not kept was seen at most `floor` times. */
static void prune(struct content_histogram *h)
{
    uint64_t *values = malloc(h->count * sizeof(*values));
    if (!values)
        return; /* the histogram grows past its bound instead */
    for (size_t i = 0; i < h->count; i++)
        values[i] = upper(&h->entries[i]);
    qsort(values, h->count, sizeof(*values), by_value);
    uint64_t t = values[h->count / 2];
    free(values);
    hashmap_free(&h->index);
    size_t kept = 0;
    for (size_t i = 0; i < h->count; i++) {
        struct content_entry *e = &h->entries[i];
        if (upper(e) <= t) {
            free(e->text);
            continue;
        }
        h->entries[kept] = *e;
        struct hashmap_slot *slot = hashmap_bytes(&h->index, e->text, e->len, NULL);
        if (slot) /* else a later equal token gets a second entry: counts stay lower bounds */
            slot->value = kept;
        kept++;
    }
    h->count = kept;
    if (t > h->floor)
        h->floor = t;
}

void content_histogram_add_count(struct content_histogram *h, const char *s, size_t n,
                                 uint64_t count)
{
    if (h->sorted || !count)
        return; /* adding after sorting is a caller bug */
    h->total += count;
    struct hashmap_slot *known = hashmap_find_bytes(&h->index, s, n);
    if (known) {
        h->entries[known->value].count += count;
        return;
    }
    if (h->bound && h->count >= h->bound)
        prune(h);
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
    h->entries[h->count++] = (struct content_entry){copy, n, count, h->floor};
}

uint64_t content_histogram_floor(const struct content_histogram *h)
{
    return h->floor;
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

struct field_state {
    struct content_field f;
    bool same, text;
    uint64_t first;
};

struct content_fields {
    struct field_state *at;        /* offset word * i */
    struct content_field *results; /* content_fields_result's copy */
    size_t max, word;
};

struct content_fields *content_fields_new(size_t max, size_t word)
{
    struct content_fields *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return NULL;
    fs->max = max;
    fs->word = word == 4 ? 4 : 8;
    fs->at = calloc(max ? max : 1, sizeof(*fs->at));
    fs->results = calloc(max ? max : 1, sizeof(*fs->results));
    if (!fs->at || !fs->results) {
        content_fields_free(fs);
        return NULL;
    }
    return fs;
}

/* Text at an offset keeps its tokens, up to this many distinct ones. */
#define FIELD_TOKENS_KEPT 1024

void content_fields_add(struct content_fields *fs, const uint8_t *p, size_t n)
{
    size_t size = fs->word;
    for (size_t i = 0; i < fs->max && size * i + size <= n; i++) {
        struct field_state *st = &fs->at[i];
        const uint8_t *word = p + size * i;
        uint64_t w = 0; /* little-endian: a 4-byte word is the low half */
        memcpy(&w, word, size);
        if (st->f.buffers++ == 0) {
            st->f.offset = (uint32_t)(size * i);
            st->first = w;
            st->same = st->text = st->f.aligned = true;
            st->f.min = UINT64_MAX;
        }
        st->same = st->same && w == st->first;
        st->f.aligned = st->f.aligned && w && !(w & (size - 1));
        st->f.min = w < st->f.min ? w : st->f.min;
        st->f.max = w > st->f.max ? w : st->f.max;
        if (!st->text)
            continue;
        size_t len = text_at(word, n - size * i);
        if (!len) {
            st->text = false;
            content_histogram_free(st->f.tokens);
            st->f.tokens = NULL;
            continue;
        }
        if (!st->f.tokens && !(st->f.tokens = content_histogram_new_bounded(FIELD_TOKENS_KEPT))) {
            st->text = false; /* out of memory: shown as what the words are */
            continue;
        }
        content_histogram_add(st->f.tokens, (const char *)word, len);
    }
}

const struct content_field *content_fields_result(struct content_fields *fs, size_t *n)
{
    size_t k = 0;
    for (; k < fs->max && fs->at[k].f.buffers >= 2; k++) {
        struct field_state *st = &fs->at[k];
        if (st->text) {
            st->f.kind = CONTENT_FIELD_TEXT;
        } else if (st->same) {
            st->f.kind = CONTENT_FIELD_CONSTANT;
            st->f.value = st->first;
        } else {
            st->f.kind = CONTENT_FIELD_VARYING;
        }
        fs->results[k] = st->f;
    }
    *n = k;
    return fs->results;
}

size_t content_fields_word(const struct content_fields *fs)
{
    return fs->word;
}

void content_fields_free(struct content_fields *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; fs->at && i < fs->max; i++)
        content_histogram_free(fs->at[i].f.tokens);
    free(fs->at);
    free(fs->results);
    free(fs);
}
