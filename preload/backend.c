/* backend.c — resolve the next allocator in the chain and serve bootstrap allocations.
 * dlsym may call malloc/calloc before we know where malloc is: those come from the
 * scratch arena below, and frees of scratch memory are ignored by the hooks. */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"

struct lt_backend lt_real;

#define SCRATCH_BYTES (256 * 1024)
alignas(64) char lt_scratch_area[SCRATCH_BYTES];
const size_t lt_scratch_capacity = SCRATCH_BYTES;
static _Atomic size_t scratch_used;

/* Each scratch block is preceded by its size so realloc can copy it out. */
void *lt_scratch_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    if (size > SCRATCH_BYTES || (align & (align - 1)))
        return NULL;
    size_t old = atomic_load_explicit(&scratch_used, memory_order_relaxed);
    for (;;) {
        size_t start = (old + 16 + align - 1) & ~(align - 1);
        size_t end = start + size;
        if (end > SCRATCH_BYTES) {
            lt_log_once("bootstrap arena exhausted; an early allocation fails");
            errno = ENOMEM;
            return NULL;
        }
        if (atomic_compare_exchange_weak_explicit(&scratch_used, &old, end, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            memcpy(lt_scratch_area + start - sizeof(size_t), &size, sizeof(size));
            return lt_scratch_area + start;
        }
    }
}

size_t lt_scratch_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof(size));
    return size;
}

/* Fallbacks for entry points an allocator may lack, built on the ones it has. */
static size_t page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

static void *fallback_reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return lt_real.realloc(p, bytes);
}

static void *fallback_aligned_alloc(size_t align, size_t size)
{
    return lt_real.memalign(align, size);
}

static int fallback_posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *p = lt_real.memalign(align, size);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static void *fallback_valloc(size_t size)
{
    return lt_real.memalign(page_size(), size);
}

static void *fallback_pvalloc(size_t size)
{
    size_t page = page_size(), rounded;
    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return lt_real.memalign(page, rounded & ~(page - 1));
}

static void *next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

int lt_backend_init(void)
{
    struct lt_backend b;
    b.malloc = next("malloc");
    b.free = next("free");
    b.calloc = next("calloc");
    b.realloc = next("realloc");
    b.memalign = next("memalign");
    if (!b.malloc || !b.free || !b.calloc || !b.realloc || !b.memalign)
        return -ENOSYS;
    b.reallocarray = next("reallocarray");
    b.posix_memalign = next("posix_memalign");
    b.aligned_alloc = next("aligned_alloc");
    b.valloc = next("valloc");
    b.pvalloc = next("pvalloc");
    b.malloc_usable_size = next("malloc_usable_size");
    if (!b.reallocarray)
        b.reallocarray = fallback_reallocarray;
    if (!b.posix_memalign)
        b.posix_memalign = fallback_posix_memalign;
    if (!b.aligned_alloc)
        b.aligned_alloc = fallback_aligned_alloc;
    if (!b.valloc)
        b.valloc = fallback_valloc;
    if (!b.pvalloc)
        b.pvalloc = fallback_pvalloc;
    /* Publish malloc last: the hooks take "lt_real.malloc != NULL" to mean "resolved". */
    void *(*malloc_fn)(size_t) = b.malloc;
    b.malloc = NULL;
    lt_real = b;
    __atomic_store_n(&lt_real.malloc, malloc_fn, __ATOMIC_RELEASE);
    return 0;
}
