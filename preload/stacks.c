/* stacks.c — deduplicating stack table. Records live in an append-only arena of mmap'd
 * chunks; a hash index of (hash bits, id) finds them. Readers never lock: the index is
 * replaced, not resized in place, and old indexes are kept (they are small).
 *
 * Id 0 is the empty stack. */
#include "stacks.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "compiler.h"
#include "log.h"
#include "mem.h"

struct record {
    uint64_t hash;
    uint32_t depth;
    uint32_t id;
    uint64_t frames[];
};

#define ID_CHUNK_SHIFT 16
#define ID_CHUNK (1u << ID_CHUNK_SHIFT)
#define ID_CHUNKS 256 /* 16M stacks */
#define ARENA_CHUNK (1u << 20)

struct index {
    uint64_t mask;
    _Atomic uint64_t entry[]; /* hash high 32 bits << 32 | id; 0 = empty */
};

static struct record *_Atomic *_Atomic id_chunks[ID_CHUNKS];
static struct index *_Atomic current_index;
static _Atomic uint32_t count;

/* Everything below is written under insert_lock only. */
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena_cur, *arena_end;

static inline struct record *record_of(uint32_t id)
{
    struct record *_Atomic *chunk = atomic_load_explicit(&id_chunks[id >> ID_CHUNK_SHIFT],
                                                         memory_order_acquire);
    return chunk ? atomic_load_explicit(&chunk[id & (ID_CHUNK - 1)], memory_order_acquire) : NULL;
}

static struct index *new_index(uint64_t entries)
{
    struct index *ix = lt_mem_map(sizeof(struct index) + entries * sizeof(uint64_t));
    if (ix)
        ix->mask = entries - 1;
    return ix;
}

static uint32_t find(const struct index *ix, uint64_t h, const uint64_t *frames, unsigned depth)
{
    uint64_t tag = h >> 32 << 32;
    for (uint64_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
        uint64_t e = atomic_load_explicit(&((struct index *)ix)->entry[i], memory_order_acquire);
        if (!e)
            return UINT32_MAX;
        if ((e & ~0xffffffffull) != tag)
            continue;
        const struct record *r = record_of((uint32_t)e);
        if (r && r->hash == h && r->depth == depth &&
            !memcmp(r->frames, frames, depth * sizeof(uint64_t)))
            return r->id;
    }
}

static void index_put(struct index *ix, uint64_t h, uint32_t id)
{
    uint64_t i = h & ix->mask;
    while (atomic_load_explicit(&ix->entry[i], memory_order_relaxed))
        i = (i + 1) & ix->mask;
    atomic_store_explicit(&ix->entry[i], (h >> 32 << 32) | id, memory_order_release);
}

static struct record *arena_take(size_t bytes)
{
    if (!arena_cur || (size_t)(arena_end - arena_cur) < bytes) {
        arena_cur = lt_mem_map(ARENA_CHUNK);
        if (!arena_cur)
            return NULL;
        arena_end = arena_cur + ARENA_CHUNK;
    }
    struct record *r = (struct record *)arena_cur;
    arena_cur += (bytes + 7) & ~(size_t)7;
    return r;
}

/* Stores a record under the insert lock and makes it findable; returns its id. */
static uint32_t add(uint64_t h, const uint64_t *frames, unsigned depth)
{
    uint32_t id = atomic_load_explicit(&count, memory_order_relaxed);
    if (id >= ID_CHUNK * ID_CHUNKS)
        return LT_STACK_NONE;
    struct index *ix = atomic_load_explicit(&current_index, memory_order_relaxed);
    if ((uint64_t)id * 2 >= ix->mask) {
        /* Readers keep using the old index while we build the new one; it stays mapped. */
        struct index *bigger = new_index((ix->mask + 1) * 2);
        if (!bigger)
            return LT_STACK_NONE;
        for (uint32_t i = 1; i < id; i++) {
            const struct record *r = record_of(i);
            index_put(bigger, r->hash, i);
        }
        atomic_store_explicit(&current_index, bigger, memory_order_release);
        ix = bigger;
    }
    struct record *_Atomic *chunk = atomic_load_explicit(&id_chunks[id >> ID_CHUNK_SHIFT],
                                                         memory_order_relaxed);
    if (!chunk) {
        chunk = lt_mem_map(ID_CHUNK * sizeof(*chunk));
        if (!chunk)
            return LT_STACK_NONE;
        atomic_store_explicit(&id_chunks[id >> ID_CHUNK_SHIFT], chunk, memory_order_release);
    }
    struct record *r = arena_take(sizeof(*r) + depth * sizeof(uint64_t));
    if (!r)
        return LT_STACK_NONE;
    r->hash = h;
    r->depth = depth;
    r->id = id;
    if (depth)
        memcpy(r->frames, frames, depth * sizeof(uint64_t));
    atomic_store_explicit(&chunk[id & (ID_CHUNK - 1)], r, memory_order_release);
    if (id != LT_STACK_NONE)
        index_put(ix, h, id);
    atomic_store_explicit(&count, id + 1, memory_order_release);
    return id;
}

int lt_stacks_init(void)
{
    struct index *ix = new_index(1024);
    if (!ix)
        return -ENOMEM;
    atomic_store_explicit(&current_index, ix, memory_order_release);
    pthread_mutex_lock(&insert_lock);
    add(lt_stacks_hash(NULL, 0), NULL, 0); /* id 0: the empty stack */
    pthread_mutex_unlock(&insert_lock);
    return lt_stacks_count() == 1 ? 0 : -ENOMEM; /* the empty stack's entry: leaktag's memory */
}

static LT_NOINLINE uint32_t intern_slow(uint64_t h, const uint64_t *frames, unsigned depth)
{
    pthread_mutex_lock(&insert_lock);
    uint32_t id = find(atomic_load_explicit(&current_index, memory_order_relaxed), h, frames,
                       depth);
    if (id == UINT32_MAX) {
        id = add(h, frames, depth); /* LT_STACK_NONE when out of memory (mem.c said so) */
    }
    pthread_mutex_unlock(&insert_lock);
    return id;
}

uint32_t lt_stacks_intern(const uint64_t *frames, unsigned depth)
{
    return lt_stacks_intern_hashed(frames, depth, lt_stacks_hash(frames, depth));
}

uint32_t lt_stacks_intern_hashed(const uint64_t *frames, unsigned depth, uint64_t h)
{
    if (!depth)
        return LT_STACK_NONE;
    uint32_t id = find(atomic_load_explicit(&current_index, memory_order_acquire), h, frames,
                       depth);
    return lt_likely(id != UINT32_MAX) ? id : intern_slow(h, frames, depth);
}

uint32_t lt_stacks_count(void)
{
    return atomic_load_explicit(&count, memory_order_acquire);
}

const uint64_t *lt_stacks_get(uint32_t id, unsigned *depth)
{
    if (id >= lt_stacks_count())
        return NULL;
    const struct record *r = record_of(id);
    if (!r)
        return NULL;
    *depth = r->depth;
    return r->frames;
}

void lt_stacks_fork_prepare(void)
{
    pthread_mutex_lock(&insert_lock);
}

void lt_stacks_fork_parent(void)
{
    pthread_mutex_unlock(&insert_lock);
}

void lt_stacks_fork_child(void)
{
    pthread_mutex_init(&insert_lock, NULL);
}
