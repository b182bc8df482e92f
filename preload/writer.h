/* writer.h — writes one snapshot file: a temporary name in the target directory (created
 * 0600, O_EXCL|O_NOFOLLOW), buffered sections with LEB128 fields and a CRC per section,
 * then rename() to the final name, so that no reader ever sees half a file.
 * Its buffer is mmap'd; nothing here calls malloc. */
#ifndef LT_WRITER_H
#define LT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

struct lt_writer {
    int fd;
    int error;              /* first -errno seen; every later call is a no-op */
    char *buf;
    size_t cap, len;
    size_t payload_from;    /* where the current section's payload starts in buf */
    uint64_t flushed;       /* bytes written to the file so far */
    uint64_t section_at;    /* file offset of the open section's header */
    uint32_t section_type, crc;
    char tmp_path[LT_PATH_MAX];
    char path[LT_PATH_MAX];
};

/* Opens a temporary file next to path. Returns 0 or -errno. */
int lt_writer_open(struct lt_writer *w, const char *path);

void lt_writer_begin(struct lt_writer *w, uint32_t section_type);
void lt_writer_end(struct lt_writer *w);

void lt_writer_bytes(struct lt_writer *w, const void *p, size_t n);
void lt_writer_u8(struct lt_writer *w, uint8_t v);
void lt_writer_u64(struct lt_writer *w, uint64_t v); /* fixed 8 bytes, little-endian */
void lt_writer_uv(struct lt_writer *w, uint64_t v);  /* LEB128 */
void lt_writer_sv(struct lt_writer *w, int64_t v);   /* zigzag LEB128 */
void lt_writer_str(struct lt_writer *w, const char *s, size_t n);

/* Writes END, closes and renames into place. Returns 0 or -errno; on error the temporary
 * file is removed. lt_writer_abort removes it unconditionally. */
int lt_writer_commit(struct lt_writer *w);
void lt_writer_abort(struct lt_writer *w);

#endif
