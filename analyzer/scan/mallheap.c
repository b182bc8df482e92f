/* mallheap.c — glibc's malloc as its memory shows it (malloc/malloc.c and arena.c of glibc
 * 2.27 on: tcaches, 16-byte alignment on i386 too; safe-linked lists from 2.32 recognized
 * by trying both readings). The layouts below are glibc's structures for each word size;
 * each is checked against what it points to before it is believed. Two changed between
 * versions and are told apart by what checks: a tcache's counts are bytes up to 2.29 and
 * uint16_t from 2.30 (the tcache chunk's size says which), and 64-bit heap_info grew from
 * 32 to 48 bytes in 2.35 (a later heap's first chunk is where chunks chain).
 *
 * The walk resynchronises past a chunk that fails a check (at the next 16-aligned place where
 * a chain of chunks checks) and counts the bytes it skipped. Tcaches are found by their lists
 * and by each thread's TLS slot (the offset below the thread pointer, voted among threads). A
 * second walk (heap_each_chunk) lends the shown classes' bytes to scan.c. */
#include "mallheap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* glibc's numbers for one word size. */
struct layout {
    unsigned word;      /* SIZE_SZ, and a pointer */
    unsigned min_chunk; /* MINSIZE */
    unsigned header;    /* CHUNK_HDR_SZ: prev_size and size */
    unsigned state_fastbins, nfastbins, state_top, state_next, state_system_mem, state_size;
    unsigned heap_info;     /* sizeof(heap_info) */
    uint64_t heap_max;      /* HEAP_MAX_SIZE: non-main heaps are aligned to it */
    unsigned fastbin_shift; /* fastbin_index: (size >> shift) - 2 */
};

static const struct layout layout64 = {8, 32, 16, 16, 10, 96, 2160, 2184, 2200, 48, 64u << 20, 4};
static const struct layout layout32 = {4, 16, 8, 12, 11, 56, 1096, 1108, 1116, 24, 1u << 20, 3};

#define ALIGNMENT 16u
#define PREV_INUSE 1u
#define IS_MMAPPED 2u
#define SIZE_BITS 7u
#define TCACHE_BINS 64u
#define WINDOW (4u << 20)

/* One stretch of chunks: a heap of an arena, or an anonymous mapping of mmapped chunks. */
struct span {
    uint64_t first, limit; /* the first chunk; where the chunks end */
    uint64_t top;          /* the arena's top chunk, if in this span; 0 otherwise */
    bool mmapped;
};

#define FAILED_KEPT 16 /* chunks that failed a check, read again after the walk */

struct heap_walk {
    const struct layout *l;
    struct span *spans;
    size_t nspans, capspans;
    uint64_t failed_at[FAILED_KEPT], failed_word[FAILED_KEPT];
    unsigned nfailed;
    struct hashmap cached; /* chunk address -> 1: free in a tcache or fastbin */
    bool safe_linking;
};

/* A window of the target's memory: reads of nearby words cost one process_vm_readv. */
struct window {
    struct target *t;
    uint64_t base, limit; /* what is in buf; reads never go past `end` */
    uint64_t end;
    uint8_t *buf;
};

static bool window_word(struct window *w, const struct layout *l, uint64_t addr, uint64_t *v)
{
    if (addr < w->base || addr + l->word > w->limit) {
        uint64_t base = addr & ~(uint64_t)4095;
        uint64_t want = w->end > base ? w->end - base : 0;
        if (want > WINDOW)
            want = WINDOW;
        if (want < addr + l->word - base)
            want = addr + l->word - base;
        size_t got = target_read(w->t, base, w->buf, (size_t)want);
        w->base = base;
        w->limit = base + got;
        if (addr + l->word > w->limit)
            return false;
    }
    const uint8_t *p = w->buf + (addr - w->base);
    if (l->word == 8) {
        memcpy(v, p, 8);
    } else {
        uint32_t x;
        memcpy(&x, p, 4);
        *v = x;
    }
    return true;
}

/* The bytes [addr, addr+n) from the window when they are in it. */
static const uint8_t *window_bytes(struct window *w, uint64_t addr, size_t n)
{
    if (addr >= w->base && addr + n <= w->limit)
        return w->buf + (addr - w->base);
    return NULL;
}

static bool word_at(struct target *t, uint64_t addr, uint64_t *v)
{
    return target_read_word(t, addr, v);
}

static int add_span(struct heap_walk *w, struct span s)
{
    if (w->nspans == w->capspans) {
        size_t ncap = w->capspans ? w->capspans * 2 : 16;
        struct span *n = realloc(w->spans, ncap * sizeof(*n));
        if (!n)
            return -1;
        w->spans = n;
        w->capspans = ncap;
    }
    w->spans[w->nspans++] = s;
    return 0;
}

/* The first chunk at or after addr whose user memory is 16-aligned. */
static uint64_t first_chunk(const struct layout *l, uint64_t addr)
{
    uint64_t mem = (addr + l->header + ALIGNMENT - 1) & ~(uint64_t)(ALIGNMENT - 1);
    return mem - l->header;
}

/* The width of a tcache_perthread_struct's counts for a chunk of `usable` bytes: 2 (glibc
 * 2.30 on: uint16_t), 1 (2.27 to 2.29: char), 0 when no tcache has that size. */
static unsigned tcache_count_bytes(const struct layout *l, uint64_t usable)
{
    for (unsigned width = 2; width >= 1; width--)
        if (usable >= TCACHE_BINS * (width + l->word) &&
            usable < TCACHE_BINS * (width + l->word) + ALIGNMENT)
            return width;
    return 0;
}

/* ---- the arenas --------------------------------------------------------------------------- */

/* Chunks chain from p for a few links, each within [p, limit)? */
static bool chunks_chain(struct target *t, const struct layout *l, uint64_t p, uint64_t limit)
{
    for (int hop = 0; hop < 4 && p < limit; hop++) {
        uint64_t size;
        if (!word_at(t, p + l->word, &size))
            return false;
        size &= ~(uint64_t)SIZE_BITS;
        if (size < l->min_chunk || size % ALIGNMENT || size > limit - p)
            return false;
        p += size;
    }
    return true;
}

/* heap_info's size before glibc 2.35 (no pagesize field), 64-bit; 32-bit's stayed 24. */
#define HEAP_INFO_OLD64 32u

/* Do chunks chain from p for 64 links, or up to `to` (the last may reach past it)? */
static bool chains_to(struct target *t, const struct layout *l, uint64_t p, uint64_t to)
{
    for (int hop = 0; hop < 64 && p < to; hop++) {
        uint64_t size;
        if (!word_at(t, p + l->word, &size))
            return false;
        size &= ~(uint64_t)SIZE_BITS;
        if (size < l->min_chunk || size % ALIGNMENT)
            return false;
        p += size;
    }
    return true;
}

/* The first mapping of the brk heap whose top chunk is in m. A process that forked after its
 * heap grew, and grew it further, has it in two mappings or more (the kernel keeps what was
 * grown after the fork apart, [heap] both): the chunks run on across them from the lowest.
 * An adjacent writable mapping below counts when it is [heap] or, in a core, anonymous, and
 * chunks chain from its start up into the one above (the program's .bss can sit right
 * below the heap when addresses are not randomized: its words do not chain). */
static struct target_map *brk_heap_start(struct target *t, const struct layout *l,
                                         struct target_map *m)
{
    while (m > t->maps) {
        struct target_map *below = m - 1;
        if (below->end != m->start || below->perms[0] != 'r' || below->perms[1] != 'w' ||
            !(below->kind == TARGET_MAP_HEAP || (t->is_core && below->kind == TARGET_MAP_ANON)) ||
            !chains_to(t, l, first_chunk(l, below->start), below->end))
            break;
        below->kind = TARGET_MAP_HEAP;
        m = below;
    }
    return m;
}

/* Does the malloc_state at a look like one: its top chunk in writable memory and aligned,
 * a plausible system_mem? `in_libc`: the main arena, whose top is inside itself before the
 * first malloc. */
static bool plausible_state(struct target *t, const struct layout *l, uint64_t a)
{
    uint64_t top, mem, next, top_size;
    if (!word_at(t, a + l->state_top, &top) || !word_at(t, a + l->state_system_mem, &mem) ||
        !word_at(t, a + l->state_next, &next))
        return false;
    /* the top chunk is read, not looked up: a live heap may have grown past the mappings
     * read a moment ago */
    if (!top || ((top + l->header) & (ALIGNMENT - 1)) || !word_at(t, top + l->word, &top_size) ||
        !word_at(t, next + l->state_top, &top_size))
        return false;
    return mem < t->address_space;
}

/* The arenas' list from a, back to a; their number, or 0 when it does not close. */
static size_t arena_ring(struct target *t, const struct layout *l, uint64_t a, uint64_t *ring,
                         size_t max)
{
    uint64_t at = a;
    for (size_t n = 0; n < max; n++) {
        if (!plausible_state(t, l, at))
            return 0;
        ring[n] = at;
        uint64_t next;
        if (!word_at(t, at + l->state_next, &next))
            return 0;
        if (next == a)
            return n + 1;
        at = next;
    }
    return 0;
}

bool heap_libc_path(const char *path)
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path;
    return base && (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7));
}

/* main_arena: a static in libc's data whose `next` list closes on itself. */
static uint64_t find_main_arena(struct target *t, const struct layout *l, uint64_t *ring,
                                size_t max, size_t *nring)
{
    for (size_t i = 0; i < t->nmaps; i++) {
        struct target_map *m = &t->maps[i];
        if (!heap_libc_path(m->path) || m->perms[1] != 'w')
            continue;
        /* libc's writable data, and its .bss in the anonymous mapping after it */
        uint64_t start = m->start, end = m->end;
        if (i + 1 < t->nmaps && t->maps[i + 1].start == end && !t->maps[i + 1].path)
            end = t->maps[i + 1].end;
        size_t len = (size_t)(end - start);
        if (len > (16u << 20))
            continue;
        uint8_t *buf = malloc(len);
        if (!buf)
            return 0;
        len = target_read(t, start, buf, len);
        for (size_t k = 0; k + l->state_size <= len; k += l->word) {
            uint64_t next = 0;
            memcpy(&next, buf + k + l->state_next, l->word);
            uint64_t a = start + k;
            uint64_t probe;
            if (next != a && (!next || !word_at(t, next, &probe)))
                continue;
            size_t n = arena_ring(t, l, a, ring, max);
            if (n) {
                free(buf);
                *nring = n;
                return a;
            }
        }
        free(buf);
    }
    return 0;
}

static const char *other_allocator(const struct target *t)
{
    static const char *const names[] = {"libjemalloc", "libtcmalloc", "libmimalloc",
                                        "libhoard",    "libsnmalloc", "librpmalloc"};
    for (size_t i = 0; i < t->nmaps; i++) {
        const char *p = t->maps[i].path;
        const char *base = p ? strrchr(p, '/') : NULL;
        base = base ? base + 1 : p;
        for (size_t j = 0; base && j < sizeof(names) / sizeof(names[0]); j++)
            if (!strncmp(base, names[j], strlen(names[j])))
                return p;
    }
    return NULL;
}

/* The heaps of a non-main arena: from the one holding its top, back along `prev`. */
static int arena_heaps(struct target *t, struct heap_walk *w, uint64_t arena, uint64_t top,
                       struct heap_arena *info)
{
    const struct layout *l = w->l;
    uint64_t h = top & ~(l->heap_max - 1);
    struct hashmap seen = HASHMAP_INIT; /* a damaged prev may lead back: each heap once */
    int rc = 0;
    for (unsigned n = 0; h && n < 4096; n++) {
        uint64_t ar, prev, size;
        bool fresh = false;
        if (!word_at(t, h, &ar) || ar != arena || !word_at(t, h + l->word, &prev) ||
            !word_at(t, h + 2 * l->word, &size) || size > l->heap_max ||
            !hashmap_number(&seen, h, &fresh) || !fresh)
            break;
        struct target_map *m = target_map_at(t, h);
        if (m)
            m->kind = TARGET_MAP_ARENA;
        /* the arena's first heap holds its malloc_state after heap_info */
        uint64_t first = arena >= h && arena < h + size ? first_chunk(l, arena + l->state_size)
                                                        : first_chunk(l, h + l->heap_info);
        if (!(arena >= h && arena < h + size) && l->word == 8 &&
            !chunks_chain(t, l, first, h + size) &&
            chunks_chain(t, l, first_chunk(l, h + HEAP_INFO_OLD64), h + size))
            first = first_chunk(l, h + HEAP_INFO_OLD64); /* glibc before 2.35 */
        if (add_span(w, (struct span){first, h + size, top >= h && top < h + size ? top : 0,
                                      false}) < 0) {
            rc = -1;
            break;
        }
        info->heaps++;
        info->bytes += size;
        h = prev;
    }
    hashmap_free(&seen);
    return rc;
}

/* ---- one walk over a span ------------------------------------------------------------------ */

struct visit {
    struct heap_census *c;
    struct hashmap *classes; /* usable -> index + 1 in c->classes */
    size_t capclasses;
    /* tcache candidates: in-use chunks the size of a tcache_perthread_struct */
    uint64_t *candidates;
    size_t ncandidates, capcandidates;
};

static struct heap_class *class_for(struct visit *v, uint64_t usable)
{
    bool inserted;
    struct hashmap_slot *s = hashmap_number(v->classes, usable, &inserted);
    if (!s)
        return NULL;
    struct heap_census *c = v->c;
    if (inserted) {
        if (c->nclasses == v->capclasses) {
            size_t ncap = v->capclasses ? v->capclasses * 2 : 64;
            struct heap_class *n = realloc(c->classes, ncap * sizeof(*n));
            if (!n)
                return NULL;
            c->classes = n;
            v->capclasses = ncap;
        }
        c->classes[c->nclasses] = (struct heap_class){.usable = usable};
        s->value = ++c->nclasses;
    }
    return &c->classes[s->value - 1];
}

/* Does a chain of chunks that checks for a few links (or up to the span's end) start at p?
 * 1 yes, 0 no, -1 when p itself cannot be read (a heap that shrank, a process that exited):
 * how the walk finds its way again after a chunk failed a check. */
static int chain_checks(struct window *win, const struct layout *l, const struct span *s,
                        uint64_t p)
{
    for (int hop = 0; hop < 4; hop++) {
        if (p == s->top || p == s->limit)
            return 1;
        uint64_t size;
        if (!window_word(win, l, p + l->word, &size))
            return hop == 0 ? -1 : 0;
        size &= ~(uint64_t)SIZE_BITS;
        if (size < l->min_chunk || size % ALIGNMENT || size > s->limit - p) /* no wrap */
            return 0;
        p += size;
    }
    return 1;
}

/* Calls back for each chunk of the span: in_use by the next chunk's PREV_INUSE bit (an
 * mmapped chunk is always in use). Returns -1 when out of memory. */
typedef int (*chunk_fn)(struct window *win, uint64_t p, uint64_t size, bool in_use, bool mmapped,
                        void *ctx);

static int walk_span(struct window *win, const struct layout *l, const struct span *s,
                     struct heap_census *c, chunk_fn fn, void *ctx)
{
    win->end = s->limit;
    uint64_t p = s->first;
    while (p < s->limit) {
        if (p == s->top) {
            uint64_t size;
            if (c && window_word(win, l, p + l->word, &size))
                c->top_bytes += size & ~(uint64_t)SIZE_BITS;
            return 0;
        }
        uint64_t word, size, next_word;
        if (!window_word(win, l, p + l->word, &word))
            return 0; /* unreadable from here on (a core without it, a heap shrunk) */
        size = word & ~(uint64_t)SIZE_BITS;
        if (!s->mmapped && size == l->header) /* the fencepost closing a heap */
            return 0;
        bool mmapped = s->mmapped;
        bool ok = size >= l->min_chunk && size % ALIGNMENT == 0 && size <= s->limit - p &&
                  (mmapped ? (word & SIZE_BITS) == IS_MMAPPED : !(word & IS_MMAPPED));
        bool in_use = true;
        if (ok && !mmapped) {
            if (p + size == s->limit)
                ok = false; /* the last chunk must be the top or a fencepost */
            else if (!window_word(win, l, p + size + l->word, &next_word))
                ok = false;
            else
                in_use = next_word & PREV_INUSE;
        }
        if (!ok) {
            if (mmapped)
                return 0;
            if (c && c->walk->nfailed < FAILED_KEPT) { /* to tell a changing heap later */
                c->walk->failed_at[c->walk->nfailed] = p;
                c->walk->failed_word[c->walk->nfailed++] = word;
            }
            /* skip to the next 16-aligned place where a chain of chunks checks */
            uint64_t q = p + ALIGNMENT;
            int found = 0;
            while (q < s->limit && !win->t->gone && (found = chain_checks(win, l, s, q)) == 0)
                q += ALIGNMENT;
            if (found < 0 || win->t->gone)
                return 0; /* unreadable from here on */
            if (c) {
                c->invalid_chunks++;
                c->skipped_bytes += q - p;
            }
            p = q;
            continue;
        }
        if (fn(win, p, size, in_use, mmapped, ctx) < 0)
            return -1;
        p += size;
    }
    return 0;
}

static int census_chunk(struct window *win, uint64_t p, uint64_t size, bool in_use, bool mmapped,
                        void *ctx)
{
    (void)win;
    struct visit *v = ctx;
    struct heap_census *c = v->c;
    const struct layout *l = c->walk->l;
    c->overhead_bytes += mmapped ? l->header : l->word;
    if (!in_use) {
        c->free_chunks++;
        c->free_bytes += size;
        if (size > c->largest_free)
            c->largest_free = size;
        return 0;
    }
    uint64_t usable = size - (mmapped ? l->header : l->word);
    struct heap_class *k = class_for(v, usable);
    if (!k)
        return -1;
    k->chunks++;
    if (mmapped) {
        k->mmapped++;
        c->mmapped_chunks++;
        c->mmapped_bytes += size;
    }
    /* tcache_perthread_struct: 64 counts (uint16_t, or char before 2.30) and 64 pointers */
    if (!mmapped && tcache_count_bytes(l, usable)) {
        if (v->ncandidates == v->capcandidates) {
            size_t ncap = v->capcandidates ? v->capcandidates * 2 : 16;
            uint64_t *n = realloc(v->candidates, ncap * sizeof(*n));
            if (!n)
                return -1;
            v->candidates = n;
            v->capcandidates = ncap;
        }
        v->candidates[v->ncandidates++] = p;
    }
    return 0;
}

/* ---- tcaches and fastbins ----------------------------------------------------------------- */

static bool in_spans(const struct heap_walk *w, uint64_t p)
{
    for (size_t i = 0; i < w->nspans; i++)
        if (!w->spans[i].mmapped && p >= w->spans[i].first && p < w->spans[i].limit)
            return true;
    return false;
}

/* A free list's next link, stored at `at` (a chunk's user memory): safe-linked (glibc 2.32
 * on: the address shifted by 12 bits xored in) or plain. */
static uint64_t reveal(const struct heap_walk *w, uint64_t at, uint64_t stored)
{
    return w->safe_linking ? stored ^ (at >> 12) : stored;
}

/* Follows one list from `first`, each chunk of `size` bytes, at most max links. mem_links:
 * the list links user memory (tcache), else chunks (fastbin). The whole list is checked
 * first (each link aligned, in a heap, of the size, not already on a list, no loop, a tcache
 * bin ending where its count says); only a list that checks has its chunks marked cached
 * (with mark), so that a rejected list leaves nothing behind. Returns the chunks on the
 * list, or -1 when it does not check. */
static long follow_list(struct target *t, struct heap_walk *w, uint64_t first, uint64_t size,
                        bool mem_links, size_t max, bool mark)
{
    const struct layout *l = w->l;
    struct hashmap seen = HASHMAP_INIT;
    long n = 0;
    uint64_t at = first;
    for (; at && (size_t)n < max; n++) {
        uint64_t chunk = mem_links ? at - l->header : at;
        uint64_t word, stored;
        bool fresh = false;
        if ((chunk + l->header) % ALIGNMENT || !in_spans(w, chunk) ||
            !word_at(t, chunk + l->word, &word) || (word & ~(uint64_t)SIZE_BITS) != size ||
            hashmap_find_number(&w->cached, chunk) || !hashmap_number(&seen, chunk, &fresh) ||
            !fresh || !word_at(t, chunk + l->header, &stored)) {
            n = -1;
            break;
        }
        at = reveal(w, chunk + l->header, stored);
        if (!mem_links && at && (at + l->header) % ALIGNMENT) {
            n = -1;
            break;
        }
    }
    /* a tcache bin holds exactly its count: the last link is NULL under the right reading
     * (which a one-chunk list would not tell otherwise) */
    if (n >= 0 && mem_links && at)
        n = -1;
    if (n > 0 && mark)
        hashmap_each(&seen, slot)
        {
            struct hashmap_slot *c = hashmap_number(&w->cached, slot->number, NULL);
            if (!c) {
                n = -1; /* out of memory: the counts stay as the walk found them */
                break;
            }
            c->value = 1;
        }
    hashmap_free(&seen);
    return n;
}

/* A tcache_perthread_struct at chunk p? Each bin's count and head agree and each list holds
 * chunks of its bin's size. Returns the chunks it holds, -1 if it is not one. */
static long read_tcache(struct target *t, struct heap_walk *w, uint64_t p, bool mark)
{
    const struct layout *l = w->l;
    uint64_t size;
    if (!word_at(t, p + l->word, &size))
        return -1;
    unsigned width = tcache_count_bytes(l, (size & ~(uint64_t)SIZE_BITS) - l->word);
    uint8_t raw[TCACHE_BINS * (2 + 8)];
    size_t bytes = TCACHE_BINS * (width + l->word);
    if (!width || target_read(t, p + l->header, raw, bytes) != bytes)
        return -1;
    long total = 0;
    for (unsigned i = 0; i < TCACHE_BINS; i++) {
        uint16_t count = 0;
        memcpy(&count, raw + width * i, width); /* little-endian: a byte is the low one */
        uint64_t head = 0;
        memcpy(&head, raw + TCACHE_BINS * width + (size_t)i * l->word, l->word);
        if ((count == 0) != (head == 0))
            return -1;
        if (!head)
            continue;
        long n = follow_list(t, w, head, l->min_chunk + (uint64_t)ALIGNMENT * i, true, count,
                             false);
        if (n != count)
            return -1;
        if (mark)
            follow_list(t, w, head, l->min_chunk + (uint64_t)ALIGNMENT * i, true, count, true);
        total += n;
    }
    return total;
}

static void uncache(struct heap_census *c, struct visit *v, uint64_t usable, uint64_t n)
{
    struct heap_class *k = class_for(v, usable);
    if (!k)
        return;
    n = n > k->chunks ? k->chunks : n;
    k->chunks -= n;
    k->cached += n;
    c->cached_chunks += n;
    c->cached_bytes += n * (usable + c->walk->l->word);
}

/* The tcaches threads point at from their TLS: glibc's `tcache` is a static TLS variable
 * of libc, at one offset below every thread's thread pointer (its struct pthread, tcb.c).
 * The offset is the one at which most threads hold the address of a candidate. Marks each
 * tcache found so in `tls` (chunk address -> 1). */
#define TLS_SEARCH 16384u

static void tls_tcaches(struct target *t, const struct heap_walk *w, const uint64_t *candidates,
                        size_t ncandidates, struct hashmap *tls)
{
    const struct layout *l = w->l;
    struct hashmap known = HASHMAP_INIT; /* a candidate's user memory -> its chunk */
    for (size_t i = 0; i < ncandidates; i++) {
        struct hashmap_slot *s = hashmap_number(&known, candidates[i] + l->header, NULL);
        if (s)
            s->value = candidates[i];
    }
    uint8_t *buf = malloc(TLS_SEARCH);
    struct hashmap votes = HASHMAP_INIT; /* offset below the thread pointer -> threads */
    for (size_t i = 0; buf && i < t->nthreads; i++) {
        uint64_t tp = t->threads[i].tcb;
        if (!tp || tp < TLS_SEARCH ||
            target_read(t, tp - TLS_SEARCH, buf, TLS_SEARCH) != TLS_SEARCH)
            continue;
        for (size_t at = 0; at < TLS_SEARCH; at += l->word) {
            uint64_t v = 0;
            memcpy(&v, buf + at, l->word);
            if (v && hashmap_find_number(&known, v)) {
                struct hashmap_slot *s = hashmap_number(&votes, TLS_SEARCH - at, NULL);
                if (s)
                    s->value++;
            }
        }
    }
    uint64_t offset = 0, best = 0;
    hashmap_each(&votes, slot) if (slot->value > best) best = slot->value, offset = slot->number;
    hashmap_free(&votes);
    for (size_t i = 0; offset && i < t->nthreads; i++) {
        uint64_t v, tp = t->threads[i].tcb;
        struct hashmap_slot *c;
        if (tp && target_read_word(t, tp - offset, &v) && (c = hashmap_find_number(&known, v))) {
            struct hashmap_slot *s = hashmap_number(tls, c->value, NULL);
            if (s)
                s->value = 1;
        }
    }
    free(buf);
    hashmap_free(&known);
}

static void find_caches(struct target *t, struct heap_census *c, struct visit *v,
                        const uint64_t *arenas, size_t narenas, bool arena_known)
{
    struct heap_walk *w = c->walk;
    const struct layout *l = w->l;
    /* Which reading of the links: the one under which the first non-empty tcache checks;
     * with every tcache empty, the first fastbin decides (below). */
    bool decided = false;
    for (int reading = 0; reading < 2 && !decided; reading++) {
        w->safe_linking = reading == 0;
        for (size_t i = 0; i < v->ncandidates && !decided; i++)
            decided = read_tcache(t, w, v->candidates[i], false) > 0;
    }
    struct hashmap tls = HASHMAP_INIT;
    tls_tcaches(t, w, v->candidates, v->ncandidates, &tls);
    for (size_t i = 0; i < v->ncandidates; i++) {
        uint64_t p = v->candidates[i];
        long n = read_tcache(t, w, p, false);
        bool first_of_arena = hashmap_find_number(&tls, p) != NULL;
        for (size_t s = 0; s < w->nspans; s++)
            first_of_arena |= w->spans[s].first == p;
        if (n < 0 || (n == 0 && !first_of_arena))
            continue;
        /* malloc's own bytes, not a user's: out of its class (below) */
        struct hashmap_slot *own = hashmap_number(&w->cached, p, NULL);
        if (own)
            own->value = 2;
        c->tcaches++;
        if (n > 0) {
            read_tcache(t, w, p, true);
            c->tcache_chunks += (uint64_t)n;
        }
    }
    hashmap_free(&tls);
    c->fastbins_read = arena_known;
    for (size_t a = 0; a < narenas; a++)
        for (unsigned i = 0; i < l->nfastbins; i++) {
            uint64_t head;
            if (!word_at(t, arenas[a] + l->state_fastbins + (uint64_t)i * l->word, &head) || !head)
                continue;
            uint64_t size = (uint64_t)(i + 2) << l->fastbin_shift;
            long n = follow_list(t, w, head, size, false, 1u << 16, decided);
            if (n < 0 && !decided) { /* the other reading of the links? */
                w->safe_linking = !w->safe_linking;
                n = follow_list(t, w, head, size, false, 1u << 16, false);
                if (n < 0)
                    w->safe_linking = !w->safe_linking;
            }
            if (n >= 0 && !decided) { /* this list decides the reading: mark it under it */
                decided = true;
                n = follow_list(t, w, head, size, false, 1u << 16, true);
            }
            if (n < 0)
                c->fastbins_read = false;
            else
                c->fastbin_chunks += (uint64_t)n;
        }
    /* every marked chunk leaves its class: a cached one is free, a tcache is malloc's */
    hashmap_each(&w->cached, slot)
    {
        uint64_t size;
        if (!word_at(t, slot->number + l->word, &size))
            continue;
        size &= ~(uint64_t)SIZE_BITS;
        if (slot->value == 1) {
            uncache(c, v, size - l->word, 1);
            continue;
        }
        struct heap_class *k = class_for(v, size - l->word);
        if (k && k->chunks) {
            k->chunks--;
            c->overhead_bytes += size;
        }
    }
    if (!c->fastbins_read || !c->tcaches)
        for (size_t i = 0; i < c->nclasses; i++)
            if (c->classes[i].usable + l->word <= l->min_chunk + ALIGNMENT * (TCACHE_BINS - 1))
                c->unchecked_small += c->classes[i].chunks;
}

/* ---- mmapped chunks ---------------------------------------------------------------------- */

static int find_mmapped(struct target *t, struct heap_walk *w)
{
    const struct layout *l = w->l;
    for (size_t i = 0; i < t->nmaps; i++) {
        struct target_map *m = &t->maps[i];
        if (m->kind != TARGET_MAP_ANON || m->perms[0] != 'r' || m->perms[1] != 'w')
            continue;
        uint64_t prev_size, size;
        if (!word_at(t, m->start, &prev_size) || !word_at(t, m->start + l->word, &size))
            continue;
        if (prev_size != 0 || (size & SIZE_BITS) != IS_MMAPPED || (size & 4095) != IS_MMAPPED ||
            size - IS_MMAPPED > m->end - m->start || size < 4096)
            continue;
        m->kind = TARGET_MAP_MMAPPED;
        if (add_span(w, (struct span){m->start, m->end, 0, true}) < 0)
            return -1;
    }
    return 0;
}

/* ---- the census --------------------------------------------------------------------------- */

static int compare_classes(const void *a, const void *b)
{
    const struct heap_class *x = a, *y = b;
    uint64_t bx = x->usable * x->chunks, by = y->usable * y->chunks;
    if (bx != by)
        return bx > by ? -1 : 1;
    return x->usable < y->usable ? -1 : x->usable > y->usable;
}

int heap_census(struct target *t, struct heap_census *c, struct lts_error *err)
{
    memset(c, 0, sizeof(*c));
    const char *other = other_allocator(t);
    if (other) {
        snprintf(c->why, sizeof(c->why),
                 "not glibc's heap: %s is mapped and its malloc serves the process; the chunk "
                 "census needs glibc's malloc (maps, threads and content below still apply)",
                 other);
        return 0;
    }
    c->walk = calloc(1, sizeof(*c->walk));
    if (!c->walk)
        return lts_fail(err, "out of memory");
    struct heap_walk *w = c->walk;
    w->l = t->pointer_bytes == 8 ? &layout64 : &layout32;
    const struct layout *l = w->l;

    uint64_t ring[256];
    size_t nring = 0;
    uint64_t main_arena = find_main_arena(t, l, ring, 256, &nring);
    if (!main_arena) {
        snprintf(c->why, sizeof(c->why),
                 "glibc's malloc holds no heap here: no main arena found in libc's data (an "
                 "allocator linked into the executable, jemalloc's or another, serves the "
                 "process?); maps, threads and content below still apply");
        return 0;
    }
    c->glibc = true;
    c->arenas = calloc(nring, sizeof(*c->arenas));
    if (!c->arenas)
        return lts_fail(err, "out of memory");
    for (size_t i = 0; i < nring; i++) {
        struct heap_arena *a = &c->arenas[c->narenas++];
        a->address = ring[i];
        a->main = ring[i] == main_arena;
        uint64_t top, system_mem;
        if (!word_at(t, ring[i] + l->state_top, &top) ||
            !word_at(t, ring[i] + l->state_system_mem, &system_mem))
            continue;
        if (a->main) {
            /* the brk heap: the mapping the top chunk is in (glibc's [heap]) */
            struct target_map *m = target_map_at(t, top);
            for (size_t k = 0; !m && k < t->nmaps; k++) /* [heap], grown since it was read */
                if (t->maps[k].kind == TARGET_MAP_HEAP && t->maps[k].start <= top)
                    m = &t->maps[k];
            if (!m || (top >= ring[i] && top < ring[i] + l->state_size))
                continue; /* malloc has not run: top still points into the arena */
            m->kind = TARGET_MAP_HEAP;
            m = brk_heap_start(t, l, m);
            uint64_t first = first_chunk(l, m->start), top_size, end = m->end;
            for (struct target_map *n = m; n < t->maps + t->nmaps && n->kind == TARGET_MAP_HEAP &&
                                           n->start <= top && (n == m || n->start == n[-1].end);
                 n++)
                end = n->end; /* up to the top chunk's mapping */
            if (word_at(t, top + l->word, &top_size) &&
                top + (top_size & ~(uint64_t)SIZE_BITS) > end)
                end = top + (top_size & ~(uint64_t)SIZE_BITS); /* it grew since the maps */
            if (add_span(w, (struct span){first, end, top, false}) < 0)
                return lts_fail(err, "out of memory");
            a->heaps = 1;
            a->bytes = end - m->start;
        } else if (arena_heaps(t, w, ring[i], top, a) < 0) {
            return lts_fail(err, "out of memory");
        }
        c->heap_bytes += a->bytes;
    }
    if (find_mmapped(t, w) < 0)
        return lts_fail(err, "out of memory");

    struct hashmap classes = HASHMAP_INIT;
    struct visit v = {.c = c, .classes = &classes};
    struct window win = {.t = t, .buf = malloc(WINDOW)};
    int rc = win.buf ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < w->nspans; i++) {
        uint64_t top_before = c->top_bytes;
        rc = walk_span(&win, l, &w->spans[i], c, census_chunk, &v);
        for (size_t a = 0; a < c->narenas; a++) /* the top chunk's arena */
            if (w->spans[i].top && c->top_bytes != top_before) {
                uint64_t top;
                if (word_at(t, c->arenas[a].address + l->state_top, &top) && top == w->spans[i].top)
                    c->arenas[a].top = c->top_bytes - top_before;
            }
    }
    free(win.buf);
    /* A chunk that failed a check because the heap moved under the walk reads otherwise now;
     * one that reads the same (a core, a frozen process, or memory that is not what glibc's
     * headers say) would fail again under --freeze. */
    for (unsigned k = 0; k < w->nfailed && !c->changed_under_walk; k++) {
        uint64_t word;
        c->changed_under_walk = !word_at(t, w->failed_at[k] + l->word, &word) ||
                                word != w->failed_word[k];
    }
    if (rc == 0)
        find_caches(t, c, &v, ring, nring, true);
    free(v.candidates);
    hashmap_free(&classes);
    if (rc < 0)
        return lts_fail(err, "out of memory");
    for (size_t i = 0; i < c->nclasses; i++) {
        c->inuse_chunks += c->classes[i].chunks;
        c->inuse_bytes += c->classes[i].chunks * c->classes[i].usable;
    }
    c->free_chunks += c->cached_chunks;
    c->free_bytes += c->cached_bytes;
    qsort(c->classes, c->nclasses, sizeof(*c->classes), compare_classes);
    while (c->nclasses && !c->classes[c->nclasses - 1].chunks &&
           !c->classes[c->nclasses - 1].cached)
        c->nclasses--;
    return 0;
}

/* ---- walking again for the bytes ---------------------------------------------------------- */

struct each {
    struct target *t;
    const struct heap_walk *w;
    const uint64_t *sizes;
    size_t nsizes;
    heap_chunk_fn fn;
    void *ctx;
    uint64_t visited;
    uint8_t *big;
    size_t bigcap;
};

static int each_chunk(struct window *win, uint64_t p, uint64_t size, bool in_use, bool mmapped,
                      void *ctx)
{
    struct each *e = ctx;
    const struct layout *l = e->w->l;
    if (!in_use)
        return 0;
    uint64_t usable = size - (mmapped ? l->header : l->word);
    bool wanted = false;
    for (size_t i = 0; i < e->nsizes && !wanted; i++)
        wanted = e->sizes[i] == usable;
    if (!wanted || hashmap_find_number(&e->w->cached, p))
        return 0;
    uint64_t mem = p + l->header;
    const uint8_t *bytes = window_bytes(win, mem, (size_t)usable);
    size_t n = (size_t)usable;
    if (!bytes) {
        if (usable > e->bigcap) {
            uint8_t *nb = realloc(e->big, (size_t)usable);
            if (!nb)
                return 0;
            e->big = nb;
            e->bigcap = (size_t)usable;
        }
        n = target_read(e->t, mem, e->big, (size_t)usable);
        bytes = e->big;
    }
    e->visited++;
    e->fn(mem, usable, bytes, n, e->ctx);
    return 0;
}

uint64_t heap_each_chunk(struct target *t, const struct heap_census *c, const uint64_t *sizes,
                         size_t nsizes, heap_chunk_fn fn, void *ctx)
{
    if (!c->glibc || !c->walk)
        return 0;
    struct each e = {t, c->walk, sizes, nsizes, fn, ctx, 0, NULL, 0};
    struct window win = {.t = t, .buf = malloc(WINDOW)};
    if (!win.buf)
        return 0;
    for (size_t i = 0; i < c->walk->nspans; i++)
        walk_span(&win, c->walk->l, &c->walk->spans[i], NULL, each_chunk, &e);
    free(win.buf);
    free(e.big);
    return e.visited;
}

struct each_inuse {
    const struct heap_walk *w;
    heap_inuse_fn fn;
    void *ctx;
    uint64_t visited;
};

static int each_inuse_chunk(struct window *win, uint64_t p, uint64_t size, bool in_use,
                            bool mmapped, void *ctx)
{
    (void)win;
    struct each_inuse *e = ctx;
    const struct layout *l = e->w->l;
    if (!in_use || hashmap_find_number(&e->w->cached, p))
        return 0;
    e->visited++;
    e->fn(p + l->header, size - (mmapped ? l->header : l->word), e->ctx);
    return 0;
}

uint64_t heap_each_inuse(struct target *t, const struct heap_census *c, heap_inuse_fn fn, void *ctx)
{
    if (!c->glibc || !c->walk)
        return 0;
    struct each_inuse e = {c->walk, fn, ctx, 0};
    struct window win = {.t = t, .buf = malloc(WINDOW)};
    if (!win.buf)
        return 0;
    for (size_t i = 0; i < c->walk->nspans; i++)
        walk_span(&win, c->walk->l, &c->walk->spans[i], NULL, each_inuse_chunk, &e);
    free(win.buf);
    return e.visited;
}

void heap_census_free(struct heap_census *c)
{
    if (c->walk) {
        free(c->walk->spans);
        hashmap_free(&c->walk->cached);
        free(c->walk);
    }
    free(c->arenas);
    free(c->classes);
    memset(c, 0, sizeof(*c));
}
