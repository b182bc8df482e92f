/* The walker's memo of the last walk: on random call trees (mutual recursion, a varying
 * path at every level, loops that call again at the same depth), every stack captured
 * through the memo equals the one a plain walk captures at the same point, and most
 * captures do end in the memo. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"
#include "unwind.h"

#define NOINLINE __attribute__((noinline))

static uint64_t stack_lo, stack_hi;
static struct lt_unwind_memo memo;
static unsigned captures, mismatches;
static unsigned rng = 12345;

static unsigned next_random(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 16;
}

/* As a malloc hook: its own return address and where that is stored. */
static NOINLINE void capture(void)
{
    const void *caller = __builtin_return_address(0);
    const uint64_t *ra_slot =
        (const uint64_t *)(const void *)((const uintptr_t *)__builtin_frame_address(0) + 1);
    uint64_t with[LT_MAX_DEPTH], with_slots[LT_MAX_DEPTH], plain[LT_MAX_DEPTH],
        plain_slots[LT_MAX_DEPTH];
    unsigned a = lt_unwind_capture_slots(with, with_slots, lt_opt.depth, caller, ra_slot,
                                         stack_lo, stack_hi, &memo);
    unsigned b = lt_unwind_capture_slots(plain, plain_slots, lt_opt.depth, caller, ra_slot,
                                         stack_lo, stack_hi, NULL);
    captures++;
    if (a != b || memcmp(with, plain, a * sizeof(uint64_t)) ||
        memcmp(with_slots, plain_slots, a * sizeof(uint64_t)))
        mismatches++;
    __asm__ __volatile__("" ::: "memory");
}

static NOINLINE unsigned tree_b(unsigned depth);

static NOINLINE unsigned tree_a(unsigned depth)
{
    unsigned sum = 0;
    volatile char pad[40]; /* frames of different sizes */
    pad[0] = (char)depth;
    for (unsigned i = 0, n = next_random() % 3; i < n; i++) {
        if (next_random() % 4 == 0)
            capture();
        if (depth > 0)
            sum += next_random() % 2 ? tree_a(depth - 1) : tree_b(depth - 1);
    }
    return sum + pad[0];
}

static NOINLINE unsigned tree_b(unsigned depth)
{
    unsigned sum = 1;
    if (next_random() % 3 == 0)
        capture();
    if (depth > 0)
        sum += tree_a(depth - 1);
    if (next_random() % 5 == 0)
        capture();
    return sum;
}

static void memo_walks_equal_plain_walks(void **state)
{
    (void)state;
    for (unsigned depth_limit = 4; depth_limit <= LT_MAX_DEPTH; depth_limit *= 2) {
        lt_opt.depth = depth_limit;
        memset(&memo, 0, sizeof(memo));
        captures = mismatches = 0;
        for (unsigned round = 0; round < 200; round++)
            tree_a(6 + round % 40);
        print_message("depth %u: %u captures, %u through the memo, %u different\n", depth_limit,
                      captures, (unsigned)memo.spliced, mismatches);
        assert_int_equal(mismatches, 0);
        assert_true(captures > 1000);
        assert_true(memo.spliced > captures / 2);
    }
}

int main(void)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) || pthread_attr_getstack(&attr, &addr, &size))
        return 1;
    pthread_attr_destroy(&attr);
    stack_lo = (uintptr_t)addr;
    stack_hi = stack_lo + size;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memo_walks_equal_plain_walks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
