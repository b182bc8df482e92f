/* Unit tests of mallheap.c, glibc's heap read from its headers: heap images built here as
 * glibc 2.36 on x86-64 lays them out (struct malloc_state in libc's data, chunks with their
 * size words and flags, tcache_perthread_struct, safe-linked tcache and fastbin lists,
 * heap_info of a non-main arena, an mmapped chunk), served through a target whose memory is
 * the test's buffers (scan_fixture.h). Cases: the main arena's census (counts per size, tcache
 * and fastbin chunks counted free, top, mmapped, malloc's own bytes) and heap_each_chunk's
 * second walk; empty tcaches (found at an arena's start or from a thread's TLS, a user's chunk
 * of that size left alone) beside a fastbin; a non-main arena over two heaps; a chunk whose
 * size fails a check (skipped and counted, the walk going on; one whose size wraps around
 * the address space must not send the walk back); lists that loop (a fastbin, a heap's
 * `prev`): each ends in one clear outcome. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mallheap.h"
#include "scan_fixture.h"

/* ---- glibc 2.36's structures, x86-64, as malloc/malloc.c and arena.c declare them --------- */

/* The offsets below come from these declarations (and scan_fixture.h's malloc_state), not from
 * mallheap.c's own table. */
struct glibc_heap_info {
    uint64_t ar_ptr, prev, size, mprotect_size, pagesize;
    char pad[-3 * 8 & 15];
};
struct glibc_tcache {
    uint16_t counts[64];
    uint64_t entries[64];
};
_Static_assert(sizeof(struct glibc_heap_info) == 48, "heap_info of glibc 2.35 on");
_Static_assert(sizeof(struct glibc_tcache) == 640, "tcache_perthread_struct of 2.30 on");

#define HI(field) offsetof(struct glibc_heap_info, field)

#define PREV_INUSE 1u
#define NON_MAIN_ARENA 4u
/* What an older glibc lays out differently (test_glibc_2_29 sets them): a tcache's counts
 * are chars before 2.30 (its chunk request2size(64 + 64 * 8) = 0x250, not 0x290), heap_info
 * is 32 bytes before 2.35 (no pagesize), list links are safe-linked from 2.32 only. */
static bool old_tcache;
static uint64_t heap_info_size = sizeof(struct glibc_heap_info);
static bool safe_linking = true;
#define TCACHE_CHUNK (old_tcache ? 0x250u : 0x290u) /* request2size(sizeof(tcache struct)) */

/* Where things sit: addresses as a 64-bit process has them. */
#define LIBC_PATH "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBC_TEXT 0x7ffff7dc0000ull
#define LIBC_DATA 0x7ffff7f9c000ull
#define LIBC_BSS 0x7ffff7fa0000ull
#define MAIN_ARENA (LIBC_DATA + 0xc80)
#define HEAP 0x555555559000ull
#define HEAP_SIZE 0x21000ull
#define MMAPPED 0x7ffff7a00000ull
#define MMAPPED_SIZE 0x22000ull
#define HEAP1 0x7ffff0000000ull /* a non-main arena's heaps: HEAP_MAX_SIZE-aligned */
#define HEAP2 0x7fffe8000000ull
#define HEAP_MAX (64ull << 20)
#define ARENA2 (HEAP1 + heap_info_size)

static struct target *t;

/* PROTECT_PTR: a list link as glibc 2.32 on stores it at pos. */
static uint64_t protect(uint64_t pos, uint64_t ptr)
{
    return safe_linking ? (pos >> 12) ^ ptr : ptr;
}

/* A tcache bin: count chunks linked in that order (user pointers, safe-linked). */
static void tcache_bin(uint64_t tcache, unsigned bin, const uint64_t *chunks, unsigned count)
{
    uint16_t n = (uint16_t)count;
    unsigned width = old_tcache ? 1 : 2; /* char or uint16_t counts, then the entries */
    memcpy(fixture_at(t, tcache + 16 + width * bin), &n, width);
    fixture_put(t, tcache + 16 + 64 * width + 8 * bin, chunks[0] + 16);
    for (unsigned i = 0; i < count; i++) {
        uint64_t pos = chunks[i] + 16;
        fixture_put(t, pos, protect(pos, i + 1 < count ? chunks[i + 1] + 16 : 0));
        fixture_put(t, pos + 8, 0x5eed5eed5eed5eedull); /* tcache_key */
    }
}

/* libc's mappings: text, data (main_arena), .bss; main_arena before malloc ran. */
static void map_libc(void)
{
    fixture_map(t, LIBC_TEXT, 0x1d0000, "r-xp", LIBC_PATH, TARGET_MAP_FILE, false);
    fixture_map(t, LIBC_DATA, 0x4000, "rw-p", LIBC_PATH, TARGET_MAP_FILE, true);
    fixture_map(t, LIBC_BSS, 0xd000, "rw-p", NULL, TARGET_MAP_ANON, true);
    fixture_arena(t, MAIN_ARENA, MAIN_ARENA, MAIN_ARENA + GLIBC_ST(top), 0);
}

/* The main arena's heap of the first cases. */
struct main_image {
    uint64_t tcache, small[3], cached[2], medium[4], fast, free_chunk, big, top;
};

static void build_main(struct main_image *im)
{
    t = fixture_target(8);
    assert_non_null(t);
    map_libc();
    fixture_map(t, HEAP, HEAP_SIZE, "rw-p", "[heap]", TARGET_MAP_HEAP, true);
    uint64_t p = HEAP;
    im->tcache = fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE, 0);
    for (int i = 0; i < 3; i++)
        im->small[i] = fixture_chunk(t, &p, 0x20, PREV_INUSE, 0x11);
    for (int i = 0; i < 2; i++)
        im->cached[i] = fixture_chunk(t, &p, 0x20, PREV_INUSE, 0xcc); /* free, in the tcache */
    for (int i = 0; i < 4; i++)
        im->medium[i] = fixture_chunk(t, &p, 0x50, PREV_INUSE, 0x22);
    im->fast = fixture_chunk(t, &p, 0x50, PREV_INUSE, 0xfa);     /* free, in fastbin 3 */
    im->free_chunk = fixture_chunk(t, &p, 0x500, PREV_INUSE, 0); /* free: the next one says so */
    fixture_put(t, im->free_chunk + 16, MAIN_ARENA + GLIBC_ST(top)); /* in the unsorted bin */
    fixture_put(t, im->free_chunk + 24, MAIN_ARENA + GLIBC_ST(top));
    im->big = fixture_chunk(t, &p, 0x410, 0, 0x33);
    fixture_put(t, im->big, 0x500); /* prev_size */
    im->top = p;
    fixture_put(t, im->top + 8, (HEAP + HEAP_SIZE - im->top) | PREV_INUSE);

    tcache_bin(im->tcache, 0, im->cached, 2);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(fastbins) + 3 * 8, im->fast);
    fixture_put(t, im->fast + 16, protect(im->fast + 16, 0));
    fixture_put(t, MAIN_ARENA + GLIBC_ST(top), im->top);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(system_mem), HEAP_SIZE);

    /* one mmapped chunk: prev_size 0, size with IS_MMAPPED, the whole mapping */
    fixture_map(t, MMAPPED, MMAPPED_SIZE, "rw-p", NULL, TARGET_MAP_ANON, true);
    fixture_put(t, MMAPPED + 8, MMAPPED_SIZE | 2);
    memset(fixture_at(t, MMAPPED + 16), 0x44, MMAPPED_SIZE - 16);
    fixture_sort(t);
}

static const struct heap_class *class_of(const struct heap_census *c, uint64_t usable)
{
    for (size_t i = 0; i < c->nclasses; i++)
        if (c->classes[i].usable == usable)
            return &c->classes[i];
    return NULL;
}

static void assert_class(const struct heap_census *c, uint64_t usable, uint64_t chunks,
                         uint64_t cached)
{
    const struct heap_class *k = class_of(c, usable);
    if (!k)
        fail_msg("no class of usable size %llu", (unsigned long long)usable);
    assert_int_equal(k->chunks, chunks);
    assert_int_equal(k->cached, cached);
}

static void census(struct heap_census *c)
{
    struct lts_error err;
    assert_int_equal(heap_census(t, c, &err), 0);
    assert_true(c->glibc);
}

static void finish(struct heap_census *c)
{
    heap_census_free(c);
    target_close(t);
    t = NULL;
}

/* ---- the main arena ------------------------------------------------------------------------ */

struct visited {
    uint64_t address[16], usable[16];
    size_t n;
    bool bytes_ok;
};

static void visit(uint64_t address, uint64_t usable, const uint8_t *bytes, size_t n, void *ctx)
{
    struct visited *v = ctx;
    if (v->n < 16) {
        v->address[v->n] = address;
        v->usable[v->n++] = usable;
    }
    uint8_t fill = usable == 24 ? 0x11 : usable == 72 ? 0x22 : 0x44;
    for (size_t i = 0; i < n; i++)
        v->bytes_ok &= bytes[i] == fill;
    v->bytes_ok &= n == usable;
}

/* Every count of the census from the image, and the second walk's chunks and bytes. */
static void test_main_arena(void **state)
{
    (void)state;
    struct main_image im;
    build_main(&im);
    struct heap_census c;
    census(&c);
    assert_int_equal(c.narenas, 1);
    assert_int_equal(c.arenas[0].address, MAIN_ARENA);
    assert_true(c.arenas[0].main);
    assert_int_equal(c.arenas[0].heaps, 1);
    assert_int_equal(c.arenas[0].bytes, HEAP_SIZE);
    assert_int_equal(c.arenas[0].top, HEAP + HEAP_SIZE - im.top);
    assert_int_equal(c.heap_bytes, HEAP_SIZE);
    assert_int_equal(c.top_bytes, HEAP + HEAP_SIZE - im.top);

    /* usable sizes: chunk size - 8, an mmapped one's - 16; most bytes first */
    assert_int_equal(c.nclasses, 4);
    assert_int_equal(c.classes[0].usable, MMAPPED_SIZE - 16);
    assert_int_equal(c.classes[0].mmapped, 1);
    assert_class(&c, MMAPPED_SIZE - 16, 1, 0);
    assert_int_equal(c.classes[1].usable, 1032);
    assert_class(&c, 1032, 1, 0);
    assert_class(&c, 72, 4, 1); /* the fastbin's chunk is free though its header says not */
    assert_class(&c, 24, 3, 2); /* the tcache's two too */
    assert_null(class_of(&c, TCACHE_CHUNK - 8)); /* the tcache itself is malloc's */
    assert_int_equal(c.inuse_chunks, 9);
    assert_int_equal(c.inuse_bytes, MMAPPED_SIZE - 16 + 1032 + 4 * 72 + 3 * 24);

    assert_int_equal(c.tcaches, 1);
    assert_int_equal(c.tcache_chunks, 2);
    assert_int_equal(c.fastbin_chunks, 1);
    assert_true(c.fastbins_read);
    assert_int_equal(c.unchecked_small, 0);
    assert_int_equal(c.cached_chunks, 3);
    assert_int_equal(c.cached_bytes, 2 * 0x20 + 0x50);
    assert_int_equal(c.free_chunks, 1 + 3);
    assert_int_equal(c.free_bytes, 0x500 + 2 * 0x20 + 0x50);
    assert_int_equal(c.largest_free, 0x500);
    assert_int_equal(c.mmapped_chunks, 1);
    assert_int_equal(c.mmapped_bytes, MMAPPED_SIZE);
    /* a size word per chunk walked (13), the mmapped chunk's header, the tcache struct */
    assert_int_equal(c.overhead_bytes, 13 * 8 + 16 + TCACHE_CHUNK);
    assert_int_equal(c.invalid_chunks, 0);
    assert_int_equal(c.skipped_bytes, 0);
    assert_false(c.changed_under_walk);
    assert_int_equal(target_map_at(t, HEAP)->kind, TARGET_MAP_HEAP);
    assert_int_equal(target_map_at(t, MMAPPED)->kind, TARGET_MAP_MMAPPED);

    /* the second walk: the in-use chunks of the sizes asked, with their bytes, the cached
     * ones left out */
    uint64_t sizes[] = {24, 72, MMAPPED_SIZE - 16};
    struct visited v = {.bytes_ok = true};
    assert_int_equal(heap_each_chunk(t, &c, sizes, 3, visit, &v), 3 + 4 + 1);
    assert_int_equal(v.n, 8);
    assert_true(v.bytes_ok);
    uint64_t want[] = {im.small[0],  im.small[1],  im.small[2],  im.medium[0],
                       im.medium[1], im.medium[2], im.medium[3], MMAPPED};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(v.address[i], want[i] + 16);
    uint64_t only_big[] = {1032};
    v = (struct visited){.bytes_ok = true};
    assert_int_equal(heap_each_chunk(t, &c, only_big, 1, visit, &v), 1);
    assert_int_equal(v.address[0], im.big + 16);
    finish(&c);
}

/* ---- empty tcaches ------------------------------------------------------------------------- */

/* Every tcache empty (the program took back what it had cached) while a fastbin still holds
 * a chunk — glibc 2.36 safe-links that one too. A tcache is the arena's first chunk, or one
 * a thread's TLS points at (at one offset below each thread pointer); a user's chunk of the
 * same size that no thread points at stays a user's. */
static void test_empty_tcaches(void **state)
{
    (void)state;
    t = fixture_target(8);
    map_libc();
    fixture_map(t, HEAP, HEAP_SIZE, "rw-p", "[heap]", TARGET_MAP_HEAP, true);
    uint64_t p = HEAP;
    uint64_t tcache0 = fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE, 0);
    fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE,
                  0); /* a user's, all zeros: reads as an empty tcache */
    uint64_t tcache1 = fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE, 0);
    uint64_t fast = fixture_chunk(t, &p, 0x30, PREV_INUSE, 0);
    fixture_chunk(t, &p, 0x30, PREV_INUSE, 0x55);
    uint64_t top = p;
    fixture_put(t, top + 8, (HEAP + HEAP_SIZE - top) | PREV_INUSE);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(top), top);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(system_mem), HEAP_SIZE);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(fastbins) + 1 * 8, fast);
    fixture_put(t, fast + 16, protect(fast + 16, 0));
    /* two threads, each with its tcache pointer at the same offset below its thread
     * pointer (glibc's `tcache`, an initial-exec TLS variable of libc) */
    const uint64_t stacks[2] = {0x7ffff6000000ull, 0x7ffff6100000ull};
    const uint64_t tcaches[2] = {tcache0, tcache1};
    for (int i = 0; i < 2; i++) {
        fixture_map(t, stacks[i], 0x10000, "rw-p", NULL, TARGET_MAP_ANON, true);
        uint64_t tp = stacks[i] + 0x10000 - 0x900;
        fixture_thread(t, 100 + i, 0)->tcb = tp;
        fixture_put(t, tp - 0x48, tcaches[i] + 16);
    }
    fixture_sort(t);
    struct heap_census c;
    census(&c);
    assert_int_equal(c.tcaches, 2);
    assert_int_equal(c.tcache_chunks, 0);
    assert_class(&c, TCACHE_CHUNK - 8, 1, 0); /* the user's */
    assert_int_equal(c.overhead_bytes, 5 * 8 + 2 * TCACHE_CHUNK);
    /* the fastbin's chunk, safe-linked: free, and the fastbins read */
    assert_true(c.fastbins_read);
    assert_int_equal(c.fastbin_chunks, 1);
    assert_class(&c, 40, 1, 1);
    assert_int_equal(c.unchecked_small, 0);
    finish(&c);
}

/* ---- a non-main arena ------------------------------------------------------------------------ */

struct arena_image {
    uint64_t tcache, a56[3], old_top, fast, big, top, main_top;
};

/* Main arena: an empty tcache, one chunk, the top. A second arena over two heaps: the first
 * holds heap_info, the malloc_state, the arena's tcache (one chunk in it), two chunks, and
 * the old top freed before its fenceposts; the second (holding the top) heap_info, a fastbin
 * chunk, a large chunk, the top. */
static void build_arenas(struct arena_image *im, uint64_t heap1_prev)
{
    t = fixture_target(8);
    assert_non_null(t);
    map_libc();
    fixture_map(t, HEAP, HEAP_SIZE, "rw-p", "[heap]", TARGET_MAP_HEAP, true);
    uint64_t p = HEAP;
    fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE, 0);
    fixture_chunk(t, &p, 0x20, PREV_INUSE, 0x11);
    im->main_top = p;
    fixture_put(t, p + 8, (HEAP + HEAP_SIZE - p) | PREV_INUSE);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(top), p);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(system_mem), HEAP_SIZE);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(next), ARENA2);

    const uint64_t heaps[2] = {HEAP1, HEAP2};
    for (int i = 0; i < 2; i++) {
        fixture_map(t, heaps[i], HEAP_SIZE, "rw-p", NULL, TARGET_MAP_ANON, true);
        fixture_map(t, heaps[i] + HEAP_SIZE, HEAP_MAX - HEAP_SIZE, "---p", NULL, TARGET_MAP_GUARD,
                    false);
        fixture_put(t, heaps[i] + HI(ar_ptr), ARENA2);
        fixture_put(t, heaps[i] + HI(size), HEAP_SIZE);
        fixture_put(t, heaps[i] + HI(mprotect_size), HEAP_SIZE);
        if (heap_info_size > HI(pagesize))
            fixture_put(t, heaps[i] + HI(pagesize), 4096);
    }
    fixture_put(t, HEAP1 + HI(prev), heap1_prev);
    fixture_put(t, HEAP2 + HI(prev), HEAP1);

    /* the first heap: chunks after the malloc_state, aligned as _int_new_arena does */
    p = ARENA2 + sizeof(struct glibc_malloc_state);
    p = ((p + 16 + 15) & ~15ull) - 16;
    unsigned nm = PREV_INUSE | NON_MAIN_ARENA;
    im->tcache = fixture_chunk(t, &p, TCACHE_CHUNK, nm, 0);
    for (int i = 0; i < 3; i++)
        im->a56[i] = fixture_chunk(t, &p, 0x40, nm, 0x66);
    tcache_bin(im->tcache, 2, &im->a56[2], 1);
    /* sysmalloc's fenceposts: 16 | P, then 0 | P; the old top before them, freed */
    uint64_t end = HEAP1 + HEAP_SIZE;
    im->old_top = fixture_chunk(t, &p, end - 32 - p, nm, 0);
    fixture_put(t, end - 32, end - 32 - im->old_top); /* the free chunk's foot */
    fixture_put(t, end - 32 + 8, 16);
    fixture_put(t, end - 16, 16);
    fixture_put(t, end - 16 + 8, 0 | PREV_INUSE);

    /* the second heap: chunks right after heap_info */
    p = HEAP2 + heap_info_size;
    im->fast = fixture_chunk(t, &p, 0x20, nm, 0);
    fixture_put(t, im->fast + 16, protect(im->fast + 16, 0));
    im->big = fixture_chunk(t, &p, 0x1010, nm, 0x77);
    im->top = p;
    fixture_put(t, p + 8, (HEAP2 + HEAP_SIZE - p) | PREV_INUSE);

    fixture_arena(t, ARENA2, MAIN_ARENA, im->top, 2 * HEAP_SIZE);
    fixture_put(t, ARENA2 + GLIBC_ST(fastbins), im->fast);
    fixture_sort(t);
}

static void other_arena(void)
{
    struct arena_image im;
    build_arenas(&im, 0);
    struct heap_census c;
    census(&c);
    assert_int_equal(c.narenas, 2);
    assert_true(c.arenas[0].main);
    assert_int_equal(c.arenas[1].address, ARENA2);
    assert_false(c.arenas[1].main);
    assert_int_equal(c.arenas[1].heaps, 2);
    assert_int_equal(c.arenas[1].bytes, 2 * HEAP_SIZE);
    assert_int_equal(c.arenas[1].top, HEAP2 + HEAP_SIZE - im.top);
    assert_int_equal(c.heap_bytes, 3 * HEAP_SIZE);
    assert_int_equal(c.top_bytes, (HEAP + HEAP_SIZE - im.main_top) + (HEAP2 + HEAP_SIZE - im.top));
    assert_int_equal(target_map_at(t, HEAP1)->kind, TARGET_MAP_ARENA);
    assert_int_equal(target_map_at(t, HEAP2)->kind, TARGET_MAP_ARENA);

    assert_class(&c, 0x1010 - 8, 1, 0);
    assert_class(&c, 56, 2, 1);
    assert_class(&c, 24, 1, 1); /* the main arena's chunk; the fastbin's, free */
    assert_int_equal(c.nclasses, 3);
    assert_int_equal(c.tcaches, 2);
    assert_int_equal(c.tcache_chunks, 1);
    assert_int_equal(c.fastbin_chunks, 1);
    assert_true(c.fastbins_read);
    assert_int_equal(c.free_chunks, 1 + 2); /* the old top, and the two cached */
    assert_int_equal(c.largest_free, HEAP1 + HEAP_SIZE - 32 - im.old_top);
    assert_int_equal(c.invalid_chunks, 0);
    finish(&c);
}

static void test_other_arena(void **state)
{
    (void)state;
    other_arena();
}

/* The same heaps as glibc 2.27 to 2.29 lay them out: char counts in a smaller tcache, a
 * 32-byte heap_info (so the second heap's chunks start 16 bytes earlier), plain links. */
static void test_glibc_2_29(void **state)
{
    (void)state;
    old_tcache = true, heap_info_size = 32, safe_linking = false;
    other_arena();
    old_tcache = false, heap_info_size = sizeof(struct glibc_heap_info), safe_linking = true;
}

/* ---- chunks that fail a check ------------------------------------------------------------- */

/* The census in a child, which must end within seconds: a walk sent back (a loop) is a
 * failure of the test, not a test that hangs. Returns the child's exit status, or -signal. */
static int census_in_child(int (*check)(const struct heap_census *c))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5);
        struct heap_census c;
        struct lts_error err;
        if (heap_census(t, &c, &err) < 0 || !c.glibc)
            _exit(3);
        _exit(check(&c));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/* No class larger than the heap, the bad chunk counted invalid. */
static int wrapped_ok(const struct heap_census *c)
{
    for (size_t i = 0; i < c->nclasses; i++)
        if (c->classes[i].usable > HEAP_SIZE)
            return 1;
    return c->invalid_chunks >= 1 ? 0 : 2;
}

static void test_corrupt_size(void **state)
{
    (void)state;
    struct main_image im;
    build_main(&im);
    /* a size past the heap's end: skipped to the next chunk from which a chain checks */
    fixture_put(t, im.medium[1] + 8, 0x100050 | PREV_INUSE);
    struct heap_census c;
    census(&c);
    assert_int_equal(c.invalid_chunks, 1);
    assert_int_equal(c.skipped_bytes, 0x50);
    assert_false(c.changed_under_walk); /* it reads the same again: not a heap that moved */
    assert_class(&c, 72, 3, 1);
    assert_class(&c, 24, 3, 2);
    assert_class(&c, 1032, 1, 0);
    assert_int_equal(c.top_bytes, HEAP + HEAP_SIZE - im.top);
    assert_int_equal(c.overhead_bytes, 12 * 8 + 16 + TCACHE_CHUNK);
    heap_census_free(&c);

    /* a size that wraps around the address space: p + size lands 32 bytes back, on a chunk
     * whose size leads forward to it again */
    fixture_put(t, im.medium[1] + 8, 0x50 | PREV_INUSE);
    fixture_put(t, im.small[2] + 8, (uint64_t)-32 | PREV_INUSE);
    int rc = census_in_child(wrapped_ok);
    if (rc == -SIGALRM)
        fail_msg("the walk went back to a chunk it had passed, and never ended");
    assert_int_equal(rc, 0);
    finish(&c);
}

/* ---- lists that loop ------------------------------------------------------------------------ */

/* A fastbin whose list comes back to its first chunk: the list fails a check, so the
 * fastbins are not read, and none of its chunks is counted free as found there. */
static void test_fastbin_loop(void **state)
{
    (void)state;
    struct main_image im;
    build_main(&im);
    uint64_t second = im.medium[3];
    fixture_put(t, im.fast + 16, protect(im.fast + 16, second));
    fixture_put(t, second + 16, protect(second + 16, im.fast));
    struct heap_census c;
    census(&c);
    assert_false(c.fastbins_read);
    assert_int_equal(c.fastbin_chunks, 0);
    assert_int_equal(c.tcache_chunks, 2);
    assert_int_equal(c.cached_chunks, c.tcache_chunks + c.fastbin_chunks);
    assert_class(&c, 72, 5, 0);
    finish(&c);
}

/* A heap whose `prev` leads back to the arena's newest heap: each heap is walked once. */
static void test_heap_list_loop(void **state)
{
    (void)state;
    struct arena_image im;
    build_arenas(&im, HEAP2);
    struct heap_census c;
    census(&c);
    assert_int_equal(c.narenas, 2);
    assert_class(&c, 0x1010 - 8, 1, 0);
    assert_class(&c, 56, 2, 1);
    assert_int_equal(c.arenas[1].heaps, 2);
    assert_int_equal(c.arenas[1].bytes, 2 * HEAP_SIZE);
    assert_int_equal(c.heap_bytes, 3 * HEAP_SIZE);
    finish(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_arena),     cmocka_unit_test(test_empty_tcaches),
        cmocka_unit_test(test_other_arena),    cmocka_unit_test(test_glibc_2_29),
        cmocka_unit_test(test_corrupt_size),   cmocka_unit_test(test_fastbin_loop),
        cmocka_unit_test(test_heap_list_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
