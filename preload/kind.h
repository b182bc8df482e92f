/* kind.h — which function allocated a block and which one freed it, and which pairs match.
 * Header-only. The numbers are part of the snapshot format: append, never renumber. */
#ifndef LT_KIND_H
#define LT_KIND_H

#include <stdbool.h>

enum lt_kind {
    LT_KIND_MALLOC = 0,
    LT_KIND_CALLOC = 1,
    LT_KIND_REALLOC = 2,
    LT_KIND_REALLOCARRAY = 3,
    LT_KIND_POSIX_MEMALIGN = 4,
    LT_KIND_ALIGNED_ALLOC = 5,
    LT_KIND_MEMALIGN = 6,
    LT_KIND_VALLOC = 7,
    LT_KIND_PVALLOC = 8,
    LT_KIND_NEW = 9,
    LT_KIND_NEW_ARRAY = 10,
    LT_KIND_NEW_ALIGNED = 11,
    LT_KIND_NEW_ARRAY_ALIGNED = 12,
    LT_KIND_COUNT
};

enum lt_release {
    LT_RELEASE_FREE = 0, /* free, and realloc of the old block */
    LT_RELEASE_DELETE = 1,
    LT_RELEASE_DELETE_ARRAY = 2,
    LT_RELEASE_DELETE_ALIGNED = 3,
    LT_RELEASE_DELETE_ARRAY_ALIGNED = 4,
    LT_RELEASE_COUNT
};

/* The release function that matches an allocation kind. */
static inline enum lt_release lt_kind_release(enum lt_kind kind)
{
    switch (kind) {
    case LT_KIND_NEW: return LT_RELEASE_DELETE;
    case LT_KIND_NEW_ARRAY: return LT_RELEASE_DELETE_ARRAY;
    case LT_KIND_NEW_ALIGNED: return LT_RELEASE_DELETE_ALIGNED;
    case LT_KIND_NEW_ARRAY_ALIGNED: return LT_RELEASE_DELETE_ARRAY_ALIGNED;
    default: return LT_RELEASE_FREE;
    }
}

static inline bool lt_kind_matches(enum lt_kind kind, enum lt_release release)
{
    return lt_kind_release(kind) == release;
}

#endif
