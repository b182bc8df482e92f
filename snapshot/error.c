/* error.c — filling a struct lts_error. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int lts_fail(struct lts_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->has_offset = 0;
    err->offset = 0;
    return -1;
}
