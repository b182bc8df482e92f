/* Unit tests of reachability.c, leaktag-scan's verdict without the shim, on a target built in
 * memory (scan_fixture.h) whose glibc heap is read by the real census (mallheap.c), laid out
 * as test_mallheap.c lays glibc 2.36's on x86-64. The roots are the program's writable data
 * (a global), libc's (main_arena, whose pointers to free chunks' headers are no reference),
 * an anonymous mapping holding a thread's TLS, the thread's stack from its stack pointer less
 * the red zone, and its registers. Cases: the four categories per class and in all, which
 * chunks are blocks (not a tcache's or a fastbin's), the chains kept for the classes with
 * most reachable bytes (root, root word, links), the lost chunks looked up, the caveat, no
 * verdict (not glibc, 32-bit, a live process not frozen), the chains in words without
 * modules; a chain longer than REACH_CHAIN_KEPT, and six classes for five chains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mallheap.h"
#include "reachability.h"
#include "scan_fixture.h"

/* ---- the image: glibc 2.36's heap, x86-64 (malloc_state: scan_fixture.h) -------------------- */

#define PREV_INUSE 1u
#define TCACHE_CHUNK 0x290u

#define LIBC_PATH "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBC_TEXT 0x7ffff7dc0000ull
#define LIBC_DATA 0x7ffff7f9c000ull
#define LIBC_BSS 0x7ffff7fa0000ull
#define MAIN_ARENA (LIBC_DATA + 0xc80)
#define PROG_PATH "/usr/bin/prog"
#define PROG_DATA 0x555555557000ull /* the program's writable data: the globals */
#define GLOBAL (PROG_DATA + 0x10)
#define HEAP 0x555555559000ull
#define HEAP_SIZE 0x21000ull
#define TLS_MAP 0x7ffff7d80000ull /* an anonymous mapping holding the thread's TLS */
#define TP (TLS_MAP + 0x1800)     /* its thread pointer */
#define STACK 0x7ffffffde000ull
#define STACK_SIZE 0x21000ull
#define SP (STACK + 0x20000)
#define TID 4242

static struct target *t;

static uint64_t protect(uint64_t pos, uint64_t ptr)
{
    return (pos >> 12) ^ ptr;
}

/* The chunks (chunk addresses; a chunk's block, its user pointer, is 16 bytes on), by what
 * points at them. Usable sizes (chunk size - 8) differ by category, so that each class's
 * counts tell one case. */
struct image {
    uint64_t tcache, cached[2];
    uint64_t global_to;   /* 56: from the global: reachable */
    uint64_t second;      /* 72: from global_to's second word: reachable, a chain of two */
    uint64_t in_register; /* 88: from a register: reachable */
    uint64_t on_stack[2]; /* 104: 16 bytes above sp, and in the red zone: reachable */
    uint64_t in_tls;      /* 136: from the thread's TLS: reachable */
    uint64_t interior;    /* 152: an interior pointer from the global's next word: possibly */
    uint64_t fast;        /* 40: free in fastbin 1, the global pointing at it: no block */
    uint64_t head;        /* 168: nothing points at it: definitely lost */
    uint64_t member;      /* 184: only the head points at it: indirectly lost */
    uint64_t below_sp;    /* 200: from a stack word below the red zone: definitely lost */
    uint64_t before_free; /* 216: main_arena's unsorted bin points at its last word */
    uint64_t free_chunk;  /* free: in the unsorted bin */
    uint64_t last;        /* 168: main_arena's top points at its last word: definitely lost */
    uint64_t top;
};

#define U(chunk) ((chunk) + 16) /* the user pointer */

static void build(struct image *im)
{
    t = fixture_target(8);
    assert_non_null(t);
    t->is_core = true;
    fixture_map(t, PROG_DATA, 0x1000, "rw-p", PROG_PATH, TARGET_MAP_FILE, true);
    fixture_map(t, LIBC_TEXT, 0x1d0000, "r-xp", LIBC_PATH, TARGET_MAP_FILE, false);
    fixture_map(t, LIBC_DATA, 0x4000, "rw-p", LIBC_PATH, TARGET_MAP_FILE, true);
    fixture_map(t, LIBC_BSS, 0xd000, "rw-p", NULL, TARGET_MAP_ANON, true);
    fixture_map(t, TLS_MAP, 0x2000, "rw-p", NULL, TARGET_MAP_ANON, true);
    fixture_map(t, STACK, STACK_SIZE, "rw-p", "[stack]", TARGET_MAP_STACK, true);
    fixture_map(t, HEAP, HEAP_SIZE, "rw-p", "[heap]", TARGET_MAP_HEAP, true);
    fixture_arena(t, MAIN_ARENA, MAIN_ARENA, MAIN_ARENA + GLIBC_ST(top), 0);

    uint64_t p = HEAP;
    im->tcache = fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE, 0);
    for (int i = 0; i < 2; i++)
        im->cached[i] = fixture_chunk(t, &p, 0x20, PREV_INUSE, 0xcc);
    im->global_to = fixture_chunk(t, &p, 0x40, PREV_INUSE, 0);
    im->second = fixture_chunk(t, &p, 0x50, PREV_INUSE, 0);
    im->in_register = fixture_chunk(t, &p, 0x60, PREV_INUSE, 0);
    for (int i = 0; i < 2; i++)
        im->on_stack[i] = fixture_chunk(t, &p, 0x70, PREV_INUSE, 0);
    im->in_tls = fixture_chunk(t, &p, 0x90, PREV_INUSE, 0);
    im->interior = fixture_chunk(t, &p, 0xa0, PREV_INUSE, 0);
    im->fast = fixture_chunk(t, &p, 0x30, PREV_INUSE, 0xfa);
    im->head = fixture_chunk(t, &p, 0xb0, PREV_INUSE, 0);
    im->member = fixture_chunk(t, &p, 0xc0, PREV_INUSE, 0);
    im->below_sp = fixture_chunk(t, &p, 0xd0, PREV_INUSE, 0);
    im->before_free = fixture_chunk(t, &p, 0xe0, PREV_INUSE, 0);
    im->free_chunk = fixture_chunk(t, &p, 0x500, PREV_INUSE, 0);
    im->last = fixture_chunk(t, &p, 0xb0, 0, 0);
    fixture_put(t, im->last, 0x500); /* prev_size: the free chunk's */
    im->top = p;
    fixture_put(t, im->top + 8, (HEAP + HEAP_SIZE - im->top) | PREV_INUSE);

    /* malloc's lists: the tcache's bin 0, fastbin 1, the unsorted bin, the top */
    fixture_put(t, im->tcache + 16, 2); /* counts[0] (uint16_t), with counts[1] zero */
    fixture_put(t, im->tcache + 16 + 128, U(im->cached[0]));
    fixture_put(t, U(im->cached[0]), protect(U(im->cached[0]), U(im->cached[1])));
    fixture_put(t, U(im->cached[0]) + 8, 0x5eed5eed5eed5eedull);
    fixture_put(t, U(im->cached[1]), protect(U(im->cached[1]), 0));
    fixture_put(t, U(im->cached[1]) + 8, 0x5eed5eed5eed5eedull);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(fastbins) + 1 * 8, im->fast);
    fixture_put(t, U(im->fast), protect(U(im->fast), 0));
    fixture_put(t, MAIN_ARENA + GLIBC_ST(bins), im->free_chunk);     /* unsorted: fd */
    fixture_put(t, MAIN_ARENA + GLIBC_ST(bins) + 8, im->free_chunk); /* and bk */
    fixture_put(t, U(im->free_chunk), MAIN_ARENA + GLIBC_ST(top));
    fixture_put(t, U(im->free_chunk) + 8, MAIN_ARENA + GLIBC_ST(top));
    fixture_put(t, MAIN_ARENA + GLIBC_ST(top), im->top);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(system_mem), HEAP_SIZE);

    /* the references */
    fixture_put(t, GLOBAL, U(im->global_to));
    fixture_put(t, U(im->global_to) + 8, U(im->second));
    fixture_put(t, GLOBAL + 8, U(im->interior) + 16);
    fixture_put(t, GLOBAL + 16, U(im->fast));
    fixture_put(t, GLOBAL + 24, U(im->cached[0]));
    fixture_put(t, U(im->head), U(im->member) + 8);
    fixture_put(t, TP - 0x40, U(im->in_tls));
    fixture_put(t, SP + 16, U(im->on_stack[0]));
    fixture_put(t, SP - 64, U(im->on_stack[1]));
    fixture_put(t, SP - 256, U(im->below_sp));

    struct target_thread *th = fixture_thread(t, TID, SP);
    snprintf(th->name, sizeof(th->name), "worker");
    th->nregs = 27;
    th->regs[3] = U(im->in_register);  /* rbx */
    th->regs[16] = LIBC_TEXT + 0x1234; /* rip */
    th->regs[19] = SP;                 /* rsp */
    th->regs[21] = TP;                 /* fs_base */
    fixture_sort(t);
}

static void census(struct heap_census *c)
{
    struct lts_error err;
    assert_int_equal(heap_census(t, c, &err), 0);
    assert_true(c->glibc);
}

static void take(const struct heap_census *c, struct reachability *rc)
{
    struct lts_error err;
    assert_int_equal(reachability_take(t, c, rc, &err), 0);
    if (!rc->taken)
        fail_msg("no verdict: %s", rc->why);
}

static void finish(struct heap_census *c, struct reachability *rc)
{
    reachability_free(rc);
    heap_census_free(c);
    target_close(t);
    t = NULL;
}

static const struct reach_class *class_of(const struct reachability *rc, uint64_t usable)
{
    const struct reach_class *k = reachability_class(rc, usable);
    if (!k)
        fail_msg("no class of usable size %llu", (unsigned long long)usable);
    return k;
}

/* The class of that usable size has exactly these counts (definitely, indirectly, possibly,
 * reachable: enum lt_reach_verdict's order). */
static void assert_class(const struct reachability *rc, uint64_t usable, uint64_t dl, uint64_t il,
                         uint64_t pl, uint64_t re)
{
    const struct reach_class *k = class_of(rc, usable);
    const uint64_t want[LT_VERDICT_COUNT] = {dl, il, pl, re};
    for (int s = 0; s < LT_VERDICT_COUNT; s++) {
        if (k->state[s].chunks != want[s] || k->state[s].bytes != want[s] * usable)
            fail_msg("class %llu, state %d: %llu chunks, %llu bytes; want %llu chunks",
                     (unsigned long long)usable, s, (unsigned long long)k->state[s].chunks,
                     (unsigned long long)k->state[s].bytes, (unsigned long long)want[s]);
    }
}

/* ---- the verdict ---------------------------------------------------------------------------- */

static void test_categories(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct heap_census c;
    census(&c);
    struct reachability rc;
    take(&c, &rc);
    assert_string_equal(rc.caveat, "");
    assert_int_equal(rc.blocks, 12);
    assert_true(rc.bytes_scanned > 0);
    /* the registers, the program's data, libc's data and .bss, the TLS mapping, the stack */
    assert_int_equal(rc.roots, 6);

    assert_int_equal(rc.nclasses, 10);
    assert_class(&rc, 56, 0, 0, 0, 1);  /* from the global */
    assert_class(&rc, 72, 0, 0, 0, 1);  /* through it */
    assert_class(&rc, 88, 0, 0, 0, 1);  /* a register */
    assert_class(&rc, 104, 0, 0, 0, 2); /* the stack above sp, and in the red zone */
    assert_class(&rc, 136, 0, 0, 0, 1); /* TLS */
    assert_class(&rc, 152, 0, 0, 1, 0); /* an interior pointer only */
    assert_class(&rc, 168, 2, 0, 0, 0); /* the head; the last, main_arena's top no reference */
    assert_class(&rc, 184, 0, 1, 0, 0); /* the head's member */
    assert_class(&rc, 200, 1, 0, 0, 0); /* below the red zone: not a root */
    assert_class(&rc, 216, 1, 0, 0, 0); /* the unsorted bin's pointer: no reference */
    assert_null(reachability_class(&rc, 24));               /* the tcache's chunks: free */
    assert_null(reachability_class(&rc, 40));               /* the fastbin's */
    assert_null(reachability_class(&rc, TCACHE_CHUNK - 8)); /* malloc's own */
    assert_null(reachability_class(&rc, 0x500 - 8));        /* free by its header */

    const uint64_t total[LT_VERDICT_COUNT][2] = {
        {4, 168 + 168 + 200 + 216}, {1, 184}, {1, 152}, {6, 56 + 72 + 88 + 2 * 104 + 136}};
    for (int s = 0; s < LT_VERDICT_COUNT; s++) {
        assert_int_equal(rc.total[s].chunks, total[s][0]);
        assert_int_equal(rc.total[s].bytes, total[s][1]);
    }
    struct reach_count lost = reachability_lost_in(class_of(&rc, 168));
    assert_int_equal(lost.chunks, 2);
    assert_int_equal(lost.bytes, 2 * 168);
    lost = reachability_lost_in(class_of(&rc, 152));
    assert_int_equal(lost.chunks, 0);

    /* the lost chunks, by user pointer */
    assert_int_equal(rc.nlost, 5);
    assert_true(reachability_lost(&rc, U(im.head)));
    assert_true(reachability_lost(&rc, U(im.member)));
    assert_true(reachability_lost(&rc, U(im.below_sp)));
    assert_true(reachability_lost(&rc, U(im.before_free)));
    assert_true(reachability_lost(&rc, U(im.last)));
    assert_false(reachability_lost(&rc, U(im.member) + 8)); /* not a chunk's start */
    assert_false(reachability_lost(&rc, im.head));
    assert_false(reachability_lost(&rc, U(im.global_to)));
    assert_false(reachability_lost(&rc, U(im.interior))); /* possibly lost: not counted */
    assert_false(reachability_lost(&rc, U(im.fast)));
    assert_false(reachability_lost(&rc, U(im.cached[1])));
    assert_false(reachability_lost(&rc, 0));
    finish(&c, &rc);
}

/* The chains: one for each of the five classes with reachable bytes, the most first, each
 * from its root to the class's first chunk reached. */
static void test_chains(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct heap_census c;
    census(&c);
    struct reachability rc;
    take(&c, &rc);
    /* (reachability_retained lists the chains put in words: after reachability_describe) */
    assert_int_equal(reachability_describe(&rc, t, NULL), 0);
    const struct reach_class *kept[REACH_RETAINED_CLASSES];
    assert_int_equal(reachability_retained(&rc, kept), 5);
    const uint64_t order[5] = {104, 136, 88, 72, 56};
    for (int i = 0; i < 5; i++)
        assert_int_equal(kept[i]->usable, order[i]);
    assert_null(class_of(&rc, 152)->chain); /* no reachable bytes, no chain */
    assert_null(class_of(&rc, 168)->chain);

    /* 56: the global, in the program's data mapping (whole: no chunk in it) */
    const struct reach_chain *ch = class_of(&rc, 56)->chain;
    assert_non_null(ch);
    assert_int_equal(ch->root.kind, LT_ROOT_TYPE_MAPPING);
    assert_int_equal(ch->root.lo, PROG_DATA);
    assert_int_equal(ch->root.hi, PROG_DATA + 0x1000);
    assert_int_equal(ch->root_word, GLOBAL);
    assert_int_equal(ch->tls_tid, 0);
    assert_int_equal(ch->frame_pc, 0);
    assert_int_equal(ch->hops, 1);
    assert_int_equal(ch->nkept, 1);
    assert_int_equal(ch->chunk[0], U(im.global_to));
    assert_int_equal(ch->usable[0], 56);
    assert_int_equal(ch->word[0], 0);

    /* 72: the global, then the chunk's second word */
    ch = class_of(&rc, 72)->chain;
    assert_int_equal(ch->root.kind, LT_ROOT_TYPE_MAPPING);
    assert_int_equal(ch->root_word, GLOBAL);
    assert_int_equal(ch->hops, 2);
    assert_int_equal(ch->nkept, 2);
    assert_int_equal(ch->chunk[0], U(im.global_to));
    assert_int_equal(ch->word[0], U(im.global_to) + 8);
    assert_int_equal(ch->chunk[1], U(im.second));
    assert_int_equal(ch->usable[1], 72);

    /* 88: a register (no word in memory) */
    ch = class_of(&rc, 88)->chain;
    assert_int_equal(ch->root.kind, LT_ROOT_TYPE_REGISTERS);
    assert_int_equal(ch->root.tid, TID);
    assert_int_equal(ch->root_word, 0);
    assert_int_equal(ch->chunk[0], U(im.in_register));

    /* 104: the stack from sp less the red zone; the first chunk of the class, above sp */
    ch = class_of(&rc, 104)->chain;
    assert_int_equal(ch->root.kind, LT_ROOT_TYPE_STACK);
    assert_int_equal(ch->root.tid, TID);
    assert_int_equal(ch->root.lo, SP - 128);
    assert_int_equal(ch->root.hi, STACK + STACK_SIZE);
    assert_int_equal(ch->root_word, SP + 16);
    assert_int_equal(ch->frame_pc, LIBC_TEXT + 0x1234); /* no return address: rip */
    assert_int_equal(ch->chunk[0], U(im.on_stack[0]));

    /* 136: an anonymous mapping's word, 64 bytes below the thread pointer: its TLS */
    ch = class_of(&rc, 136)->chain;
    assert_int_equal(ch->root.kind, LT_ROOT_TYPE_MAPPING);
    assert_int_equal(ch->root.lo, TLS_MAP);
    assert_int_equal(ch->root_word, TP - 0x40);
    assert_int_equal(ch->tls_tid, TID);
    assert_int_equal(ch->from_tp, -0x40);
    finish(&c, &rc);
}

/* The caveat from the census's figures. */
static void test_caveat(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct heap_census c;
    census(&c);
    struct reachability rc;
    c.unchecked_small = 3;
    take(&c, &rc);
    assert_non_null(strstr(rc.caveat, "3 small chunks could not be told in use or free"));
    reachability_free(&rc);
    c.invalid_chunks = 2;
    take(&c, &rc);
    assert_non_null(strstr(rc.caveat, "2 chunks failed the walk's checks"));
    c.invalid_chunks = c.unchecked_small = 0;
    finish(&c, &rc);
}

/* No verdict: the reason why. A live process is taken when frozen. */
static void test_no_verdict(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct lts_error err;
    struct reachability rc;
    struct heap_census other = {.glibc = false};
    snprintf(other.why, sizeof(other.why), "jemalloc's");
    assert_int_equal(reachability_take(t, &other, &rc, &err), 0);
    assert_false(rc.taken);
    assert_non_null(strstr(rc.why, "not glibc's"));
    assert_non_null(strstr(rc.why, "jemalloc's"));
    assert_int_equal(rc.nclasses, 0);

    struct heap_census c;
    census(&c);
    t->pointer_bytes = 4;
    assert_int_equal(reachability_take(t, &c, &rc, &err), 0);
    assert_false(rc.taken);
    assert_non_null(strstr(rc.why, "32-bit"));
    assert_non_null(strstr(rc.why, "fixture"));
    t->pointer_bytes = 8;

    t->is_core = false;
    assert_int_equal(reachability_take(t, &c, &rc, &err), 0);
    assert_false(rc.taken);
    assert_non_null(strstr(rc.why, "--freeze"));
    t->priv->nfrozen = 1;
    take(&c, &rc);
    assert_int_equal(rc.total[LT_VERDICT_REACHABLE].chunks, 6);
    t->priv->nfrozen = 0;
    finish(&c, &rc);
}

/* The chains in words, no modules: a mapping by its path and range, a register, the stack,
 * TLS; then the chunks. */
static void test_describe(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    struct heap_census c;
    census(&c);
    struct reachability rc;
    take(&c, &rc);
    assert_int_equal(reachability_describe(&rc, t, NULL), 0);
    char want[256];

    const struct reach_class *k = class_of(&rc, 72);
    assert_int_equal(k->nsteps, 3);
    snprintf(want, sizeof(want), "%s at 0x%llx-0x%llx, word 0x%llx", PROG_PATH,
             (unsigned long long)PROG_DATA, (unsigned long long)PROG_DATA + 0x1000,
             (unsigned long long)GLOBAL);
    assert_string_equal(k->retained_by[0], want);
    snprintf(want, sizeof(want), "chunk 0x%llx (usable 56), at +0x8",
             (unsigned long long)U(im.global_to));
    assert_string_equal(k->retained_by[1], want);
    snprintf(want, sizeof(want), "chunk 0x%llx (usable 72) of this class",
             (unsigned long long)U(im.second));
    assert_string_equal(k->retained_by[2], want);

    k = class_of(&rc, 88);
    assert_int_equal(k->nsteps, 2);
    assert_string_equal(k->retained_by[0], "a register of thread worker (tid 4242)");

    k = class_of(&rc, 104);
    assert_string_equal(k->retained_by[0],
                        "the stack of thread worker (tid 4242), 16 bytes above its stack pointer");

    k = class_of(&rc, 136);
    assert_string_equal(k->retained_by[0], "the thread-local storage of thread worker (tid 4242), "
                                           "64 bytes below its thread pointer");

    /* a thread without a name */
    reachability_free(&rc);
    t->threads[0].name[0] = '\0';
    take(&c, &rc);
    assert_int_equal(reachability_describe(&rc, t, NULL), 0);
    assert_string_equal(class_of(&rc, 88)->retained_by[0], "a register of thread ? (tid 4242)");
    assert_int_equal(class_of(&rc, 152)->nsteps, 0);
    finish(&c, &rc);
}

/* ---- a long chain, and more classes than get one -------------------------------------------- */

#define LIST 14 /* chunks on the chain: more than REACH_CHAIN_KEPT */

/* The global -> list[0] -> ... -> list[LIST - 1]: 24-byte chunks but the last (248); the
 * global's next words point at one chunk each of four more classes (72, 88, 104, 120). */
static void build_list(uint64_t *list, uint64_t *more)
{
    t = fixture_target(8);
    assert_non_null(t);
    t->is_core = true;
    fixture_map(t, PROG_DATA, 0x1000, "rw-p", PROG_PATH, TARGET_MAP_FILE, true);
    fixture_map(t, LIBC_TEXT, 0x1d0000, "r-xp", LIBC_PATH, TARGET_MAP_FILE, false);
    fixture_map(t, LIBC_DATA, 0x4000, "rw-p", LIBC_PATH, TARGET_MAP_FILE, true);
    fixture_map(t, HEAP, HEAP_SIZE, "rw-p", "[heap]", TARGET_MAP_HEAP, true);
    fixture_arena(t, MAIN_ARENA, MAIN_ARENA, MAIN_ARENA + GLIBC_ST(top), 0);
    uint64_t p = HEAP;
    fixture_chunk(t, &p, TCACHE_CHUNK, PREV_INUSE, 0);
    for (int i = 0; i < LIST; i++)
        list[i] = fixture_chunk(t, &p, i + 1 < LIST ? 0x20 : 0x100, PREV_INUSE, 0);
    for (int i = 0; i < 4; i++)
        more[i] = fixture_chunk(t, &p, 0x50 + 0x10 * (uint64_t)i, PREV_INUSE, 0);
    fixture_put(t, p + 8, (HEAP + HEAP_SIZE - p) | PREV_INUSE);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(top), p);
    fixture_put(t, MAIN_ARENA + GLIBC_ST(system_mem), HEAP_SIZE);
    fixture_put(t, GLOBAL, U(list[0]));
    for (int i = 0; i + 1 < LIST; i++)
        fixture_put(t, U(list[i]), U(list[i + 1]));
    for (int i = 0; i < 4; i++)
        fixture_put(t, GLOBAL + 8 + 8 * (uint64_t)i, U(more[i]));
    fixture_sort(t);
}

static void test_long_chain(void **state)
{
    (void)state;
    uint64_t list[LIST], more[4];
    build_list(list, more);
    struct heap_census c;
    census(&c);
    struct reachability rc;
    take(&c, &rc);
    assert_int_equal(rc.total[LT_VERDICT_REACHABLE].chunks, LIST + 4);
    assert_int_equal(rc.nlost, 0);
    /* chains for the five classes with most reachable bytes: 24 (13 chunks), 248, 120, 104,
     * 88; not 72 */
    assert_null(class_of(&rc, 72)->chain);
    const struct reach_chain *ch = class_of(&rc, 248)->chain;
    assert_non_null(ch);
    assert_int_equal(ch->root_word, GLOBAL);
    assert_int_equal(ch->hops, LIST);
    assert_int_equal(ch->nkept, REACH_CHAIN_KEPT);
    /* the first half, then the last half: links 6 and 7 left out */
    for (int k = 0; k < REACH_CHAIN_KEPT; k++) {
        int link = k < REACH_CHAIN_KEPT / 2 ? k : k + LIST - REACH_CHAIN_KEPT;
        assert_int_equal(ch->chunk[k], U(list[link]));
        assert_int_equal(ch->usable[k], link + 1 < LIST ? 24 : 248);
        assert_int_equal(ch->word[k], link + 1 < LIST ? U(list[link]) : 0);
    }
    assert_int_equal(class_of(&rc, 24)->chain->hops, 1);

    assert_int_equal(reachability_describe(&rc, t, NULL), 0);
    const struct reach_class *kept[REACH_RETAINED_CLASSES];
    assert_int_equal(reachability_retained(&rc, kept), 5);
    const uint64_t order[5] = {24, 248, 120, 104, 88};
    for (int i = 0; i < 5; i++)
        assert_int_equal(kept[i]->usable, order[i]);
    const struct reach_class *k = class_of(&rc, 248);
    assert_int_equal(k->nsteps, 1 + REACH_CHAIN_KEPT + 1);
    char want[128];
    snprintf(want, sizeof(want), "chunk 0x%llx (usable 24), at +0x0",
             (unsigned long long)U(list[5]));
    assert_string_equal(k->retained_by[6], want);
    assert_string_equal(k->retained_by[7], "... 2 chunks more ...");
    snprintf(want, sizeof(want), "chunk 0x%llx (usable 24), at +0x0",
             (unsigned long long)U(list[8]));
    assert_string_equal(k->retained_by[8], want);
    snprintf(want, sizeof(want), "chunk 0x%llx (usable 248) of this class",
             (unsigned long long)U(list[LIST - 1]));
    assert_string_equal(k->retained_by[13], want);
    finish(&c, &rc);
}

/* ---- a core that claims more than it holds -------------------------------------------------- */

/* A writable segment of 32 TiB of which the core holds nothing (a damaged core's, as the
 * core fuzzer made one): its words are not scanned a page at a time, which took longer than
 * the fuzzer's 10 s; the verdict is the one without it. */
static void test_unheld_segment(void **state)
{
    (void)state;
    struct image im;
    build(&im);
    fixture_map(t, 0x100000000000ull, 1ull << 45, "rw-p", NULL, TARGET_MAP_ANON, false);
    fixture_sort(t);
    struct heap_census c;
    census(&c);
    struct reachability rc;
    take(&c, &rc);
    assert_int_equal(rc.bytes_scanned < (64u << 20), 1);
    assert_class(&rc, 72, 0, 0, 0, 1); /* reachable, as in test_categories */
    finish(&c, &rc);
}

/* ---- the order a verdict's table is read in -------------------------------------------------- */

static void test_ranked(void **state)
{
    (void)state;
    struct reach_class k[5] = {
        {.usable = 24}, {.usable = 40}, {.usable = 56}, {.usable = 72}, {.usable = 88}};
    k[0].state[LT_VERDICT_REACHABLE].bytes = 9000;      /* reachable only, the most */
    k[1].state[LT_VERDICT_POSSIBLY_LOST].bytes = 10;    /* possibly lost, a little */
    k[2].state[LT_VERDICT_INDIRECTLY_LOST].bytes = 100; /* lost: indirectly ... */
    k[3].state[LT_VERDICT_DEFINITELY_LOST].bytes = 60;  /* ... and definitely, together */
    k[3].state[LT_VERDICT_INDIRECTLY_LOST].bytes = 60;
    k[4].state[LT_VERDICT_REACHABLE].bytes = 50;
    struct reachability rc = {.taken = true, .classes = k, .nclasses = 5};
    const struct reach_class *out[5];
    assert_int_equal(reachability_ranked(&rc, out, 5), 5);
    const uint64_t order[5] = {72, 56, 40, 24, 88};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(out[i]->usable, order[i]);
    /* fewer places than classes: the first ones of the same order */
    assert_int_equal(reachability_ranked(&rc, out, 2), 2);
    assert_int_equal(out[0]->usable, 72);
    assert_int_equal(out[1]->usable, 56);
    assert_int_equal(reachability_ranked(&rc, out, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_categories), cmocka_unit_test(test_chains),
        cmocka_unit_test(test_caveat),     cmocka_unit_test(test_no_verdict),
        cmocka_unit_test(test_describe),   cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_ranked),     cmocka_unit_test(test_unheld_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
