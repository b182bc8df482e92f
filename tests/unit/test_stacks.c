/* Unit tests of the stack table: deduplication, distinctness, growth past several index
 * resizes, and concurrent interning from several threads agreeing on ids. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stacks.h"

static int setup(void **state)
{
    (void)state;
    static int done;
    if (!done) {
        assert_int_equal(lt_stacks_init(), 0);
        done = 1;
    }
    return 0;
}

static void fill(uint64_t *frames, unsigned depth, uint64_t seed)
{
    for (unsigned i = 0; i < depth; i++)
        frames[i] = 0x400000 + seed * 4096 + i * 17;
}

static void empty_stack_is_none(void **state)
{
    (void)state;
    assert_int_equal(lt_stacks_intern(NULL, 0), LT_STACK_NONE);
    unsigned depth = 99;
    assert_non_null(lt_stacks_get(LT_STACK_NONE, &depth));
    assert_int_equal(depth, 0);
}

static void same_frames_same_id(void **state)
{
    (void)state;
    uint64_t a[8], b[8];
    fill(a, 8, 1);
    memcpy(b, a, sizeof(a));
    uint32_t id = lt_stacks_intern(a, 8);
    assert_int_not_equal(id, LT_STACK_NONE);
    assert_int_equal(lt_stacks_intern(b, 8), id);
    unsigned depth;
    const uint64_t *got = lt_stacks_get(id, &depth);
    assert_int_equal(depth, 8);
    assert_memory_equal(got, a, sizeof(a));
}

static void prefixes_and_changes_differ(void **state)
{
    (void)state;
    uint64_t a[8];
    fill(a, 8, 2);
    uint32_t full = lt_stacks_intern(a, 8);
    uint32_t prefix = lt_stacks_intern(a, 7);
    assert_int_not_equal(full, prefix);
    a[3]++;
    assert_int_not_equal(lt_stacks_intern(a, 8), full);
    assert_null(lt_stacks_get(lt_stacks_count() + 5, &(unsigned){0}));
}

static void many_stacks_survive_growth(void **state)
{
    (void)state;
    enum { N = 50000 };
    static uint32_t ids[N];
    uint64_t f[12];
    for (unsigned i = 0; i < N; i++) {
        fill(f, 1 + i % 12, 1000 + i);
        ids[i] = lt_stacks_intern(f, 1 + i % 12);
        assert_int_not_equal(ids[i], LT_STACK_NONE);
    }
    for (unsigned i = 0; i < N; i++) {
        fill(f, 1 + i % 12, 1000 + i);
        assert_int_equal(lt_stacks_intern(f, 1 + i % 12), ids[i]);
        unsigned depth;
        const uint64_t *got = lt_stacks_get(ids[i], &depth);
        assert_int_equal(depth, 1 + i % 12);
        assert_memory_equal(got, f, depth * sizeof(uint64_t));
    }
}

#define THREADS 4
#define PER_THREAD 20000
static uint32_t seen[THREADS][PER_THREAD];

static void *intern_worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    uint64_t f[6];
    for (unsigned i = 0; i < PER_THREAD; i++) {
        unsigned k = (i * 7 + t * 13) % PER_THREAD; /* same stacks, different orders */
        fill(f, 6, 900000 + k);
        seen[t][k] = lt_stacks_intern(f, 6);
    }
    return NULL;
}

static void concurrent_interning_agrees(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    uint32_t before = lt_stacks_count();
    for (uintptr_t t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, intern_worker, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (unsigned k = 0; k < PER_THREAD; k++)
        for (int t = 1; t < THREADS; t++)
            assert_int_equal(seen[t][k], seen[0][k]);
    assert_int_equal(lt_stacks_count() - before, PER_THREAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(empty_stack_is_none, setup),
        cmocka_unit_test_setup(same_frames_same_id, setup),
        cmocka_unit_test_setup(prefixes_and_changes_differ, setup),
        cmocka_unit_test_setup(many_stacks_survive_growth, setup),
        cmocka_unit_test_setup(concurrent_interning_agrees, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
