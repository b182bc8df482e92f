/* Unit tests of the mark (preload/reach.c) on memory of this process: the hand-made cases
 * of valgrind's categories (chains, interior pointers, cycles, hidden pointers, a former
 * head joining a later structure, zero-size blocks, unreadable pages), then random graphs
 * checked against a second, slow computation on the graph's edge matrix: least fixpoints
 * for the reached blocks, valgrind's clique rule for the lost ones (which depends on the
 * order: a structure never passes through a block an earlier one claimed). Then the roots'
 * rules on mappings of a fake address space: which mappings may hold roots, a stack from its
 * stack pointer (less the red zone, or exactly for the caller), a mapping less its blocks'
 * pages, a non-main glibc heap whole, and the skipped ranges; max_roots; registers; and the
 * chain of first references from a root to a block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "reach.h"

#define MAX 256

/* Blocks live in one arena of this test, 64-byte aligned, in address order. */
static uint64_t arena[MAX * 64] __attribute__((aligned(4096)));
static uint64_t starts[MAX], sizes[MAX];
static size_t count;
static uint64_t roots[64];

static uint8_t state[MAX];
static uint32_t via[MAX], stack[2 * MAX];
static uint64_t via_addr[MAX];
static uint64_t index_page[1 << 12];
static uint32_t index_first[1 << 12];

static size_t read_self(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    memcpy(buf, (const void *)addr, len);
    return len;
}

/* Block i: `words` words at arena + 64 * i (0: a zero-size block). */
static uint64_t *block(size_t i)
{
    return arena + 64 * i;
}

static void make_blocks(size_t n, const size_t *words)
{
    memset(arena, 0, sizeof(arena));
    memset(roots, 0, sizeof(roots));
    count = n;
    for (size_t i = 0; i < n; i++) {
        starts[i] = (uint64_t)block(i);
        sizes[i] = words ? words[i] * 8 : 64;
    }
}

static struct lt_reach mark(lt_reach_read_fn *read)
{
    struct lt_reach r = {
        .n = count,
        .start = starts,
        .size = sizes,
        .read = read ? read : read_self,
        .state = state,
        .via = via,
        .via_addr = via_addr,
        .index_page = index_page,
        .index_first = index_first,
        .stack = stack,
    };
    size_t slots = lt_reach_index_slots(starts, sizes, count);
    assert_true(slots <= sizeof(index_page) / sizeof(index_page[0]));
    r.index_mask = slots - 1;
    lt_reach_begin(&r);
    lt_reach_root_range(&r, (uint64_t)roots, (uint64_t)(roots + 64), 7);
    lt_reach_end(&r);
    return r;
}

enum {
    L = LT_VERDICT_DEFINITELY_LOST,
    I = LT_VERDICT_INDIRECTLY_LOST,
    P = LT_VERDICT_POSSIBLY_LOST,
    R = LT_VERDICT_REACHABLE
};

static void categories(void **unused)
{
    (void)unused;
    make_blocks(16, NULL);
    roots[0] = (uint64_t)block(0); /* 0 -> 1 -> 2: reachable */
    block(0)[3] = (uint64_t)block(1);
    block(1)[0] = (uint64_t)block(2);
    roots[1] = (uint64_t)block(3) + 16; /* interior: 3 possible, and 4 through it */
    block(3)[5] = (uint64_t)block(4);
    block(5)[0] = (uint64_t)block(6); /* 5 -> 6 -> 7 unreached: 5 lost, 6, 7 indirect */
    block(6)[7] = (uint64_t)block(7) + 40;
    block(8)[1] = (uint64_t)block(9); /* cycle 8 <-> 9: 8 (lower) lost, 9 indirect */
    block(9)[1] = (uint64_t)block(8);
    roots[2] = (uint64_t)block(10) ^ (1ull << 40); /* hidden: 10 lost */
    roots[3] = (uint64_t)block(11) + 64;           /* one past the end: 11 lost */
    block(12)[2] = (uint64_t)block(13);            /* 12 heads 13, then 14 claims 12: 14 lost */
    block(14)[0] = (uint64_t)block(12);
    roots[4] = (uint64_t)block(15) + 8; /* interior, then a definite start pointer */
    block(2)[4] = (uint64_t)block(15);
    struct lt_reach r = mark(NULL);
    const uint8_t want[16] = {R, R, R, P, P, L, I, I, L, I, L, L, I, I, L, R};
    for (int i = 0; i < 16; i++) {
        if (state[i] != want[i])
            fail_msg("block %d: state %u, want %u", i, state[i], want[i]);
    }
    assert_int_equal(via[0], LT_REACH_VIA_ROOT | 7);
    assert_int_equal(via_addr[0], (uint64_t)&roots[0]);
    assert_int_equal(via[2], 1);
    assert_int_equal(via_addr[2], (uint64_t)&block(1)[0]);
    assert_int_equal(via[7], 6);
    assert_int_equal(via[13], 12);
    assert_int_equal(via[12], 14);
    assert_int_equal(via[15], 2);
    assert_true(r.bytes_scanned >= sizeof(roots));
}

static void zero_size_blocks(void **unused)
{
    (void)unused;
    const size_t words[4] = {0, 0, 2, 0};
    make_blocks(4, words);
    roots[0] = (uint64_t)block(0);     /* its start: reachable */
    roots[1] = (uint64_t)block(1) + 8; /* past a zero-size block's start: nothing */
    roots[2] = (uint64_t)block(2);
    block(2)[1] = (uint64_t)block(3);
    mark(NULL);
    assert_int_equal(state[0], R);
    assert_int_equal(state[1], L);
    assert_int_equal(state[3], R);
}

/* A read that fails on the page of block 1: its contents are not followed, nothing faults. */
static size_t read_but_block1(void *ctx, uint64_t addr, void *buf, size_t len)
{
    uint64_t bad = (uint64_t)block(1);
    if (addr <= bad && bad < addr + len) {
        size_t ok = (size_t)(bad - addr);
        memcpy(buf, (const void *)addr, ok);
        return ok;
    }
    return read_self(ctx, addr, buf, len);
}

static void unreadable_memory(void **unused)
{
    (void)unused;
    make_blocks(3, NULL);
    roots[0] = (uint64_t)block(1);
    block(1)[0] = (uint64_t)block(2);
    block(0)[0] = (uint64_t)block(2) + 8; /* block 0 is unreached: 2 stays indirect */
    mark(read_but_block1);
    assert_int_equal(state[1], R);
    assert_int_equal(state[0], L);
    assert_int_equal(state[2], I);
}

/* ---- random graphs against a slow definition ------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* edges[from][to]: 0 none, 1 start pointer, 2 interior; from == MAX is the root set */
static uint8_t edges[MAX + 1][MAX];

static uint64_t random_reference(size_t to, uint8_t *kind)
{
    switch (next_random() % 5) {
    case 0: *kind = 0; return (uint64_t)block(to) ^ (1ull << 40); /* hidden */
    case 1:
    case 2:
        if (sizes[to] > 8) {
            *kind = 2;
            return starts[to] + 8 * (1 + next_random() % (sizes[to] / 8 - 1));
        }
        /* fallthrough */
    default: *kind = 1; return starts[to];
    }
}

static void random_graph(size_t n)
{
    size_t words[MAX];
    for (size_t i = 0; i < n; i++)
        words[i] = next_random() % 9; /* 0 .. 8 words */
    make_blocks(n, words);
    memset(edges, 0, sizeof(edges));
    for (size_t i = 0; i <= n; i++) {
        uint64_t *mem = i == n ? roots : block(i);
        size_t slots = i == n ? (next_random() % 4) : words[i];
        for (size_t k = 0; k < slots; k++) {
            if (next_random() % 3 == 0)
                continue;
            size_t to = next_random() % n;
            uint8_t kind;
            mem[k] = random_reference(to, &kind);
            uint8_t *e = &edges[i == n ? MAX : i][to];
            if (kind && (*e == 0 || kind < *e))
                *e = kind; /* a start pointer wins over an interior one */
        }
    }
}

static void expected(size_t n, uint8_t *want)
{
    /* reachable: least set closed under start pointers from the roots and from itself */
    bool reach[MAX] = {0}, seen[MAX] = {0};
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t to = 0; to < n; to++) {
            if (reach[to])
                continue;
            bool yes = edges[MAX][to] == 1;
            for (size_t from = 0; from < n && !yes; from++)
                yes = reach[from] && edges[from][to] == 1;
            if (yes)
                reach[to] = changed = true;
        }
    }
    /* reached at all: any pointer from the roots or from a reached block */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t to = 0; to < n; to++) {
            if (seen[to])
                continue;
            bool yes = edges[MAX][to] != 0;
            for (size_t from = 0; from < n && !yes; from++)
                yes = seen[from] && edges[from][to];
            if (yes)
                seen[to] = changed = true;
        }
    }
    /* lost: valgrind's rule, on the edge matrix instead of memory — in address order, an
     * unreached block not yet claimed heads a structure and claims every unreached,
     * unclaimed block it leads to (a former head included), not going through blocks that
     * an earlier structure claimed */
    for (size_t i = 0; i < n; i++)
        want[i] = reach[i] ? R : seen[i] ? P : L;
    for (size_t head = 0; head < n; head++) {
        if (want[head] != L)
            continue;
        size_t todo[MAX], len = 0;
        todo[len++] = head;
        while (len) {
            size_t from = todo[--len];
            for (size_t to = 0; to < n; to++) {
                if (edges[from][to] && want[to] == L && to != head) {
                    want[to] = I;
                    todo[len++] = to;
                }
            }
        }
    }
}

static void random_graphs_match_the_definition(void **unused)
{
    (void)unused;
    int tally[4] = {0};
    for (int round = 0; round < 300; round++) {
        size_t n = 2 + next_random() % (round < 200 ? 24 : MAX - 2);
        random_graph(n);
        mark(NULL);
        uint8_t want[MAX];
        expected(n, want);
        for (size_t i = 0; i < n; i++) {
            if (state[i] != want[i])
                fail_msg("round %d, block %zu of %zu: state %u, want %u", round, i, n, state[i],
                         want[i]);
            tally[state[i]]++;
            /* via leads back to a root (reached) or to a head (lost) without a cycle */
            uint32_t at = (uint32_t)i;
            for (size_t steps = 0; steps <= n; steps++) {
                uint32_t up = via[at];
                if (up == LT_REACH_VIA_NONE) {
                    assert_int_equal(state[at], L);
                    break;
                }
                if (up & LT_REACH_VIA_ROOT) {
                    assert_true(state[i] >= P);
                    break;
                }
                at = up;
                assert_true(steps < n);
            }
        }
    }
    /* every category occurred */
    for (int k = 0; k < 4; k++)
        assert_true(tally[k] > 100);
}

/* ---- the roots (lt_reach_mapping and the rest) on a fake address space ------------------
 * Mappings at addresses these cases choose (a stack, a data segment, a non-main glibc heap
 * 64 MiB-aligned), backed where they are read by zeroed buffers, served by read_fake as a
 * frozen process's memory would be: a read stops where the backing does. The blocks are 64
 * bytes each at FAKE_BLOCKS, apart from the mappings whose roots are tested. */

#define FAKE_BLOCKS 0x100000000000ull
#define FB(i) (FAKE_BLOCKS + 0x100ull * (i))
#define HEAP_MAX_SIZE (64ull << 20)

struct fake_region {
    uint64_t lo, hi;
    uint8_t *bytes;
};
static struct fake_region fake[8];
static size_t nfake;

static void fake_reset(void)
{
    for (size_t i = 0; i < nfake; i++)
        free(fake[i].bytes);
    nfake = 0;
}

static void fake_map(uint64_t lo, uint64_t size)
{
    assert_true(nfake < sizeof(fake) / sizeof(fake[0]));
    fake[nfake] = (struct fake_region){lo, lo + size, calloc(1, (size_t)size)};
    assert_non_null(fake[nfake].bytes);
    nfake++;
}

static const struct fake_region *fake_at(uint64_t addr)
{
    for (size_t i = 0; i < nfake; i++)
        if (fake[i].lo <= addr && addr < fake[i].hi)
            return &fake[i];
    return NULL;
}

static void fake_put(uint64_t addr, uint64_t value)
{
    const struct fake_region *f = fake_at(addr);
    assert_non_null(f);
    assert_true(addr + 8 <= f->hi);
    memcpy(f->bytes + (addr - f->lo), &value, 8);
}

static size_t read_fake(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        const struct fake_region *f = fake_at(addr + done);
        if (!f)
            break;
        uint64_t room = f->hi - (addr + done);
        size_t n = room < len - done ? (size_t)room : len - done;
        memcpy((uint8_t *)buf + done, f->bytes + (addr + done - f->lo), n);
        done += n;
    }
    return done;
}

static struct lt_reach fr;
static struct lt_reach_root root_list[8];
static struct lt_reach_roots rs;

/* n blocks of 64 bytes at FB(0..n) (backed), then `extra` blocks given by address and size
 * (sorted, above them), the mark begun, no root yet. */
static void fake_begin(size_t n, const uint64_t *extra_start, const uint64_t *extra_size,
                       size_t extra, bool glibc, uint32_t max_roots)
{
    fake_map(FAKE_BLOCKS, 0x100 * (n ? n : 1));
    count = n + extra;
    assert_true(count <= MAX);
    for (size_t i = 0; i < n; i++) {
        starts[i] = FB(i);
        sizes[i] = 64;
    }
    for (size_t i = 0; i < extra; i++) {
        starts[n + i] = extra_start[i];
        sizes[n + i] = extra_size[i];
    }
    fr = (struct lt_reach){
        .n = count,
        .start = starts,
        .size = sizes,
        .read = read_fake,
        .state = state,
        .via = via,
        .via_addr = via_addr,
        .index_page = index_page,
        .index_first = index_first,
        .stack = stack,
    };
    size_t slots = lt_reach_index_slots(starts, sizes, count);
    assert_true(slots <= sizeof(index_page) / sizeof(index_page[0]));
    fr.index_mask = slots - 1;
    lt_reach_begin(&fr);
    memset(root_list, 0xee, sizeof(root_list));
    rs = (struct lt_reach_roots){
        .r = &fr, .glibc = glibc, .roots = root_list, .max_roots = max_roots};
}

static void assert_root(uint32_t id, uint32_t kind, int32_t tid, uint64_t lo, uint64_t hi)
{
    const struct lt_reach_root *r = &root_list[id];
    if (r->kind != kind || r->tid != tid || r->lo != lo || r->hi != hi)
        fail_msg("root %u: kind %u tid %d [%#llx, %#llx), want kind %u tid %d [%#llx, %#llx)", id,
                 r->kind, r->tid, (unsigned long long)r->lo, (unsigned long long)r->hi, kind, tid,
                 (unsigned long long)lo, (unsigned long long)hi);
}

static void assert_states(const uint8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (state[i] != want[i])
            fail_msg("block %zu: state %u, want %u", i, state[i], want[i]);
}

static void mapping_may_root(void **unused)
{
    (void)unused;
    assert_true(lt_reach_mapping_may_root("rw-p", ""));
    assert_true(lt_reach_mapping_may_root("rwxp", ""));
    assert_true(lt_reach_mapping_may_root("rw-s", ""));
    assert_false(lt_reach_mapping_may_root("r--p", ""));
    assert_false(lt_reach_mapping_may_root("-w-p", ""));
    assert_false(lt_reach_mapping_may_root("---p", ""));
    assert_false(lt_reach_mapping_may_root("r-xp", "/usr/lib/libc.so.6"));
    assert_true(lt_reach_mapping_may_root("rw-p", "[stack]"));
    assert_false(lt_reach_mapping_may_root("rw-p", "[heap]"));
    assert_false(lt_reach_mapping_may_root("rw-p", "[vdso]"));
    assert_false(lt_reach_mapping_may_root("rw-p", "[vvar]"));
    assert_false(lt_reach_mapping_may_root("rw-p", "[vsyscall]"));
    assert_true(lt_reach_mapping_may_root("rw-p", "[anon:x]"));
    assert_true(lt_reach_mapping_may_root("rw-p", "[anon_shmem:y]"));
    assert_true(lt_reach_mapping_may_root("rw-p", "/dev/zero"));
    assert_true(lt_reach_mapping_may_root("rw-s", "/dev/shm/x"));
    assert_false(lt_reach_mapping_may_root("rw-s", "/dev/mem"));
    assert_false(lt_reach_mapping_may_root("rw-s", "/dev/dri/card0"));
    assert_false(lt_reach_mapping_may_root("rw-s", "/dev/shm")); /* the directory's prefix only */
    assert_true(lt_reach_mapping_may_root("rw-p", "/usr/lib/x86_64-linux-gnu/libc.so.6"));
    assert_true(lt_reach_mapping_may_root("rw-s", "/tmp/shared.dat"));
}

/* A stopped thread's stack: from 128 bytes below sp (the red zone) to the mapping's end,
 * the start clamped at the mapping's; below that, and elsewhere in the mapping, no root. */
static void mapping_stack(void **unused)
{
    (void)unused;
    const uint64_t s = 0x7ffffffd0000ull, s2 = 0x7ffffff00000ull;
    fake_map(s, 0x2000);
    fake_map(s2, 0x1000);
    const struct lt_reach_stack stacks[2] = {{42, s + 0x1000, LT_ROOT_TYPE_STACK},
                                             {43, s2 + 0x40, LT_ROOT_TYPE_STACK}};
    fake_begin(6, NULL, NULL, 0, false, 8);
    rs.stacks = stacks;
    rs.nstacks = 2;
    fake_put(s + 0x1000 - 128, FB(0)); /* the red zone's lowest word */
    fake_put(s + 0x1000 - 136, FB(1)); /* below it */
    fake_put(s + 8, FB(2));            /* the mapping's bottom */
    fake_put(s + 0x2000 - 8, FB(3));   /* its top (TLS, the descriptor) */
    fake_put(s2, FB(4));               /* sp - 128 is below the second mapping: from its start */
    lt_reach_mapping(&rs, s, s + 0x2000);
    lt_reach_mapping(&rs, s2, s2 + 0x1000);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 2);
    assert_root(0, LT_ROOT_TYPE_STACK, 42, s + 0x1000 - 128, s + 0x2000);
    assert_root(1, LT_ROOT_TYPE_STACK, 43, s2, s2 + 0x1000);
    assert_states((const uint8_t[]){R, L, L, R, R, L}, 6);
    assert_int_equal(via[0], LT_REACH_VIA_ROOT | 0);
    assert_int_equal(via_addr[0], s + 0x1000 - 128);
    assert_int_equal(via[4], LT_REACH_VIA_ROOT | 1);
    fake_reset();

    /* the caller's own stack: from sp exactly, no red zone */
    fake_map(s, 0x2000);
    const struct lt_reach_stack caller = {7, s + 0x1000, LT_ROOT_TYPE_CALLER};
    fake_begin(3, NULL, NULL, 0, false, 8);
    rs.stacks = &caller;
    rs.nstacks = 1;
    fake_put(s + 0x1000 - 8, FB(0));
    fake_put(s + 0x1000, FB(1));
    lt_reach_mapping(&rs, s, s + 0x2000);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 1);
    assert_root(0, LT_ROOT_TYPE_CALLER, 7, s + 0x1000, s + 0x2000);
    assert_states((const uint8_t[]){L, R, L}, 3);
    fake_reset();
}

/* A mapping holding a block (an allocator's big block merged with an application's anonymous
 * mapping): the block's pages are the allocator's, not a root, even where the block is not;
 * the rest of the mapping is. A block that starts below the mapping counts too. */
static void mapping_blocks(void **unused)
{
    (void)unused;
    const uint64_t d = 0x7f0000100000ull, d2 = 0x7f0000200000ull;
    fake_map(d, 0x4000);
    fake_map(d2 - 0x1000, 0x3000);
    /* blocks 0..4 at FB; 5: in d's second page; 6: across d2's start */
    const uint64_t xs[2] = {d + 0x1100, d2 - 0x10}, xz[2] = {0x100, 0x20};
    fake_begin(5, xs, xz, 2, false, 8);
    fake_put(d + 0x1800, FB(0));      /* the block's page, outside the block: not a root */
    fake_put(d + 0x2008, FB(1));      /* the next page: a root */
    fake_put(d + 0x0ff8, FB(2));      /* the page before: a root */
    fake_put(d + 0x1100, FB(3));      /* inside block 5, which nothing reaches */
    fake_put(d2 + 0x0ff8, FB(4));     /* the page block 6 ends in: not a root */
    fake_put(d2 + 0x1000, FB(4) + 8); /* past it: an interior pointer from a root */
    lt_reach_mapping(&rs, d, d + 0x4000);
    lt_reach_mapping(&rs, d2, d2 + 0x2000);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 3);
    assert_root(0, LT_ROOT_TYPE_MAPPING, 0, d, d + 0x1000);
    assert_root(1, LT_ROOT_TYPE_MAPPING, 0, d + 0x2000, d + 0x4000);
    assert_root(2, LT_ROOT_TYPE_MAPPING, 0, d2 + 0x1000, d2 + 0x2000);
    /* 3: claimed by the lost block 5 that holds its pointer */
    assert_states((const uint8_t[]){L, R, R, I, P, L, L}, 7);
    assert_int_equal(via[1], LT_REACH_VIA_ROOT | 1);
    assert_int_equal(via_addr[1], d + 0x2008);
    assert_int_equal(via[3], 5);
    fake_reset();
}

/* What the caller skips (leaktag's own memory) is never a root, also where it overlaps the
 * mapping's start. */
static void mapping_skip(void **unused)
{
    (void)unused;
    const uint64_t k = 0x7f0000300000ull;
    fake_map(k, 0x4000);
    const struct lt_reach_range skip[3] = {
        {k - 0x1000, k + 0x100}, {k + 0x1000, k + 0x2000}, {k + 0x3000, k + 0x3800}};
    fake_begin(6, NULL, NULL, 0, false, 8);
    rs.skip = skip;
    rs.nskip = 3;
    fake_put(k + 0x8, FB(0));    /* skipped */
    fake_put(k + 0x108, FB(1));  /* a root */
    fake_put(k + 0x1008, FB(2)); /* skipped */
    fake_put(k + 0x2008, FB(3)); /* a root */
    fake_put(k + 0x3008, FB(4)); /* skipped */
    fake_put(k + 0x3808, FB(5)); /* a root */
    lt_reach_mapping(&rs, k, k + 0x4000);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 3);
    assert_root(0, LT_ROOT_TYPE_MAPPING, 0, k + 0x100, k + 0x1000);
    assert_root(1, LT_ROOT_TYPE_MAPPING, 0, k + 0x2000, k + 0x3000);
    assert_root(2, LT_ROOT_TYPE_MAPPING, 0, k + 0x3800, k + 0x4000);
    assert_states((const uint8_t[]){L, R, L, R, L, R}, 6);
    fake_reset();
}

/* A non-main glibc arena's chunk (its size word with NON_MAIN_ARENA, not IS_MMAPPED) in a
 * mapping: the whole 64 MiB-aligned heap around it is the allocator's; the mapping beyond it
 * a root. An mmapped chunk, or blocks that are not glibc's, leave only their pages out. */
static void glibc_heap(uint64_t header, bool glibc, bool whole_heap)
{
    const uint64_t h = 0x7fffe8000000ull; /* 64 MiB-aligned */
    fake_map(h - 0x1000, 0x7000);
    fake_map(h + HEAP_MAX_SIZE, 0x1000);
    /* two chunks of the heap, on its third and fourth pages */
    const uint64_t xs[2] = {h + 0x2010, h + 0x3010}, xz[2] = {0x28, 0x28};
    fake_begin(3, xs, xz, 2, glibc, 8);
    fake_put(h + 0x2008, header); /* the chunks' size words */
    fake_put(h + 0x3008, header);
    fake_put(h + 0x5000, FB(0));            /* the heap, past both chunks' pages */
    fake_put(h - 0x1000 + 8, FB(1));        /* before the heap */
    fake_put(h + HEAP_MAX_SIZE + 8, FB(2)); /* after it */
    lt_reach_mapping(&rs, h - 0x1000, h + HEAP_MAX_SIZE + 0x1000);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 2);
    if (whole_heap) {
        assert_root(0, LT_ROOT_TYPE_MAPPING, 0, h - 0x1000, h);
        assert_root(1, LT_ROOT_TYPE_MAPPING, 0, h + HEAP_MAX_SIZE, h + HEAP_MAX_SIZE + 0x1000);
        assert_states((const uint8_t[]){L, R, R, L, L}, 5);
    } else {
        assert_root(0, LT_ROOT_TYPE_MAPPING, 0, h - 0x1000, h + 0x2000);
        assert_root(1, LT_ROOT_TYPE_MAPPING, 0, h + 0x4000, h + HEAP_MAX_SIZE + 0x1000);
        assert_states((const uint8_t[]){R, R, R, L, L}, 5);
    }
    fake_reset();
}

static void mapping_glibc_heap(void **unused)
{
    (void)unused;
    glibc_heap(0x30 | 4 | 1, true, true);   /* NON_MAIN_ARENA | PREV_INUSE: the whole heap */
    glibc_heap(0x30 | 4 | 2, true, false);  /* and IS_MMAPPED: its pages only */
    glibc_heap(0x30 | 1, true, false);      /* the main arena's: its pages only */
    glibc_heap(0x30 | 4 | 1, false, false); /* blocks not glibc's: headers not read */
}

/* Beyond max_roots, the last id stands for the rest: it is overwritten with each. */
static void roots_clamped(void **unused)
{
    (void)unused;
    const uint64_t m = 0x7f0000400000ull;
    fake_map(m, 0x3000);
    const struct lt_reach_range skip[2] = {{m + 0x1000, m + 0x1010}, {m + 0x2000, m + 0x2010}};
    fake_begin(3, NULL, NULL, 0, false, 2);
    rs.skip = skip;
    rs.nskip = 2;
    fake_put(m + 0x0008, FB(0));
    fake_put(m + 0x1010, FB(1));
    fake_put(m + 0x2010, FB(2));
    lt_reach_mapping(&rs, m, m + 0x3000);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 2);
    assert_root(0, LT_ROOT_TYPE_MAPPING, 0, m, m + 0x1000);
    assert_root(1, LT_ROOT_TYPE_MAPPING, 0, m + 0x2010, m + 0x3000);
    assert_states((const uint8_t[]){R, R, R}, 3);
    assert_int_equal(via[0], LT_REACH_VIA_ROOT | 0);
    assert_int_equal(via[1], LT_REACH_VIA_ROOT | 1); /* scanned as root 1, later overwritten */
    assert_int_equal(via[2], LT_REACH_VIA_ROOT | 1);
    assert_int_equal(root_list[2].kind, 0xeeeeeeeeu); /* nothing written past max_roots */
    fake_reset();
}

/* A thread's registers: each word a root reference, no memory read for them, one root. */
static void registers(void **unused)
{
    (void)unused;
    fake_begin(3, NULL, NULL, 0, false, 8);
    const uint64_t words[4] = {0x1234, FB(1) + 8, FB(0), FB(2) + 64};
    lt_reach_registers(&rs, 99, words, 4);
    lt_reach_end(&fr);
    assert_int_equal(rs.nroots, 1);
    assert_int_equal(root_list[0].kind, LT_ROOT_TYPE_REGISTERS);
    assert_int_equal(root_list[0].tid, 99);
    assert_states((const uint8_t[]){R, P, L}, 3); /* one past the end: no reference */
    assert_int_equal(via[0], LT_REACH_VIA_ROOT | 0);
    assert_int_equal(via_addr[0], 0);
    assert_int_equal(via[1], LT_REACH_VIA_ROOT | 0);
    /* a second thread: its own root id */
    const uint64_t more[1] = {FB(2)};
    lt_reach_registers(&rs, 100, more, 1);
    assert_int_equal(rs.nroots, 2);
    assert_int_equal(root_list[1].tid, 100);
    assert_int_equal(via[2], LT_REACH_VIA_ROOT | 1);
    fake_reset();
}

/* root -> 0 -> 1 -> 2: the chain of first references, the root's id; none for lost blocks. */
static void chain(void **unused)
{
    (void)unused;
    const uint64_t g = 0x7f0000500000ull;
    fake_map(g, 0x1000);
    fake_begin(6, NULL, NULL, 0, false, 8);
    fake_put(g + 0x10, FB(0));
    fake_put(FB(0) + 8, FB(1));
    fake_put(FB(1) + 16, FB(2));
    fake_put(FB(2), FB(0));                            /* back to the first: no loop in the chain */
    fake_put(g + 0x18, FB(3) + 8);                     /* 3: possibly lost, reached all the same */
    fake_put(FB(4), FB(5));                            /* 4 lost, 5 indirectly */
    lt_reach_root_range(&fr, g, g + 0x100, 0);         /* root 0 ... */
    lt_reach_root_range(&fr, g + 0x100, g + 0x200, 5); /* ... and 5, both of g */
    lt_reach_end(&fr);
    assert_states((const uint8_t[]){R, R, R, P, L, I}, 6);
    uint32_t out[4] = {77, 77, 77, 77}, root = 1234;
    assert_int_equal(lt_reach_chain(&fr, 2, out, 4, &root), 3);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 2);
    assert_int_equal(out[3], 77);
    assert_int_equal(root, 0);
    assert_int_equal(via_addr[out[0]], g + 0x10); /* the root's word */
    assert_int_equal(via_addr[2], FB(1) + 16);
    assert_int_equal(lt_reach_chain(&fr, 0, out, 4, &root), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(lt_reach_chain(&fr, 3, out, 4, &root), 1);
    assert_int_equal(out[0], 3);
    /* max too small: the length, nothing written */
    uint32_t small[2] = {77, 77};
    assert_int_equal(lt_reach_chain(&fr, 2, small, 2, &root), 3);
    assert_int_equal(small[0], 77);
    assert_int_equal(small[1], 77);
    assert_int_equal(lt_reach_chain(&fr, 2, NULL, 0, &root), 3);
    /* not reached: 0, out and root untouched */
    root = 1234;
    assert_int_equal(lt_reach_chain(&fr, 4, out, 4, &root), 0);
    assert_int_equal(lt_reach_chain(&fr, 5, out, 4, &root), 0);
    assert_int_equal(root, 1234);
    assert_int_equal(out[0], 3);
    /* a root id other than 0 */
    fake_reset();
    fake_map(g, 0x1000);
    fake_begin(2, NULL, NULL, 0, false, 8);
    fake_put(g + 0x108, FB(1));
    lt_reach_root_range(&fr, g, g + 0x100, 0);
    lt_reach_root_range(&fr, g + 0x100, g + 0x200, 5);
    lt_reach_end(&fr);
    assert_int_equal(lt_reach_chain(&fr, 1, out, 4, &root), 1);
    assert_int_equal(root, 5);
    assert_int_equal(out[0], 1);
    assert_int_equal(lt_reach_chain(&fr, 0, out, 4, &root), 0);
    fake_reset();
}

/* ---- a damaged core's ranges at the top of the address space ---------------------------- */

static size_t read_zeros(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx, (void)addr;
    memset(buf, 0, len);
    return len;
}

static size_t read_none(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx, (void)addr, (void)buf, (void)len;
    return 0;
}

/* A range that ends in the last word of the space, readable or not, is scanned to its end
 * and no further (the loop's end once wrapped to 0 and never came); a block there is
 * counted on its first page. */
static void top_of_the_space(void **unused)
{
    (void)unused;
    make_blocks(1, NULL);
    struct lt_reach r = mark(read_zeros);
    r.bytes_scanned = 0;
    lt_reach_root_range(&r, 0xffffffffffffe000ull, 0xfffffffffffffffcull, 0);
    assert_int_equal(r.bytes_scanned, 0x1ff8);
    r.read = read_none;
    lt_reach_root_range(&r, 0xffffffffffffe000ull, 0xffffffffffffffffull, 0);
    assert_int_equal(r.bytes_scanned, 0x1ff8);

    uint64_t start = 0xfffffffffffff000ull, size = 0x2000; /* past the end */
    assert_int_equal(lt_reach_index_slots(&start, &size, 1), 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(categories),         cmocka_unit_test(zero_size_blocks),
        cmocka_unit_test(unreadable_memory),  cmocka_unit_test(random_graphs_match_the_definition),
        cmocka_unit_test(mapping_may_root),   cmocka_unit_test(mapping_stack),
        cmocka_unit_test(mapping_blocks),     cmocka_unit_test(mapping_skip),
        cmocka_unit_test(mapping_glibc_heap), cmocka_unit_test(roots_clamped),
        cmocka_unit_test(registers),          cmocka_unit_test(chain),
        cmocka_unit_test(top_of_the_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
