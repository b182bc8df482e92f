/* fields.h — what a group's blocks are, read from their captured bytes: the word at each
 * 8-byte offset across the group's samples (content_fields, counted by census.c), with the constant ones named
 * when they point into a module (a vtable: the C++ type of the objects; a global), and the
 * ones that point into the heap told apart. Part of the model's view of a group, shared by
 * the renderers. */
#ifndef FIELDS_H
#define FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "group.h"

#define FIELDS_MAX 32

struct field_name {
    const char *symbol; /* "vtable for Session", a global; NULL: not in a module's symbols */
    const char *module;
    uint64_t offset; /* into the symbol */
};

struct field_view {
    struct content_field fields[FIELDS_MAX];
    struct field_name names[FIELDS_MAX]; /* for CONSTANT fields */
    bool heap[FIELDS_MAX];               /* every word points into the heap */
    size_t n;
    size_t samples;
    size_t word;      /* bytes per field: 8, or 4 in a 32-bit process's snapshot */
    const char *type; /* the objects' C++ type, from a vtable at +0 (interned), or NULL */
};

/* 0, or -1 when the group has fewer than two samples with at least 8 bytes. */
int field_view_build(const struct group *g, struct field_view *v);
void field_view_free(struct field_view *v);

#endif
