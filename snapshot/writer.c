/* writer.c — the snapshot encoder: buffered LEB128 fields, a CRC-32 per section, section
 * headers patched with pwrite once their length is known. Never allocates. */
#include "writer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "crc32.h"
#include "format.h"

#define NO_SECTION UINT32_MAX

static void fail(struct lts_writer *w, int err)
{
    if (!w->error)
        w->error = -err;
}

static void write_all(struct lts_writer *w, const char *p, size_t n, uint64_t at)
{
    while (n && !w->error) {
        ssize_t done = pwrite(w->fd, p, n, (off_t)at);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0) {
            fail(w, done < 0 ? errno : ENOSPC);
            return;
        }
        p += done;
        n -= (size_t)done;
        at += (uint64_t)done;
    }
}

/* Compresses in (ZSTD_e_continue) or finishes the frame (ZSTD_e_end, in empty) and writes
 * what comes out; returns what zstd says remains to flush, 0 on error. */
static size_t compress_step(struct lts_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    ZSTD_outBuffer out = {w->zbuf, w->zcap, 0};
    size_t left = ZSTD_compressStream2(w->zstd, &out, in, mode);
    if (ZSTD_isError(left)) {
        fail(w, EIO);
        return 0;
    }
    w->crc = lts_crc32(w->crc, w->zbuf, out.pos);
    write_all(w, w->zbuf, out.pos, w->flushed);
    w->flushed += out.pos;
    return left;
}

static void flush(struct lts_writer *w)
{
    if (w->zstd) {
        /* the section's header (before payload_from) as it is, the payload compressed */
        write_all(w, w->buf, w->payload_from, w->flushed);
        w->flushed += w->payload_from;
        ZSTD_inBuffer in = {w->buf + w->payload_from, w->len - w->payload_from, 0};
        while (in.pos < in.size && !w->error)
            compress_step(w, &in, ZSTD_e_continue);
        w->len = 0;
        w->payload_from = 0;
        return;
    }
    if (w->section_type != NO_SECTION && w->len > w->payload_from)
        w->crc = lts_crc32(w->crc, w->buf + w->payload_from, w->len - w->payload_from);
    write_all(w, w->buf, w->len, w->flushed);
    w->flushed += w->len;
    w->len = 0;
    w->payload_from = 0;
}

void lts_writer_init(struct lts_writer *w, int fd, void *buf, size_t cap)
{
    *w = (struct lts_writer){.fd = fd, .buf = buf, .cap = cap, .section_type = NO_SECTION};
    if (cap < 64) {
        w->error = -EINVAL;
        return;
    }
    char header[LT_FILE_HEADER_SIZE] = LT_FORMAT_MAGIC;
    uint32_t version = LT_FORMAT_VERSION, flags = 0;
    memcpy(header + 8, &version, 4);
    memcpy(header + 12, &flags, 4);
    lts_writer_bytes(w, header, sizeof(header));
}

void lts_writer_bytes(struct lts_writer *w, const void *p, size_t n)
{
    const char *src = p;
    while (n && !w->error) {
        if (w->len == w->cap)
            flush(w);
        size_t chunk = n < w->cap - w->len ? n : w->cap - w->len;
        memcpy(w->buf + w->len, src, chunk);
        w->len += chunk;
        src += chunk;
        n -= chunk;
    }
}

void lts_writer_u8(struct lts_writer *w, uint8_t v)
{
    if (__builtin_expect(w->len < w->cap, 1))
        w->buf[w->len++] = (char)v;
    else
        lts_writer_bytes(w, &v, 1);
}

void lts_writer_uv(struct lts_writer *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    if (__builtin_expect(w->cap - w->len >= n, 1)) {
        memcpy(w->buf + w->len, b, n);
        w->len += n;
    } else {
        lts_writer_bytes(w, b, n);
    }
}

void lts_writer_sv(struct lts_writer *w, int64_t v)
{
    lts_writer_uv(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void lts_writer_str(struct lts_writer *w, const char *s, size_t n)
{
    lts_writer_uv(w, n);
    lts_writer_bytes(w, s, n);
}

void lts_writer_begin(struct lts_writer *w, uint32_t section_type)
{
    flush(w);
    w->section_at = w->flushed;
    w->section_type = section_type;
    w->crc = 0;
    char header[LT_SECTION_HEADER_SIZE] = {0}; /* patched by lts_writer_end */
    lts_writer_bytes(w, header, sizeof(header));
    w->payload_from = w->len;
}

void lts_writer_begin_zstd(struct lts_writer *w, uint32_t section_type, void *cctx, char *zbuf,
                           size_t zcap)
{
    lts_writer_begin(w, section_type);
    if (!cctx || !zbuf || zcap < 64 ||
        ZSTD_isError(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only))) {
        fail(w, EINVAL);
        return;
    }
    w->zstd = cctx;
    w->zbuf = zbuf;
    w->zcap = zcap;
}

void lts_writer_end(struct lts_writer *w)
{
    flush(w);
    if (w->zstd) {
        ZSTD_inBuffer none = {NULL, 0, 0};
        while (!w->error && compress_step(w, &none, ZSTD_e_end) != 0) {
        }
        w->zstd = NULL;
    }
    uint64_t length = w->flushed - w->section_at - LT_SECTION_HEADER_SIZE;
    char header[LT_SECTION_HEADER_SIZE];
    memcpy(header, &w->section_type, 4);
    memcpy(header + 4, &w->crc, 4);
    memcpy(header + 8, &length, 8);
    write_all(w, header, sizeof(header), w->section_at);
    w->section_type = NO_SECTION;
}

int lts_writer_finish(struct lts_writer *w)
{
    lts_writer_begin(w, LT_SECTION_END);
    lts_writer_end(w);
    return w->error;
}
