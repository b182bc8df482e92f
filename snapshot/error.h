/* error.h — how the snapshot library and the analyzer report a failure: the function returns
 * -1 (or NULL) and fills one of these. A message says what is wrong; an offset, when there is
 * one, says where in the file. */
#ifndef LTS_ERROR_H
#define LTS_ERROR_H

#include <stdint.h>

struct lts_error {
    char message[256]; /* "truncated BLOCKS section", "out of memory", ... */
    uint64_t offset;   /* byte offset in the file where it went wrong */
    int has_offset;    /* 0 for errors that are not about a file's content */
};

/* Sets the message (no offset). Always returns -1, for `return lts_fail(err, ...)`. */
int lts_fail(struct lts_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
