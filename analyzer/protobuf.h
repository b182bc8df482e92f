/* protobuf.h — the protocol buffers wire format, writing only: varints, zigzag-free int64s
 * (as `int64` fields are), length-delimited bytes and nested messages, packed repeated
 * numbers. What pprof's profile.proto needs and no more; a generated encoder (protobuf-c and
 * protoc-c) would add a code generator to the build for five small messages. A failed
 * allocation marks the buffer failed: every later call does nothing, the caller checks once. */
#ifndef PROTOBUF_H
#define PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pb {
    uint8_t *buf;
    size_t len, cap;
    bool failed;
};

void pb_reset(struct pb *b); /* empty again, memory kept */
void pb_free(struct pb *b);

/* Field `field` as a varint (uint64, bool, enum; int64 as its two's complement). Zero values
 * are written too: proto3 readers take them as the default. */
void pb_uint(struct pb *b, uint32_t field, uint64_t v);
static inline void pb_int(struct pb *b, uint32_t field, int64_t v)
{
    pb_uint(b, field, (uint64_t)v);
}
/* Length-delimited: a string, bytes, or a nested message already encoded (a struct pb). */
void pb_bytes(struct pb *b, uint32_t field, const void *p, size_t n);
static inline void pb_message(struct pb *b, uint32_t field, const struct pb *inner)
{
    pb_bytes(b, field, inner->buf, inner->len);
}
/* A packed repeated field of varints (uint64; int64 values pass their two's complement). */
void pb_packed(struct pb *b, uint32_t field, const uint64_t *v, size_t n);

#endif
