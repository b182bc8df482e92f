/* writer.c — the snapshot file writer: temporary file, buffered LEB128 sections with a
 * CRC-32 each, patching of section headers, atomic rename. Never calls malloc. */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "compiler.h"
#include "crc32.h"
#include "format.h"
#include "log.h"
#include "mem.h"

#define BUFFER_BYTES (1u << 20)

static void fail(struct lt_writer *w, int err)
{
    if (!w->error)
        w->error = -err;
}

static void write_all(struct lt_writer *w, const char *p, size_t n, uint64_t at)
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

static void flush(struct lt_writer *w)
{
    if (w->section_type != UINT32_MAX && w->len > w->payload_from)
        w->crc = lt_crc32(w->crc, w->buf + w->payload_from, w->len - w->payload_from);
    write_all(w, w->buf, w->len, w->flushed);
    w->flushed += w->len;
    w->len = 0;
    w->payload_from = 0;
}

int lt_writer_open(struct lt_writer *w, const char *path)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    w->section_type = UINT32_MAX;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(w->path) - 32)
        return -ENAMETOOLONG;
    memcpy(w->path, path, len + 1);
    /* ".NAME.tmp-RANDOM" in the same directory: rename() stays atomic. */
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
        nonce = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)w;
    lt_format(w->tmp_path, sizeof(w->tmp_path), "%.*s.%s.tmp-%llx", (int)dir_len, path,
              path + dir_len, (unsigned long long)nonce);
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return -errno;
    w->cap = BUFFER_BYTES;
    w->buf = lt_mem_map_scratch(w->cap);
    if (!w->buf) {
        lt_writer_abort(w);
        return -ENOMEM;
    }
    char header[LT_FILE_HEADER_SIZE] = LT_FORMAT_MAGIC;
    uint32_t version = LT_FORMAT_VERSION, flags = 0;
    memcpy(header + 8, &version, 4);
    memcpy(header + 12, &flags, 4);
    lt_writer_bytes(w, header, sizeof(header));
    return 0;
}

void lt_writer_bytes(struct lt_writer *w, const void *p, size_t n)
{
    const char *src = p;
    while (n && !w->error) {
        if (w->len == w->cap)
            flush(w);
        size_t chunk = lt_min(n, w->cap - w->len);
        memcpy(w->buf + w->len, src, chunk);
        w->len += chunk;
        src += chunk;
        n -= chunk;
    }
}

void lt_writer_u8(struct lt_writer *w, uint8_t v)
{
    if (lt_likely(w->len < w->cap))
        w->buf[w->len++] = (char)v;
    else
        lt_writer_bytes(w, &v, 1);
}

void lt_writer_u64(struct lt_writer *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    lt_writer_bytes(w, b, 8);
}

void lt_writer_uv(struct lt_writer *w, uint64_t v)
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
    if (lt_likely(w->cap - w->len >= n)) {
        memcpy(w->buf + w->len, b, n);
        w->len += n;
    } else {
        lt_writer_bytes(w, b, n);
    }
}

void lt_writer_sv(struct lt_writer *w, int64_t v)
{
    lt_writer_uv(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void lt_writer_str(struct lt_writer *w, const char *s, size_t n)
{
    lt_writer_uv(w, n);
    lt_writer_bytes(w, s, n);
}

void lt_writer_begin(struct lt_writer *w, uint32_t section_type)
{
    flush(w);
    w->section_at = w->flushed;
    w->section_type = section_type;
    w->crc = 0;
    char header[LT_SECTION_HEADER_SIZE] = {0}; /* patched by lt_writer_end */
    lt_writer_bytes(w, header, sizeof(header));
    w->payload_from = w->len;
}

void lt_writer_end(struct lt_writer *w)
{
    flush(w);
    uint64_t length = w->flushed - w->section_at - LT_SECTION_HEADER_SIZE;
    char header[LT_SECTION_HEADER_SIZE];
    memcpy(header, &w->section_type, 4);
    memcpy(header + 4, &w->crc, 4);
    memcpy(header + 8, &length, 8);
    write_all(w, header, sizeof(header), w->section_at);
    w->section_type = UINT32_MAX;
}

void lt_writer_abort(struct lt_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp_path);
        w->fd = -1;
    }
    if (w->buf) {
        lt_mem_unmap(w->buf, w->cap);
        w->buf = NULL;
    }
}

int lt_writer_commit(struct lt_writer *w)
{
    lt_writer_begin(w, LT_SECTION_END);
    lt_writer_end(w);
    if (!w->error && close(w->fd) != 0)
        fail(w, errno);
    else if (w->error)
        close(w->fd);
    w->fd = -1;
    if (!w->error && rename(w->tmp_path, w->path) != 0)
        fail(w, errno);
    if (w->error)
        unlink(w->tmp_path);
    if (w->buf) {
        lt_mem_unmap(w->buf, w->cap);
        w->buf = NULL;
    }
    return w->error;
}
