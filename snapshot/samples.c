/* samples.c — a snapshot's samples one at a time (see samples.h).
 *
 * The window is 1 MiB, grown to hold the largest record, so that the report's memory grows
 * with the blocks, not with their bytes. */
#include "samples.h"

#include <zstd.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "format.h"

#define WINDOW_MIN (1u << 20)
#define RECORD_HEAD_MAX 30 /* a record's three numbers: address, stack, length */
#define TOO_LARGE SIZE_MAX

/* The bytes the record at p takes, once its three numbers are all in [p, p + avail); 0 while
 * they are not. A malformed number gives the bytes read so far: the decoder names it. */
static size_t record_extent(const uint8_t *p, size_t avail)
{
    size_t at = 0;
    uint64_t v = 0;
    for (int field = 0; field < 3; field++) {
        v = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (at == avail)
                return 0;
            uint8_t b = p[at++];
            if (shift < 64)
                v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
            if (shift >= 63)
                return at;
        }
    }
    return v > LT_FORMAT_SAMPLE_BYTES_MAX ? TOO_LARGE : at + (size_t)v;
}

static bool grow(uint8_t **win, size_t *cap, size_t want)
{
    size_t n = *cap;
    while (n < want)
        n *= 2;
    uint8_t *bigger = n == *cap ? *win : realloc(*win, n);
    if (!bigger)
        return false;
    *win = bigger;
    *cap = n;
    return true;
}

bool lts_census_walk(const uint8_t *payload, size_t length, struct lts_cursor *c,
                     lts_census_record_fn record, void *ctx)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t cap = WINDOW_MIN;
    uint8_t *win = malloc(cap);
    bool ok = d && win ? true : lts_cursor_fail(c, "out of memory");
    ZSTD_inBuffer in = {payload, length, 0};
    size_t start = 0, end = 0;
    uint64_t produced = 0, limit = 1024ull * length + (1u << 20);
    bool ended = false;
    while (ok) {
        size_t need = start < end ? record_extent(win + start, end - start) : 0;
        if (need == TOO_LARGE) {
            ok = lts_cursor_fail(c, "sample larger than leaktag takes in %s section", c->section);
            break;
        }
        if (need && need <= end - start) {
            struct lts_cursor rc = *c;
            rc.p = win + start;
            rc.end = win + start + need;
            rc.alloc = NULL;
            struct lts_sample sm;
            ok = lts_get_sample(&rc, &sm) && rc.p == rc.end;
            if (!ok) {
                c->failed = true; /* rc wrote the message */
                break;
            }
            const uint8_t *bytes = sm.bytes;
            sm.bytes = NULL;
            ok = record(ctx, &sm, bytes);
            start += need;
            continue;
        }
        if (ended) {
            if (start != end)
                ok = lts_cursor_fail(c, "%s section ends inside a record", c->section);
            break;
        }
        /* More output: what is left of the window to its front, room for the whole record. */
        memmove(win, win + start, end - start);
        end -= start;
        start = 0;
        if (!grow(&win, &cap, need ? need : end + RECORD_HEAD_MAX)) {
            ok = lts_cursor_fail(c, "out of memory");
            break;
        }
        ZSTD_outBuffer out = {win, cap, end};
        size_t left = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(left)) {
            ok = lts_cursor_fail(c, "%s section does not decompress", c->section);
            break;
        }
        bool progress = out.pos > end;
        produced += out.pos - end;
        end = out.pos;
        if (produced > limit)
            ok = lts_cursor_fail(c, "%s section decompresses to more than this reader takes",
                                 c->section);
        else if (left == 0)
            ended = true;
        else if (in.pos == in.size && !progress)
            ok = lts_cursor_fail(c, "%s section ends inside its zstd frame", c->section);
        if (ended && in.pos != in.size)
            ok = lts_cursor_fail(c, "%s section is not one whole zstd frame", c->section);
    }
    free(win);
    ZSTD_freeDCtx(d);
    return ok;
}
