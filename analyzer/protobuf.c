/* protobuf.c — the wire format writer (see protobuf.h). */
#include "protobuf.h"

#include <stdlib.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_LENGTH = 2 };

static bool room(struct pb *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->cap - b->len >= n)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *grown = realloc(b->buf, cap);
    if (!grown) {
        b->failed = true;
        return false;
    }
    b->buf = grown;
    b->cap = cap;
    return true;
}

static void varint(struct pb *b, uint64_t v)
{
    if (!room(b, 10))
        return;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        b->buf[b->len++] = byte | (v ? 0x80 : 0);
    } while (v);
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

void pb_reset(struct pb *b)
{
    b->len = 0;
    b->failed = false;
}

void pb_free(struct pb *b)
{
    free(b->buf);
    *b = (struct pb){0};
}

void pb_uint(struct pb *b, uint32_t field, uint64_t v)
{
    varint(b, (uint64_t)field << 3 | WIRE_VARINT);
    varint(b, v);
}

void pb_bytes(struct pb *b, uint32_t field, const void *p, size_t n)
{
    varint(b, (uint64_t)field << 3 | WIRE_LENGTH);
    varint(b, n);
    if (n && room(b, n)) {
        memcpy(b->buf + b->len, p, n);
        b->len += n;
    }
}

void pb_packed(struct pb *b, uint32_t field, const uint64_t *v, size_t n)
{
    if (!n)
        return;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += varint_size(v[i]);
    varint(b, (uint64_t)field << 3 | WIRE_LENGTH);
    varint(b, bytes);
    for (size_t i = 0; i < n; i++)
        varint(b, v[i]);
}
