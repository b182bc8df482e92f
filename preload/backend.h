/* backend.h — the real functions behind leaktag's wrappers: the allocator it forwards to
 * (the next malloc in the symbol chain — glibc, or jemalloc when the application links it —
 * or jemalloc's mallocx API), and the thread, name and signal functions it also wraps. The
 * one place leaktag looks symbols up (dlsym(RTLD_NEXT)). Until the allocator is known, a
 * static scratch arena serves the allocations dlsym itself makes. leaktag's own code calls
 * lt_real.*, never its exported wrappers. */
#ifndef LT_BACKEND_H
#define LT_BACKEND_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

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
    /* Not the allocator's: resolved with it, or on first use (lt_real_system). */
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int (*pthread_setname_np)(pthread_t, const char *);
    int (*prctl)(int, unsigned long, unsigned long, unsigned long, unsigned long);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    sighandler_t (*signal)(int, sighandler_t);
    int (*sigprocmask)(int, const sigset_t *, sigset_t *);
    int (*pthread_sigmask)(int, const sigset_t *, sigset_t *);
    int (*pipe2)(int[2], int);
    void (*pthread_exit)(void *) __attribute__((noreturn));
    void (*_exit)(int) __attribute__((noreturn));
    void (*_Exit)(int) __attribute__((noreturn));
    void *(*dlopen)(const char *, int);
    int (*dlclose)(void *);
};

extern struct lt_backend lt_real;

/* Resolves lt_real. Returns 0, or -ENOSYS when no next malloc exists (static binary). */
int lt_backend_init(void);

/* True when a malloc other than leaktag's comes first in the symbol chain (the program's own,
 * or one preloaded ahead of leaktag): nothing can be tracked. Its module goes to owner. */
bool lt_backend_shadowed(char *owner, size_t size);

/* The definition of name after leaktag's own (RTLD_NEXT), of that symbol version first when
 * version is not NULL; NULL if there is none. */
void *lt_backend_next(const char *name, const char *version);

/* The wrappers of thread, name and signal functions may run before start-up (in another
 * preloaded library's constructor, say): they take the real functions from here, which
 * resolves them on first use. Resolving twice is harmless; no lock is taken. */
extern _Atomic bool lt_backend_system_ready;
void lt_backend_resolve_system(void);
LT_INLINE const struct lt_backend *lt_real_system(void)
{
    if (lt_unlikely(!atomic_load_explicit(&lt_backend_system_ready, memory_order_acquire)))
        lt_backend_resolve_system();
    return &lt_real;
}

/* pthread_atfork for leaktag's own handlers, registered for the whole process rather than
 * for libleaktag.so: glibc removes a library's handlers when its destructors run at exit
 * (__cxa_finalize), and 2.36 does that while another thread's fork may be between two of
 * its handlers, which then reads past the shortened list and aborts the process ("array
 * index 0 not less than array length 0": one exit in ten with a thread forking). The shim
 * is never unloaded, so its handlers stay valid. 0 or an errno value. */
int lt_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* Allocation while leaktag is not tracking this call (inside leaktag, before or after a
 * failed start-up): the real allocator once it is known, the scratch arena before. */
void *lt_untracked_malloc(size_t size);
void *lt_untracked_calloc(size_t n, size_t size);
void *lt_untracked_memalign(size_t align, size_t size);
int lt_untracked_posix_memalign(void **out, size_t align, size_t size);
void lt_untracked_free(void *p);
size_t lt_backend_usable_size(void *p);

/* The bootstrap arena: bump allocation from a static buffer, never reused. */
void *lt_scratch_alloc(size_t size, size_t align);
size_t lt_scratch_size(const void *p);

extern char lt_scratch_area[];
extern const size_t lt_scratch_capacity;

static inline bool lt_scratch_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)lt_scratch_area < lt_scratch_capacity;
}

/* realloc of a scratch block: q is the new block from the (tracked) malloc; the old bytes
 * are copied into it. Returns q. */
void *lt_scratch_moved(void *q, const void *scratch, size_t size);

/* n * size, or SIZE_MAX when that overflows (an allocation of it then fails with ENOMEM). */
static inline size_t lt_array_bytes(size_t n, size_t size)
{
    size_t bytes;
    return __builtin_mul_overflow(n, size, &bytes) ? SIZE_MAX : bytes;
}

#endif
