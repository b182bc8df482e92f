/* Unit tests of the validated stack cache on a fake stack: a hit needs every recorded return
 * address still in its slot; a changed slot is a miss; chains that share a key coexist; only
 * stacks entirely inside the thread's stack, in order, are stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"
#include "stackcache.h"

static uint64_t stack[4096]; /* a fake thread stack: slots are indexes into it */

/* The fake chains' frames are 8 words each (chain below), except at the odd return
 * addresses, whose frame size is not fixed. */
static uint32_t frame_size(uint64_t return_address)
{
    return return_address & 1 ? 0 : 8 * sizeof(uint64_t);
}
static struct lt_stackcache *cache;

static int setup(void **state)
{
    (void)state;
    lt_opt.depth = 32;
    cache = lt_stackcache_new((uintptr_t)stack, (uintptr_t)(stack + 4096), LT_STACKCACHE_SETS_MIN,
                              frame_size);
    assert_non_null(cache);
    memset(stack, 0, sizeof(stack));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lt_stackcache_free(cache);
    return 0;
}

/* Builds a chain of `depth` frames starting at stack[at], 8 words apart, return addresses
 * base, base+1, ...; frame 0's is the caller. */
static void chain(unsigned at, unsigned depth, uint64_t base, uint64_t *frames, uint64_t *slots)
{
    for (unsigned i = 0; i < depth; i++) {
        slots[i] = (uintptr_t)&stack[at + 8 * i];
        frames[i] = base + i;
        stack[at + 8 * i] = frames[i];
    }
}

static void hit_needs_every_slot(void **state)
{
    (void)state;
    uint64_t frames[10], slots[10];
    chain(100, 10, 0x401000, frames, slots);
    const uint64_t *slot0 = (const uint64_t *)(uintptr_t)slots[0];
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
    lt_stackcache_store(cache, frames[0], frames, slots, 10, 77);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), 77);
    stack[100 + 8 * 6] = 0xdead; /* an outer frame returned and something else is there */
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
    stack[100 + 8 * 6] = frames[6];
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), 77);
    /* another caller, or the same caller deeper in the stack, is another key */
    assert_int_equal(lt_stackcache_find(cache, frames[0] + 1, slot0), LT_STACKCACHE_MISS);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0 - 1), LT_STACKCACHE_MISS);
}

static void chains_sharing_a_key_coexist(void **state)
{
    (void)state;
    /* Same caller and slot0, outer frames differ: both stay cached (set associativity). */
    uint64_t a[6], b[6], sa[6], sb[6];
    chain(1000, 6, 0x500000, a, sa);
    lt_stackcache_store(cache, a[0], a, sa, 6, 1);
    chain(1000, 6, 0x500000, b, sb);
    b[3] = 0x600003;
    stack[1000 + 8 * 3] = b[3];
    lt_stackcache_store(cache, b[0], b, sb, 6, 2);
    const uint64_t *slot0 = (const uint64_t *)(uintptr_t)sa[0];
    assert_int_equal(lt_stackcache_find(cache, a[0], slot0), 2);
    stack[1000 + 8 * 3] = a[3];
    assert_int_equal(lt_stackcache_find(cache, a[0], slot0), 1);
}

static void only_sane_stacks_are_stored(void **state)
{
    (void)state;
    uint64_t frames[4], slots[4];
    chain(2000, 4, 0x700000, frames, slots);
    const uint64_t *slot0 = (const uint64_t *)(uintptr_t)slots[0];
    uint64_t saved = slots[2];
    slots[2] = (uintptr_t)stack + 5000 * sizeof(uintptr_t); /* outside the thread's stack */
    lt_stackcache_store(cache, frames[0], frames, slots, 4, 9);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
    slots[2] = slots[1]; /* not above the previous slot */
    lt_stackcache_store(cache, frames[0], frames, slots, 4, 9);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
    slots[2] = saved;
    stack[2000 + 8 * 2] = 0; /* the slot does not hold what the unwinder said */
    lt_stackcache_store(cache, frames[0], frames, slots, 4, 9);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
    stack[2000 + 8 * 2] = frames[2];
    lt_stackcache_store(cache, frames[0] + 1, frames, slots, 4, 9); /* frame 0 != caller */
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
    lt_stackcache_store(cache, frames[0], frames, slots, 4, 9);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), 9);
}

static void replacement_keeps_working(void **state)
{
    (void)state;
    /* Many more keys than entries: every lookup right after its store hits, none is wrong. */
    for (unsigned k = 0; k < 500; k++) {
        uint64_t frames[5], slots[5];
        chain(3000 + (k % 50), 5, 0x800000 + 16 * k, frames, slots);
        lt_stackcache_store(cache, frames[0], frames, slots, 5, 1000 + k);
        uint32_t id = lt_stackcache_find(cache, frames[0],
                                         (const uint64_t *)(uintptr_t)slots[0]);
        assert_int_equal(id, 1000 + k);
    }
}

static void a_wrappers_callers_do_not_compete(void **state)
{
    (void)state;
    /* One allocation wrapper (the same caller at the same depth) called from 40 places: with
     * frame 1 choosing the set, all 40 chains stay cached, not just one set's 4 ways. */
    enum { CALLERS = 40 };
    struct lt_stackcache *big = lt_stackcache_new((uintptr_t)stack, (uintptr_t)(stack + 4096),
                                                  LT_STACKCACHE_SETS_MAX, frame_size);
    uint64_t frames[CALLERS][6], slots[6];
    for (unsigned k = 0; k < CALLERS; k++) {
        chain(1500, 6, 0x900000, frames[k], slots);
        frames[k][1] = 0xa00000 + 16 * k;
        stack[1500 + 8] = frames[k][1];
        lt_stackcache_store(big, frames[k][0], frames[k], slots, 6, 100 + k);
    }
    const uint64_t *slot0 = (const uint64_t *)(uintptr_t)slots[0];
    unsigned hits = 0;
    for (unsigned k = 0; k < CALLERS; k++) {
        stack[1500 + 8] = frames[k][1];
        uint32_t id = lt_stackcache_find(big, frames[k][0], slot0);
        assert_true(id == 100 + k || id == LT_STACKCACHE_MISS); /* never another's */
        hits += id == 100 + k;
    }
    assert_int_equal(hits, CALLERS); /* keyed by (caller, slot0) alone, 4 would hit */
    lt_stackcache_free(big);
}

static void a_caller_without_a_fixed_frame_still_hits(void **state)
{
    (void)state;
    uint64_t frames[7], slots[7];
    chain(2500, 7, 0xd00001, frames, slots); /* odd: frame size not fixed */
    const uint64_t *slot0 = (const uint64_t *)(uintptr_t)slots[0];
    lt_stackcache_store(cache, frames[0], frames, slots, 7, 55);
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), 55);
    stack[2500 + 8 * 5] = 0xbad;
    assert_int_equal(lt_stackcache_find(cache, frames[0], slot0), LT_STACKCACHE_MISS);
}

static void a_crowded_cache_asks_to_grow(void **state)
{
    (void)state;
    /* As the tracker uses it (a store after each miss), cycling through many more stacks
     * than 64 entries makes the cache ask for twice its sets within a window of stores; a
     * thread whose stacks fit never does. */
    uint32_t wanted = cache->sets;
    for (unsigned n = 0; n < 2 * LT_STACKCACHE_WINDOW && wanted == cache->sets; n++) {
        uint64_t frames[5], slots[5];
        unsigned k = n % 512;
        chain(3000 + (k % 50), 5, 0xb00000 + 16 * k, frames, slots);
        if (lt_stackcache_find(cache, frames[0], (const uint64_t *)(uintptr_t)slots[0]) ==
            LT_STACKCACHE_MISS)
            wanted = lt_stackcache_store(cache, frames[0], frames, slots, 5, k);
    }
    assert_int_equal(wanted, 2 * LT_STACKCACHE_SETS_MIN);
    struct lt_stackcache *small = lt_stackcache_new((uintptr_t)stack, (uintptr_t)(stack + 4096),
                                                    LT_STACKCACHE_SETS_MIN, frame_size);
    unsigned stores = 0;
    for (unsigned n = 0; n < 100 * LT_STACKCACHE_WINDOW; n++) {
        uint64_t frames[5], slots[5];
        unsigned k = n % 8;
        chain(3000 + 64 * k, 5, 0xc00000 + 16 * k, frames, slots);
        if (lt_stackcache_find(small, frames[0], (const uint64_t *)(uintptr_t)slots[0]) ==
            LT_STACKCACHE_MISS) {
            stores++;
            assert_int_equal(lt_stackcache_store(small, frames[0], frames, slots, 5, k),
                             LT_STACKCACHE_SETS_MIN);
        }
    }
    assert_true(stores <= 16); /* the 8 stacks stay cached */
    lt_stackcache_free(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_needs_every_slot),
        cmocka_unit_test(chains_sharing_a_key_coexist),
        cmocka_unit_test(only_sane_stacks_are_stored),
        cmocka_unit_test(replacement_keeps_working),
        cmocka_unit_test(a_wrappers_callers_do_not_compete),
        cmocka_unit_test(a_caller_without_a_fixed_frame_still_hits),
        cmocka_unit_test(a_crowded_cache_asks_to_grow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
