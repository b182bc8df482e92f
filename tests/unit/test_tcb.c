/* Unit tests of tcb.c, each thread's struct pthread found without symbols. Over this very
 * process as a live target (target_live.c over its own pid: process_vm_readv of oneself needs
 * no ptrace permission, root or not, in a container or not): threads started here with known
 * start routines, blocked in a read so that /proc gives their stack pointers; each one's
 * struct pthread must be its pthread_self() and its start routine the function given, and a
 * thread whose stack pointer is unknown (as one on a CPU) must be found through the tid in
 * its struct pthread. Over a target made in memory (scan_fixture.h): struct pthreads whose
 * tid and start routine sit at offsets no glibc uses, to show that no offset is taken on
 * trust; a stack without one; and no start routine claimed without a majority. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scan_fixture.h"
#include "target.h"
#include "target_live.h"
#include "tcb.h"

/* ---- live: this process ------------------------------------------------------------------ */

#ifdef __clang__
#define NOT_FOLDED __attribute__((noinline))
#else
#define NOT_FOLDED __attribute__((noipa)) /* no inlining, cloning or merging of the three */
#endif

struct worker {
    pthread_t thread;
    pid_t tid;
    uint64_t self;
    void *(*start)(void *);
    int ready;
};

static int gate[2]; /* the workers block reading it until the test is done */

static void *work(struct worker *w, int which)
{
    w->tid = gettid();
    w->self = (uintptr_t)pthread_self();
    __atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
    char c;
    while (read(gate[0], &c, 1) < 0) {
    }
    return (void *)(intptr_t)which;
}

NOT_FOLDED static void *start_alpha(void *arg)
{
    return work(arg, 1);
}
NOT_FOLDED static void *start_beta(void *arg)
{
    return work(arg, 2);
}
NOT_FOLDED static void *start_gamma(void *arg)
{
    return work(arg, 3);
}

/* Under a sanitizer pthread_create is its interceptor, which hands glibc a start routine of
 * its own (asan_thread_start, __tsan_thread_start_func) that calls the one given: then glibc
 * keeps that one, the same for every thread, in the sanitizer's runtime. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define INTERCEPTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define INTERCEPTED 1
#endif
#endif

static struct worker workers[3] = {
    {.start = start_alpha}, {.start = start_beta}, {.start = start_gamma}};

static int start_workers(void **state)
{
    (void)state;
    if (pipe(gate) != 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (pthread_create(&workers[i].thread, NULL, workers[i].start, &workers[i]) != 0)
            return -1;
    for (int i = 0; i < 3; i++)
        while (!__atomic_load_n(&workers[i].ready, __ATOMIC_ACQUIRE))
            usleep(1000);
    return 0;
}

static int stop_workers(void **state)
{
    (void)state;
    if (write(gate[1], "xxx", 3) != 3)
        return -1;
    for (int i = 0; i < 3; i++)
        pthread_join(workers[i].thread, NULL);
    close(gate[0]);
    close(gate[1]);
    return 0;
}

static struct target_thread *thread_of(struct target *t, pid_t tid)
{
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].tid == tid)
            return &t->threads[i];
    return NULL;
}

/* This process as a target once every worker sits in its read (a stack pointer in /proc). */
static struct target *open_self(void)
{
    for (int attempt = 0; attempt < 500; attempt++) {
        struct target *t;
        struct lts_error err;
        if (target_live_open(getpid(), &t, &err) < 0) {
            /* no /proc, or one that hides this process's own files: nothing to test with */
            print_message("cannot read this process as a target: %s\n", err.message);
            skip();
        }
        bool all = true;
        for (int i = 0; i < 3; i++) {
            struct target_thread *th = thread_of(t, workers[i].tid);
            assert_non_null(th);
            all &= th->sp != 0;
        }
        if (all)
            return t;
        target_close(t);
        usleep(10000);
    }
    fail_msg("the workers never showed a stack pointer in /proc");
    return NULL;
}

/* The start routine found for a worker is the one glibc was given for it. */
static void assert_started(struct target *t, const struct target_thread *th, int worker)
{
#ifdef INTERCEPTED
    (void)worker;
    const struct target_thread *first = thread_of(t, workers[0].tid);
    assert_int_not_equal(th->start_routine, 0);
    assert_int_equal(th->start_routine, first->start_routine);
    const struct target_map *m = target_map_at(t, th->start_routine);
    assert_true(m && m->perms[2] == 'x' && m->path && strstr(m->path, "san"));
#else
    (void)t;
    assert_int_equal(th->start_routine, (uintptr_t)workers[worker].start);
#endif
}

static void test_live_start_routines(void **state)
{
    (void)state;
    struct target *t = open_self();
    tcb_read(t);
    for (int i = 0; i < 3; i++) {
        const struct target_thread *th = thread_of(t, workers[i].tid);
        assert_int_equal(th->tcb, workers[i].self); /* glibc's pthread_t is its struct */
        assert_started(t, th, i);
        assert_int_equal(t->maps[th->map].kind, TARGET_MAP_THREAD_STACK);
    }
    /* the main thread's struct pthread is in ld.so's TLS block, on no stack */
    assert_int_equal(t->threads[0].tid, getpid());
    assert_int_equal(t->threads[0].tcb, 0);
    assert_int_equal(t->threads[0].start_routine, 0);
    target_close(t);
}

/* A worker whose stack pointer /proc did not give (as for a thread on a CPU): its stack is
 * the one whose struct pthread holds its tid. */
static void test_live_stack_by_tid(void **state)
{
    (void)state;
    struct target *t = open_self();
    struct target_thread *th = thread_of(t, workers[1].tid);
    size_t map = th->map;
    assert_int_not_equal(map, SIZE_MAX);
    th->sp = 0;
    th->map = SIZE_MAX;
    th->stack_reserved = 0;
    t->maps[map].kind = TARGET_MAP_ANON;
    t->maps[map].tid = 0;
    tcb_read(t);
    assert_int_equal(th->map, map);
    assert_int_equal(t->maps[map].kind, TARGET_MAP_THREAD_STACK);
    assert_int_equal(t->maps[map].tid, workers[1].tid);
    assert_int_equal(th->stack_reserved, target_stack_reserved(t, &t->maps[map]));
    assert_true(th->stack_reserved > t->maps[map].end - t->maps[map].start); /* its guard */
    assert_int_equal(th->tcb, workers[1].self);
    assert_started(t, th, 1);
    target_close(t);
}

/* ---- made in memory: offsets found, not assumed ------------------------------------------- */

#define CODE 0x400000ull
#define STACK(i) (0x7f0000000000ull + (uint64_t)(i)*0x100000)
#define STACK_SIZE 0x40000ull
#define PD(i) (STACK(i) + 0x1000 + STACK_SIZE - 0x900)
#define TID_AT 0x134u   /* glibc 2.36 has it at 0x2d0 */
#define START_AT 0x7a8u /* and the start routine at 0x638 */

/* Four threads, each stack with its guard below; struct pthreads on the first three (the
 * third's thread on a CPU, no stack pointer), none on the fourth. `majority`: three of them
 * hold a code address at START_AT, else only one does. The first also holds one at 0x300. */
static struct target *made(bool majority)
{
    struct target *t = fixture_target(8);
    t->pid = 200;
    fixture_map(t, CODE, 0x100000, "r-xp", "/opt/app/server", TARGET_MAP_FILE, false);
    for (int i = 0; i < 4; i++) {
        fixture_map(t, STACK(i), 0x1000, "---p", NULL, TARGET_MAP_GUARD, false);
        fixture_map(t, STACK(i) + 0x1000, STACK_SIZE, "rw-p", NULL, TARGET_MAP_ANON, true);
    }
    fixture_sort(t);
    for (int i = 0; i < 3; i++) {
        uint64_t pd = PD(i);
        fixture_put(t, pd, pd);      /* tcbhead_t.tcb */
        fixture_put(t, pd + 16, pd); /* tcbhead_t.self */
        int32_t tid = 201 + i;
        memcpy(fixture_at(t, pd + TID_AT), &tid, 4);
        if (majority || i == 0)
            fixture_put(t, pd + START_AT, CODE + 0x1000 + 0x100 * (uint64_t)i);
    }
    fixture_put(t, PD(0) + 0x300, CODE + 0x2000);
    for (int i = 0; i < 4; i++)
        fixture_thread(t, 201 + i, i == 2 ? 0 : STACK(i) + 0x1000 + STACK_SIZE / 2);
    target_place_stacks(t);
    return t;
}

static void test_made_offsets(void **state)
{
    (void)state;
    struct target *t = made(true);
    tcb_read(t);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t->threads[i].tcb, PD(i));
        assert_int_equal(t->threads[i].start_routine, CODE + 0x1000 + 0x100 * (uint64_t)i);
    }
    /* the thread without a stack pointer, placed by the tid at the offset found */
    assert_int_equal(t->maps[t->threads[2].map].start, STACK(2) + 0x1000);
    assert_int_equal(t->maps[t->threads[2].map].tid, 203);
    assert_int_equal(t->threads[2].stack_reserved, STACK_SIZE + 0x1000);
    assert_int_equal(t->threads[3].tcb, 0); /* nothing on its stack points at itself */
    assert_int_equal(t->threads[3].start_routine, 0);
    target_close(t);

    /* one thread of three with a code address: no offset wins, no routine is claimed */
    t = made(false);
    tcb_read(t);
    for (int i = 0; i < 4; i++)
        assert_int_equal(t->threads[i].start_routine, 0);
    assert_int_equal(t->threads[0].tcb, PD(0));
    target_close(t);
}

int main(void)
{
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_live_start_routines),
        cmocka_unit_test(test_live_stack_by_tid),
    };
    const struct CMUnitTest in_memory[] = {
        cmocka_unit_test(test_made_offsets),
    };
    int failed = cmocka_run_group_tests_name("live", live, start_workers, stop_workers);
    return failed + cmocka_run_group_tests_name("in memory", in_memory, NULL, NULL);
}
