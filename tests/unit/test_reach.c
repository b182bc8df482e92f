/* Unit tests of the mark (preload/reach.c) on memory of this process: the hand-made cases
 * of valgrind's categories (chains, interior pointers, cycles, hidden pointers, a former
 * head joining a later structure, zero-size blocks, unreadable pages), then random graphs
 * checked against a second, slow computation on the graph's edge matrix: least fixpoints
 * for the reached blocks, valgrind's clique rule for the lost ones (which depends on the
 * order: a structure never passes through a block an earlier one claimed). */
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
        .n = count, .start = starts, .size = sizes, .read = read ? read : read_self,
        .state = state, .via = via, .via_addr = via_addr,
        .index_page = index_page, .index_first = index_first, .stack = stack,
    };
    size_t slots = lt_reach_index_slots(starts, sizes, count);
    assert_true(slots <= sizeof(index_page) / sizeof(index_page[0]));
    r.index_mask = slots - 1;
    lt_reach_begin(&r);
    lt_reach_root_range(&r, (uint64_t)roots, (uint64_t)(roots + 64), 7);
    lt_reach_end(&r);
    return r;
}

enum { L = LT_VERDICT_DEFINITELY_LOST, I = LT_VERDICT_INDIRECTLY_LOST, P = LT_VERDICT_POSSIBLY_LOST, R = LT_VERDICT_REACHABLE };

static void categories(void **unused)
{
    (void)unused;
    make_blocks(16, NULL);
    roots[0] = (uint64_t)block(0);         /* 0 -> 1 -> 2: reachable */
    block(0)[3] = (uint64_t)block(1);
    block(1)[0] = (uint64_t)block(2);
    roots[1] = (uint64_t)block(3) + 16;    /* interior: 3 possible, and 4 through it */
    block(3)[5] = (uint64_t)block(4);
    block(5)[0] = (uint64_t)block(6);      /* 5 -> 6 -> 7 unreached: 5 lost, 6, 7 indirect */
    block(6)[7] = (uint64_t)block(7) + 40;
    block(8)[1] = (uint64_t)block(9);      /* cycle 8 <-> 9: 8 (lower) lost, 9 indirect */
    block(9)[1] = (uint64_t)block(8);
    roots[2] = (uint64_t)block(10) ^ (1ull << 40); /* hidden: 10 lost */
    roots[3] = (uint64_t)block(11) + 64;   /* one past the end: 11 lost */
    block(12)[2] = (uint64_t)block(13);    /* 12 heads 13, then 14 claims 12: 14 lost */
    block(14)[0] = (uint64_t)block(12);
    roots[4] = (uint64_t)block(15) + 8;    /* interior, then a definite start pointer */
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
    case 0:
        *kind = 0;
        return (uint64_t)block(to) ^ (1ull << 40); /* hidden */
    case 1:
    case 2:
        if (sizes[to] > 8) {
            *kind = 2;
            return starts[to] + 8 * (1 + next_random() % (sizes[to] / 8 - 1));
        }
        /* fallthrough */
    default:
        *kind = 1;
        return starts[to];
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
                fail_msg("round %d, block %zu of %zu: state %u, want %u", round, i, n,
                         state[i], want[i]);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(categories),
        cmocka_unit_test(zero_size_blocks),
        cmocka_unit_test(unreadable_memory),
        cmocka_unit_test(random_graphs_match_the_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
