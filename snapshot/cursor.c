/* cursor.c — the decoding primitives of the snapshot reader. Every read is checked against
 * the end of its section; the first failure is the one reported. */
#include "cursor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool lts_cursor_fail(struct lts_cursor *c, const char *fmt, ...)
{
    if (c->failed)
        return false;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    c->err->offset = (uint64_t)(c->p - c->base);
    c->err->has_offset = 1;
    return false;
}

bool lts_get_uv(struct lts_cursor *c, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            return lts_cursor_fail(c, "truncated %s section", c->section);
        uint8_t b = *c->p++;
        if (shift == 63 && b > 1)
            return lts_cursor_fail(c, "number too large in %s section", c->section);
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return lts_cursor_fail(c, "number too long in %s section", c->section);
}

bool lts_get_sv(struct lts_cursor *c, int64_t *v)
{
    uint64_t u = 0;
    if (!lts_get_uv(c, &u))
        return false;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return true;
}

bool lts_get_u8(struct lts_cursor *c, uint8_t *v)
{
    if (c->p >= c->end)
        return lts_cursor_fail(c, "truncated %s section", c->section);
    *v = *c->p++;
    return true;
}

bool lts_get_u32_max(struct lts_cursor *c, uint32_t *v, uint64_t max, const char *what)
{
    uint64_t u;
    if (!lts_get_uv(c, &u))
        return false;
    if (u > max)
        return lts_cursor_fail(c, "%s %llu out of range in %s section", what, (unsigned long long)u,
                               c->section);
    *v = (uint32_t)u;
    return true;
}

bool lts_get_str_view(struct lts_cursor *c, const uint8_t **out, size_t *len)
{
    uint64_t n;
    if (!lts_get_uv(c, &n))
        return false;
    if (n > (uint64_t)(c->end - c->p))
        return lts_cursor_fail(c, "string longer than its %s section", c->section);
    *out = c->p;
    *len = (size_t)n;
    c->p += n;
    return true;
}

bool lts_cursor_alloc(struct lts_cursor *c, size_t n, void **out)
{
    *out = NULL;
    if (!c->alloc)
        return true;
    if (!(*out = c->alloc(c->alloc_ctx, n)))
        return lts_cursor_fail(c, "out of memory");
    return true;
}

bool lts_get_str(struct lts_cursor *c, const char **out, size_t *len)
{
    const uint8_t *start = NULL;
    size_t n = 0;
    void *copy;
    if (!lts_get_str_view(c, &start, &n) || !lts_cursor_alloc(c, n + 1, &copy))
        return false;
    if (len)
        *len = n;
    if (copy) {
        memcpy(copy, start, n);
        ((char *)copy)[n] = '\0';
    }
    *out = copy;
    return true;
}
