/* Unit tests of target.c, what a target is whichever back end found it: its mappings pushed
 * in any order, sorted, and looked up (each end, the gaps, past both ends, none at all); the
 * address space by pointer width; reads through the back end's callback (a word of either
 * width, a short read, a target that is gone or has no reader); each thread's stack placed
 * from its stack pointer with the guard below it; and a target's life: target_new,
 * target_hand_out either way, target_close releasing the back end and its descriptors, and
 * target_read_fd. The back end is scan_fixture.h's, memory the test fills. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "scan_fixture.h"
#include "target.h"

/* 100 mappings pushed from the highest down (past the first growth of the array), with a gap
 * after every third: after sorting, each found at its start and its last byte, none at its
 * end when a gap follows, none before the first or past the last. */
static void test_maps(void **state)
{
    (void)state;
    struct target *t = fixture_target(8);
    assert_non_null(t);
    assert_null(target_map_at(t, 0x1000)); /* no mappings at all */
    uint64_t start[100], end[100];
    uint64_t at = 0x400000;
    for (int i = 0; i < 100; i++) {
        start[i] = at;
        end[i] = at + 0x1000 * (uint64_t)(1 + i % 4);
        at = end[i] + (i % 3 == 2 ? 0x3000 : 0);
    }
    for (int i = 99; i >= 0; i--)
        fixture_map(t, start[i], end[i] - start[i], "rw-p", NULL, TARGET_MAP_ANON, false);
    assert_int_equal(t->nmaps, 100);
    assert_int_equal(t->maps[0].start, start[99]); /* as pushed, until sorted */
    target_sort_maps(t);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(t->maps[i].start, start[i]);
        assert_ptr_equal(target_map_at(t, start[i]), &t->maps[i]);
        assert_ptr_equal(target_map_at(t, end[i] - 1), &t->maps[i]);
        if (i % 3 == 2 && i < 99)
            assert_null(target_map_at(t, end[i])); /* the end is not in it */
        else if (i < 99)
            assert_ptr_equal(target_map_at(t, end[i]), &t->maps[i + 1]);
    }
    assert_null(target_map_at(t, start[0] - 1));
    assert_null(target_map_at(t, end[99]));
    assert_null(target_map_at(t, UINT64_MAX));
    target_free_maps(t);
    assert_int_equal(t->nmaps, 0);
    assert_null(t->maps);
    target_close(t);
}

/* A back end whose reads are counted and cut short past `limit`. */
static size_t calls;
static size_t short_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    (void)t;
    calls++;
    const uint64_t limit = 0x2004;
    size_t n = addr >= limit ? 0 : addr + len > limit ? (size_t)(limit - addr) : len;
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(addr + i); /* each byte: its address's low byte */
    return n;
}

static void test_read_and_width(void **state)
{
    (void)state;
    assert_int_equal(target_address_space(8), 1ull << 47);
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    bool wide_kernel = !strcmp(u.machine, "x86_64") || !strcmp(u.machine, "aarch64");
    assert_int_equal(target_address_space(4), wide_kernel ? 4ull << 30 : 3ull << 30);

    struct target *t = target_new("reads");
    assert_non_null(t);
    uint8_t buf[16];
    assert_int_equal(target_read(t, 0x2000, buf, 4), 0); /* no back end yet: nothing */
    t->priv->read = short_read;
    t->pointer_bytes = 8;
    uint64_t w = 0;
    assert_true(target_read_word(t, 0x1ff8, &w));
    assert_int_equal(w, 0xfffefdfcfbfaf9f8ull);
    assert_false(target_read_word(t, 0x2000, &w)); /* 4 of 8 bytes: not a word */
    t->pointer_bytes = 4;
    w = ~0ull;
    assert_true(target_read_word(t, 0x2000, &w)); /* zero-extended */
    assert_int_equal(w, 0x03020100u);
    assert_false(target_read_word(t, 0x2002, &w));
    assert_int_equal(target_read(t, 0x2001, buf, sizeof(buf)), 3); /* as far as it goes */
    assert_int_equal(buf[0], 0x01);
    size_t before = calls;
    t->gone = true; /* a process that exited: no more reads reach the back end */
    assert_int_equal(target_read(t, 0x1000, buf, 4), 0);
    assert_false(target_read_word(t, 0x1000, &w));
    assert_int_equal(calls, before);
    target_close(t);
}

/* Stacks: a thread's stack pointer in an anonymous mapping with an inaccessible guard just
 * below (a pthread's), the main thread on a CPU (no stack pointer) given [stack], a guard
 * kept read-only by gcore, a writable mapping below that is no guard, a stack pointer in no
 * mapping. */
static void test_stacks(void **state)
{
    (void)state;
    struct target *t = fixture_target(8);
    t->pid = 500;
    fixture_map(t, 0x7f0000000000, 0x1000, "---p", NULL, TARGET_MAP_GUARD, false);
    fixture_map(t, 0x7f0000001000, 0x800000, "rw-p", NULL, TARGET_MAP_ANON, false);
    fixture_map(t, 0x7f1000000000, 0x1000, "r--p", NULL, TARGET_MAP_ANON, false); /* gcore */
    fixture_map(t, 0x7f1000001000, 0x100000, "rw-p", NULL, TARGET_MAP_ANON, false);
    fixture_map(t, 0x7f2000000000, 0x1000, "rw-p", NULL, TARGET_MAP_ANON, false);
    fixture_map(t, 0x7f2000001000, 0x20000, "rw-p", NULL, TARGET_MAP_ANON, false);
    fixture_map(t, 0x7ffffffde000, 0x21000, "rw-p", "[stack]", TARGET_MAP_STACK, false);
    fixture_map(t, 0x7ffffffdd000, 0x1000, "---p", NULL, TARGET_MAP_GUARD, false);
    fixture_sort(t);
    fixture_thread(t, 500, 0);              /* main, on a CPU */
    fixture_thread(t, 501, 0x7f0000700000); /* in the 8 MiB stack */
    fixture_thread(t, 502, 0x7f1000080000); /* gcore's read-only guard below */
    fixture_thread(t, 503, 0x7f2000010000); /* writable below: no guard */
    fixture_thread(t, 504, 0x100);          /* in nothing */
    target_place_stacks(t);
    const struct target_thread *th = t->threads;
    assert_int_equal(t->maps[th[0].map].start, 0x7ffffffde000);
    assert_int_equal(t->maps[th[0].map].kind, TARGET_MAP_STACK);
    assert_int_equal(th[0].stack_reserved, 0x21000); /* the main stack: no guard counted */
    assert_int_equal(t->maps[th[1].map].start, 0x7f0000001000);
    assert_int_equal(t->maps[th[1].map].kind, TARGET_MAP_THREAD_STACK);
    assert_int_equal(t->maps[th[1].map].tid, 501);
    assert_int_equal(th[1].stack_reserved, 0x801000);
    assert_int_equal(th[2].stack_reserved, 0x101000);
    assert_int_equal(th[3].stack_reserved, 0x20000);
    assert_int_equal(t->maps[th[3].map].tid, 503);
    assert_int_equal(th[4].map, SIZE_MAX);
    assert_int_equal(th[4].stack_reserved, 0);
    assert_int_equal(t->maps[0].tid, 0); /* the guard is not the stack */
    target_close(t);
}

static int released;
static void count_release(struct target *t)
{
    (void)t;
    released++;
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* target_new: no descriptors yet; target_hand_out lets a target go when its back end failed
 * (release and descriptors included), hands it out otherwise; target_read_fd reads a file
 * as an elfhdr_read_fn. */
static void test_life(void **state)
{
    (void)state;
    struct target *t = target_new("pid 7");
    assert_non_null(t);
    assert_string_equal(t->source, "pid 7");
    assert_int_equal(t->priv->mem_fd, -1);
    assert_int_equal(t->priv->pagemap_fd, -1);
    assert_int_equal(t->priv->core_fd, -1);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    t->priv->mem_fd = fds[0];
    t->priv->core_fd = fds[1];
    t->priv->release = count_release;
    struct target sentinel, *out = &sentinel; /* untouched on failure */
    released = 0;
    assert_int_equal(target_hand_out(t, -1, &out), -1);
    assert_ptr_equal(out, &sentinel);
    assert_int_equal(released, 1);
    assert_false(fd_open(fds[0]));
    assert_false(fd_open(fds[1]));

    t = target_new("pid 8");
    assert_int_equal(target_hand_out(t, 0, &out), 0);
    assert_ptr_equal(out, t);
    target_close(out);
    target_close(NULL);

    char path[] = "/tmp/leaktag-target.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    char buf[8] = {0};
    assert_int_equal(target_read_fd(&fd, 6, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "6789", 4);
    assert_int_equal(target_read_fd(&fd, 10, buf, sizeof(buf)), 0);
    close(fd);
    assert_int_equal(target_read_fd(&fd, 0, buf, sizeof(buf)), 0); /* an error reads nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_read_and_width),
        cmocka_unit_test(test_stacks),
        cmocka_unit_test(test_life),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
