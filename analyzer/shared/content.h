/* content.h — what is inside a heap block: an xxd-style hexdump, the printable strings, the
 * matches of a regular expression, and histograms of those. Works on any byte buffer (block
 * samples today, memory regions of a live process later); knows nothing about snapshots. */
#ifndef CONTENT_H
#define CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* xxd layout: "OFFSET: 16 bytes in groups of 2  ascii", one line per 16 bytes, each line
 * starting with indent; offsets are printed from base; a run of lines equal to the one
 * before is squeezed to one "*" line, as xxd -a does. */
void content_hexdump(FILE *out, const uint8_t *p, size_t n, uint64_t base, const char *indent);

/* Lowercase hex of the bytes into out (2n+1 bytes). */
void content_hex(const uint8_t *p, size_t n, char *out);

/* The bytes as text, non-printable ones as '.', into out (n+1 bytes). */
void content_printable(const uint8_t *p, size_t n, char *out);

/* Calls fn for each printable token of at least min_len bytes: runs of printable ASCII,
 * split further at whitespace and at the separators of forms, headers and lists (& ; , ")
 * so that "a=1&channelid=4099&b=2" yields "channelid=4099" among others. */
typedef void (*content_token_fn)(const char *s, size_t n, void *ctx);
void content_strings(const uint8_t *p, size_t n, size_t min_len, content_token_fn fn, void *ctx);

/* A compiled regular expression (PCRE2 syntax, as grep -P: \d, \w, lookarounds...). */
struct content_regex;
/* NULL with a message in err when the pattern does not compile. */
struct content_regex *content_regex_compile(const char *pattern, struct lts_error *err);
void content_regex_free(struct content_regex *re);
/* Does the regex match anywhere in s? */
int content_regex_test(const struct content_regex *re, const char *s, size_t n);
/* Calls fn for each non-overlapping match in the bytes (like grep -o). Returns the count. */
size_t content_regex_each(const struct content_regex *re, const uint8_t *p, size_t n,
                          content_token_fn fn, void *ctx);

/* Counts distinct strings. */
struct content_entry {
    char *text;
    size_t len;
    uint64_t count;     /* exact when uncounted is 0 */
    uint64_t uncounted; /* a bounded histogram's: it may have been seen up to this many
                           times more, before it was kept */
};
struct content_histogram;
/* Every distinct string kept: exact counts, memory as the distinct strings. */
struct content_histogram *content_histogram_new(void);
/* At most about `bound` distinct strings kept (a census of unique ids would keep them all):
 * when full, the less frequent half goes. A string seen more than floor times is always kept;
 * its count is exact unless it was dropped once (then `uncounted` bounds what was missed). */
struct content_histogram *content_histogram_new_bounded(size_t bound);
/* A string not in the histogram was seen at most this many times (0: none was dropped). */
uint64_t content_histogram_floor(const struct content_histogram *h);
void content_histogram_add(struct content_histogram *h, const char *s, size_t n);
/* The same, count times at once. */
void content_histogram_add_count(struct content_histogram *h, const char *s, size_t n,
                                 uint64_t count);
/* content_token_fn-shaped adapter: ctx is the histogram. */
void content_histogram_add_token(const char *s, size_t n, void *histogram);
/* The same with each run of digits replaced by '#': "user:session:100060" counts as
 * "user:session:#", so keys that differ only in their numbers add up. Tokens without digits
 * are not counted here. */
void content_histogram_add_shape(const char *s, size_t n, void *histogram);
uint64_t content_histogram_total(const struct content_histogram *h);
/* Entries, most frequent first; ties: key=value tokens first (the value is what tells one
 * request from another), then longer, then alphabetical. Valid until the histogram is freed. */
const struct content_entry *content_histogram_sorted(struct content_histogram *h, size_t *n);
void content_histogram_free(struct content_histogram *h);

/* --grep over one buffer of many (a block's sample, a heap chunk): each match counts once
 * in `matches`, and each distinct match once in `buffers` (grep -c counts the lines holding
 * a match; here, the buffers). The scratch is reused from buffer to buffer. Returns the
 * matches in this buffer, or -1 when memory ran out. */
struct content_grep_scratch {
    struct content_match *found;
    size_t nfound, cap;
    bool oom;
};
long content_grep_buffer(const struct content_regex *re, const uint8_t *p, size_t n,
                         struct content_histogram *matches, struct content_histogram *buffers,
                         struct content_grep_scratch *scratch);
void content_grep_scratch_free(struct content_grep_scratch *scratch);

/* What sits at each word (8 bytes, or 4 for a 32-bit process's objects) of several buffers that are likely the same kind of
 * object (the captured starts of one group's blocks), gathered one buffer at a time: the same
 * word in all, printable text in all (counted by the token that starts there: "GET" x6,
 * "SET" x2 — short ones too), or words that vary (their range, and whether all are 8-aligned,
 * for a caller to tell pointers). */
enum content_field_kind { CONTENT_FIELD_CONSTANT, CONTENT_FIELD_TEXT, CONTENT_FIELD_VARYING };
struct content_field {
    uint32_t offset;
    enum content_field_kind kind;
    uint32_t buffers;                 /* buffers that reach this offset */
    uint64_t value;                   /* CONSTANT: the word (little-endian, zero-extended) */
    uint64_t min, max;                /* VARYING: the range of the words */
    bool aligned;                     /* every word is a multiple of the word size, not 0 */
    struct content_histogram *tokens; /* TEXT: NUL- or end-terminated printable runs (a
                                         bounded histogram) */
};
struct content_fields;
/* The first max words of `word` bytes (8, or 4) of each buffer are looked at. NULL: out of
 * memory. */
struct content_fields *content_fields_new(size_t max, size_t word);
/* The word size the fields were gathered with. */
size_t content_fields_word(const struct content_fields *fs);
void content_fields_add(struct content_fields *fs, const uint8_t *p, size_t n);
/* The offsets at least two buffers reached, from 0 on; valid until the next call or
 * content_fields_free, which also frees the token histograms. */
const struct content_field *content_fields_result(struct content_fields *fs, size_t *n);
void content_fields_free(struct content_fields *fs);

#endif
