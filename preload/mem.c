/* mem.c — page mappings for leaktag's internal structures, with a running total so that
 * the tracker's own footprint (bytes per live block) can be reported. Never calls malloc. */
#include "mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"
#include "options.h"

static _Atomic uint64_t mapped_bytes;

/* The list of mappings: a slot is claimed by a compare-and-swap of its start from 0 (maps and
 * unmaps are rare, and come from any thread). */
#define MAPPINGS_MAX 16384
static struct {
    _Atomic uint64_t lo, hi;
} mappings[MAPPINGS_MAX];
static _Atomic uint32_t mappings_high; /* slots ever used */
static _Atomic uint64_t mappings_unlisted;

static void list_mapping(void *p, size_t bytes)
{
    uint64_t lo = (uint64_t)(uintptr_t)p;
    for (uint32_t i = 0; i < MAPPINGS_MAX; i++) {
        uint64_t expected = 0;
        if (atomic_compare_exchange_strong_explicit(&mappings[i].lo, &expected, lo,
                                                    memory_order_relaxed, memory_order_relaxed)) {
            atomic_store_explicit(&mappings[i].hi, lo + bytes, memory_order_release);
            uint32_t high = atomic_load_explicit(&mappings_high, memory_order_relaxed);
            while (high < i + 1 &&
                   !atomic_compare_exchange_weak_explicit(
                       &mappings_high, &high, i + 1, memory_order_relaxed, memory_order_relaxed)) {
            }
            return;
        }
    }
    atomic_fetch_add_explicit(&mappings_unlisted, 1, memory_order_relaxed);
}

static void unlist_mapping(void *p)
{
    uint64_t lo = (uint64_t)(uintptr_t)p;
    uint32_t high = atomic_load_explicit(&mappings_high, memory_order_relaxed);
    for (uint32_t i = 0; i < high; i++) {
        if (atomic_load_explicit(&mappings[i].lo, memory_order_relaxed) == lo) {
            atomic_store_explicit(&mappings[i].hi, 0, memory_order_relaxed);
            atomic_store_explicit(&mappings[i].lo, 0, memory_order_release);
            return;
        }
    }
}

uint64_t lt_mem_each_mapping(void (*visit)(uint64_t lo, uint64_t hi, void *ctx), void *ctx)
{
    uint32_t high = atomic_load_explicit(&mappings_high, memory_order_acquire);
    for (uint32_t i = 0; i < high; i++) {
        uint64_t lo = atomic_load_explicit(&mappings[i].lo, memory_order_acquire);
        uint64_t hi = atomic_load_explicit(&mappings[i].hi, memory_order_acquire);
        if (lo && hi > lo)
            visit(lo, hi, ctx);
    }
    return atomic_load_explicit(&mappings_unlisted, memory_order_relaxed);
}

static size_t page_round(size_t bytes)
{
    size_t page = 4096;
    return (bytes + page - 1) & ~(page - 1);
}

/* The one message for every way leaktag's own memory runs out: whichever structure asked,
 * the consequence for the user is the same. */
static void out_of_memory(size_t bytes, bool capped)
{
    char have[32], want[32];
    lt_format_bytes(have, sizeof(have), atomic_load_explicit(&mapped_bytes, memory_order_relaxed));
    lt_format_bytes(want, sizeof(want), bytes);
    lt_log_once("leaktag's own memory ran out (%s in use, %s more %s); from now on some blocks "
                "may not be tracked (untracked_blocks counts them), the program runs on",
                have, want, capped ? "would pass LEAKTAG_MAX_MEMORY" : "refused by the kernel");
}

/* While the tracker starts, its fixed structures are not held to LEAKTAG_MAX_MEMORY: a cap
 * below them must mean "track what fits", not "cannot start". */
static _Atomic bool starting;

void lt_mem_starting(bool on)
{
    atomic_store_explicit(&starting, on, memory_order_relaxed);
}

static void *map(size_t bytes, bool capped)
{
    bytes = page_round(bytes);
    if (capped && lt_opt.max_memory && !atomic_load_explicit(&starting, memory_order_relaxed) &&
        atomic_load_explicit(&mapped_bytes, memory_order_relaxed) + bytes > lt_opt.max_memory) {
        out_of_memory(bytes, true);
        return NULL;
    }
    int saved_errno = errno; /* called from inside malloc hooks */
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = saved_errno;
    if (p == MAP_FAILED) {
        out_of_memory(bytes, false);
        return NULL;
    }
    atomic_fetch_add_explicit(&mapped_bytes, bytes, memory_order_relaxed);
    list_mapping(p, bytes);
    return p;
}

void *lt_mem_map(size_t bytes)
{
    return map(bytes, true);
}

void *lt_mem_map_scratch(size_t bytes)
{
    return map(bytes, false);
}

void lt_mem_unmap(void *p, size_t bytes)
{
    if (!p)
        return;
    bytes = page_round(bytes);
    unlist_mapping(p);
    munmap(p, bytes);
    atomic_fetch_sub_explicit(&mapped_bytes, bytes, memory_order_relaxed);
}

void *lt_mem_map_stack(size_t bytes)
{
    bytes = page_round(bytes);
    size_t guard = page_round(1);
    int saved_errno = errno;
    /* Address space only: pages cost memory once a snapshot touches them. Not counted in
     * lt_mem_in_use, which is memory leaktag holds. */
    char *p = mmap(NULL, bytes + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p != MAP_FAILED && mprotect(p, guard, PROT_NONE) != 0) {
        munmap(p, bytes + guard);
        p = MAP_FAILED;
    }
    errno = saved_errno;
    if (p == MAP_FAILED)
        return NULL;
    list_mapping(p, bytes + guard);
    return p + guard + bytes;
}

uint64_t lt_mem_in_use(void)
{
    return atomic_load_explicit(&mapped_bytes, memory_order_relaxed);
}
