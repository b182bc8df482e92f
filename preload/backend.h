/* backend.h — the allocator leaktag forwards to: the next malloc in the symbol chain
 * (glibc, or jemalloc when the application links it), resolved once with dlsym(RTLD_NEXT).
 * Until that is done, a static scratch arena serves the allocations dlsym itself makes. */
#ifndef LT_BACKEND_H
#define LT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lt_backend {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    void *(*memalign)(size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
};

extern struct lt_backend lt_real;

/* Resolves lt_real. Returns 0, or -ENOSYS when no next malloc exists (static binary). */
int lt_backend_init(void);

/* The bootstrap arena: bump allocation from a static buffer, never reused. */
void *lt_scratch_alloc(size_t size, size_t align);
size_t lt_scratch_size(const void *p);

extern char lt_scratch_area[];
extern const size_t lt_scratch_capacity;

static inline bool lt_scratch_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)lt_scratch_area < lt_scratch_capacity;
}

#endif
