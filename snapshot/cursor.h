/* cursor.h — bounds-checked decoding of a section's payload: LEB128 numbers, bytes, strings.
 * A failure records one message with its file offset and makes every later call fail, so
 * that a decoder can chain its fields with && and report the first problem only. */
#ifndef LTS_CURSOR_H
#define LTS_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct lts_cursor {
    const uint8_t *p, *end;
    const uint8_t *base; /* start of the file image: offsets are reported from here */
    const char *section; /* its name, for messages */
    struct lts_error *err;
    bool failed;
    /* Where decoded strings and arrays are copied; NULL while only validating and
     * counting (then nothing is copied and pointers in the records are NULL). */
    void *(*alloc)(void *ctx, size_t n);
    void *alloc_ctx;
};

/* Records "message (in the X section)" at the cursor's offset. Returns false. */
bool lts_cursor_fail(struct lts_cursor *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

bool lts_get_uv(struct lts_cursor *c, uint64_t *v);
bool lts_get_sv(struct lts_cursor *c, int64_t *v);
bool lts_get_u8(struct lts_cursor *c, uint8_t *v);
/* A uv no larger than max; `what` names it in the message. */
bool lts_get_u32_max(struct lts_cursor *c, uint32_t *v, uint64_t max, const char *what);
/* A str field. *out: a NUL-terminated copy (NULL when validating); *len its length. */
bool lts_get_str(struct lts_cursor *c, const char **out, size_t *len);
/* A str field left in place: *out points into the payload (never NULL on success). */
bool lts_get_str_view(struct lts_cursor *c, const uint8_t **out, size_t *len);
/* n bytes of room from the cursor's allocator, or NULL while validating; false only when
 * an allocator said no. */
bool lts_cursor_alloc(struct lts_cursor *c, size_t n, void **out);

#endif
