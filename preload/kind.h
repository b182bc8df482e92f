/* kind.h — which allocation kinds and release functions match (free of a new is a
 * mismatch). Header-only; the numbers themselves are on disk, in snapshot/format.h. */
#ifndef LT_KIND_H
#define LT_KIND_H

#include <stdbool.h>

#include "format.h"

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
