/* page_malloc.c — a malloc whose every block starts at the first byte of a mapping of its
 * own, with an inaccessible page below it (jemalloc's extents can start a mapping too).
 * Preloaded after libleaktag.so, it is the allocator leaktag forwards to: a verdict that
 * reads the word below a block (glibc's chunk header) faults here. Slow and simple: one
 * mmap per block; the size sits in a page two below the block. */
#include <errno.h>
#include <stddef.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096u

static size_t round_up(size_t n)
{
    return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

__attribute__((visibility("default"))) void *malloc(size_t n)
{
    if (n > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = 2 * PAGE + round_up(n ? n : 1);
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    mprotect(base + PAGE, PAGE, PROT_NONE); /* the block's mapping starts after it */
    memcpy(base, &n, sizeof(n));
    return base + 2 * PAGE;
}

static size_t size_of(void *p)
{
    size_t n;
    memcpy(&n, (char *)p - 2 * PAGE, sizeof(n));
    return n;
}

__attribute__((visibility("default"))) void free(void *p)
{
    if (p)
        munmap((char *)p - 2 * PAGE, 2 * PAGE + round_up(size_of(p) ? size_of(p) : 1));
}

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n * size); /* fresh anonymous pages are zero */
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    void *q = malloc(n);
    if (q) {
        size_t old = size_of(p);
        memcpy(q, p, old < n ? old : n);
        free(p);
    }
    return q;
}

__attribute__((visibility("default"))) size_t malloc_usable_size(void *p)
{
    return p ? size_of(p) : 0;
}

/* Every block is page-aligned: enough for any alignment up to a page. */
__attribute__((visibility("default"))) int posix_memalign(void **out, size_t align, size_t n)
{
    if (align > PAGE || (align & (align - 1)))
        return EINVAL;
    *out = malloc(n);
    return *out ? 0 : ENOMEM;
}

__attribute__((visibility("default"))) void *aligned_alloc(size_t align, size_t n)
{
    void *p = NULL;
    int err = posix_memalign(&p, align, n);
    if (err)
        errno = err;
    return p;
}

__attribute__((visibility("default"))) void *memalign(size_t align, size_t n)
{
    return aligned_alloc(align, n);
}

__attribute__((visibility("default"))) void *valloc(size_t n)
{
    return malloc(n);
}

__attribute__((visibility("default"))) void *pvalloc(size_t n)
{
    return malloc(round_up(n));
}
