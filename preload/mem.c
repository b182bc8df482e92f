/* mem.c — page mappings for leaktag's internal structures, with a running total so that
 * the tracker's own footprint (bytes per live block) can be reported. Never calls malloc. */
#include "mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compiler.h"

static _Atomic uint64_t mapped_bytes;

static size_t page_round(size_t bytes)
{
    size_t page = 4096;
    return (bytes + page - 1) & ~(page - 1);
}

void *lt_mem_map(size_t bytes)
{
    bytes = page_round(bytes);
    int saved_errno = errno; /* called from inside malloc hooks */
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved_errno;
    if (p == MAP_FAILED)
        return NULL;
    atomic_fetch_add_explicit(&mapped_bytes, bytes, memory_order_relaxed);
    return p;
}

void lt_mem_unmap(void *p, size_t bytes)
{
    if (!p)
        return;
    bytes = page_round(bytes);
    munmap(p, bytes);
    atomic_fetch_sub_explicit(&mapped_bytes, bytes, memory_order_relaxed);
}

uint64_t lt_mem_in_use(void)
{
    return atomic_load_explicit(&mapped_bytes, memory_order_relaxed);
}
