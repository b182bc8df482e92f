/* writer.h — encodes a snapshot into a file descriptor: the file header, sections with a
 * CRC-32 each (their headers patched in place once the length is known), LEB128 fields.
 * It owns nothing: the caller gives it a seekable descriptor and a buffer, and creates,
 * renames or removes the file. No allocation, no locks, no stdio: the shim calls it. */
#ifndef LTS_WRITER_H
#define LTS_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct lts_writer {
    int fd;
    int error; /* first -errno seen; every later call is a no-op */
    char *buf;
    size_t cap, len;
    size_t payload_from; /* where the current section's payload starts in buf */
    uint64_t flushed;    /* bytes written to the file so far */
    uint64_t section_at; /* file offset of the open section's header */
    uint32_t section_type, crc;
    void *zstd; /* while a compressed section is open: its ZSTD_CCtx */
    char *zbuf; /* and the buffer compressed bytes go through */
    size_t zcap;
};

/* Starts a snapshot at offset 0 of fd, buffering in buf (cap >= 64 bytes): writes the file
 * header. */
void lts_writer_init(struct lts_writer *w, int fd, void *buf, size_t cap);

void lts_writer_begin(struct lts_writer *w, uint32_t section_type);
/* The same for a section whose payload is one zstd frame of what is written into it until
 * lts_writer_end: cctx is a ZSTD_CCtx (reset here), zbuf of zcap bytes the output buffer
 * (ZSTD_CStreamOutSize() is the right size). Still no allocation here. */
void lts_writer_begin_zstd(struct lts_writer *w, uint32_t section_type, void *cctx, char *zbuf,
                           size_t zcap);
void lts_writer_end(struct lts_writer *w);

void lts_writer_bytes(struct lts_writer *w, const void *p, size_t n);
void lts_writer_u8(struct lts_writer *w, uint8_t v);
void lts_writer_uv(struct lts_writer *w, uint64_t v); /* LEB128 */
void lts_writer_sv(struct lts_writer *w, int64_t v);  /* zigzag LEB128 */
void lts_writer_str(struct lts_writer *w, const char *s, size_t n);

/* Writes the END section and flushes. Returns 0 or the first -errno of the whole file;
 * the descriptor stays open. */
int lts_writer_finish(struct lts_writer *w);

#endif
