/* Unit tests of backend.c, the real functions and the bootstrap scratch. This program
 * defines malloc, calloc, realloc, memalign and free itself, as the shim does, so "the next
 * malloc" is libc's and not the first one found. The cases run in order. Before
 * lt_backend_init: untracked allocations come from the scratch arena, aligned, zeroed for
 * calloc, their sizes known, never overlapping when threads take them at once; a failure is
 * NULL and ENOMEM, as malloc(3) says, and an exhausted arena says so once; an alignment
 * above 64 as asked. After it: lt_real.* are libc's own functions (dlsym of libc.so.6
 * itself), not this program's; versions asked for are honoured; untracked allocations come
 * from libc, while scratch blocks stay known as such, are copied out whole by realloc, and
 * never reach libc's free ("never mix the two allocators"); lt_atfork's handlers run around
 * fork. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* Under ASan the instrumented code keeps other frames and calls through the sanitizer's own
 * malloc: the cases that compare with uninstrumented code say so and skip there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

#include "backend.h"

/* ---- this program's allocator, ahead of libc's as the shim's is ------------------------- */

/* Exported (default visibility, as the shim's LT_EXPORT): the loader binds every module's
 * malloc to these, libc's own calls included. */
#define EXPORTED __attribute__((visibility("default")))

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

EXPORTED void *malloc(size_t size)
{
    return __libc_malloc(size);
}

EXPORTED void *calloc(size_t n, size_t size)
{
    return __libc_calloc(n, size);
}

EXPORTED void *realloc(void *p, size_t size)
{
    return __libc_realloc(p, size);
}

EXPORTED void *memalign(size_t align, size_t size)
{
    return __libc_memalign(align, size);
}

EXPORTED void free(void *p)
{
    __libc_free(p);
}

/* ---- before lt_backend_init ---------------------------------------------------------------- */

/* Threads taking scratch blocks at once: each its own bytes. */
#define TAKERS 4
#define TAKES 100

struct taken {
    unsigned char *p[TAKES];
    size_t size[TAKES];
    unsigned char mark;
};

static void *take(void *arg)
{
    struct taken *t = arg;
    for (int i = 0; i < TAKES; i++) {
        t->size[i] = 1 + (size_t)(i * 37 + t->mark) % 160;
        t->p[i] = lt_scratch_alloc(t->size[i], i % 3 ? 16 : 64);
        if (t->p[i])
            memset(t->p[i], t->mark, t->size[i]);
    }
    return NULL;
}

static void takers_at_once(void)
{
    static struct taken t[TAKERS];
    pthread_t th[TAKERS];
    for (int k = 0; k < TAKERS; k++) {
        t[k].mark = (unsigned char)(0x41 + k);
        assert_int_equal(pthread_create(&th[k], NULL, take, &t[k]), 0);
    }
    for (int k = 0; k < TAKERS; k++)
        pthread_join(th[k], NULL);
    for (int k = 0; k < TAKERS; k++)
        for (int i = 0; i < TAKES; i++) {
            assert_non_null(t[k].p[i]);
            assert_int_equal((uintptr_t)t[k].p[i] % (i % 3 ? 16 : 64), 0);
            assert_int_equal(lt_scratch_size(t[k].p[i]), t[k].size[i]);
            for (size_t b = 0; b < t[k].size[i]; b++)
                if (t[k].p[i][b] != t[k].mark)
                    fail_msg("block %d of thread %d overwritten at byte %zu", i, k, b);
        }
}

static void *early_block; /* a scratch block, kept for the cases after lt_backend_init */

static void test_bootstrap_scratch(void **state)
{
    (void)state;
    assert_null(lt_real.malloc); /* not resolved yet: these cases must run first */
    unsigned char *p = lt_untracked_malloc(100);
    assert_non_null(p);
    assert_true(lt_scratch_owns(p));
    assert_int_equal((uintptr_t)p % 16, 0); /* malloc's alignment on x86-64 */
    assert_int_equal(lt_scratch_size(p), 100);
    assert_int_equal(lt_backend_usable_size(p), 100);
    memset(p, 0xee, 100);
    early_block = p;

    unsigned char *z = lt_untracked_calloc(10, 10);
    assert_non_null(z);
    assert_true(lt_scratch_owns(z));
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    assert_true(z >= p + 100 || z + 100 <= p); /* apart */

    void *a = lt_untracked_memalign(64, 10);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_true(lt_scratch_owns(a));
    void *out = NULL;
    assert_int_equal(lt_untracked_posix_memalign(&out, 32, 10), 0);
    assert_int_equal((uintptr_t)out % 32, 0);
    assert_true(lt_scratch_owns(out));
    out = NULL;
    assert_int_equal(lt_untracked_posix_memalign(&out, 24, 10), EINVAL); /* not a power of 2 */
    assert_int_equal(lt_untracked_posix_memalign(&out, 4, 10), EINVAL);  /* under a pointer */
    assert_null(out);
    /* n * size overflowing: ENOMEM, as calloc(3) */
    errno = 0;
    assert_null(lt_untracked_calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    lt_untracked_free(z); /* scratch is never reused: nothing to do, and nothing done */
    assert_true(lt_scratch_owns(z));
    /* memory the scratch does not own, and NULL */
    int local;
    assert_false(lt_scratch_owns(&local));
    assert_false(lt_scratch_owns(NULL));
    assert_int_equal(lt_backend_usable_size(NULL), 0);
    takers_at_once();
}

static char said[4096];

/* What a child says on stderr while it runs fn; its exit status is fn's. */
static int in_child(int (*fn)(void), char *out, size_t size)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handlers: a fault must end the child */
        signal(SIGABRT, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        dup2(pipefd[1], 2);
        _exit(fn());
    }
    close(pipefd[1]);
    size_t len = 0;
    for (ssize_t n; len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) > 0;)
        len += (size_t)n;
    out[len] = '\0';
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    return status;
}

static int exhaust(void)
{
    int failures = 0;
    for (int i = 0; i < 100; i++) {
        errno = 0;
        if (!lt_untracked_malloc(64 * 1024))
            failures += errno == ENOMEM ? 1 : 1000;
    }
    return failures == 0 ? 1 : failures >= 1000 ? 2 : 0;
}

static int too_large(void)
{
    errno = 0;
    void *p = lt_untracked_malloc(1 << 30); /* larger than the whole arena */
    return p ? 1 : errno == ENOMEM ? 0 : 2;
}

/* An allocation that fails is NULL with errno ENOMEM (malloc(3)), and one line says the
 * arena ran out, once. In children: the arena stays as it is for the cases below. */
static void test_scratch_failures(void **state)
{
    (void)state;
    int status = in_child(exhaust, said, sizeof(said));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(said, "leaktag: bootstrap arena exhausted"));
    assert_ptr_equal(strchr(said, '\n'), said + strlen(said) - 1); /* one line */

    status = in_child(too_large, said, sizeof(said));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 2)
        fail_msg("a request larger than the arena: NULL, but errno is not ENOMEM");
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* memalign, posix_memalign and valloc before the allocator is known: the address aligned
 * as asked (the arena itself is aligned to 64 only). */
static void test_scratch_large_alignment(void **state)
{
    (void)state;
    void *a = lt_untracked_memalign(256, 10);
    assert_non_null(a);
    assert_true(lt_scratch_owns(a));
    void *page = NULL;
    assert_int_equal(lt_untracked_posix_memalign(&page, 4096, 10), 0);
    assert_true(lt_scratch_owns(page));
    void *b = lt_untracked_memalign(128, 10);
    assert_int_equal((uintptr_t)a % 256, 0);
    assert_int_equal((uintptr_t)page % 4096, 0);
    assert_int_equal((uintptr_t)b % 128, 0);
}

/* ---- after lt_backend_init --------------------------------------------------------------- */

static void *libc_handle(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(libc);
    return libc;
}

#define ASSERT_LIBCS(libc, field, name)                           \
    do {                                                          \
        void *want = dlsym(libc, name);                           \
        assert_non_null(want);                                    \
        assert_ptr_equal((void *)(uintptr_t)lt_real.field, want); \
    } while (0)

static void test_resolved(void **state)
{
    (void)state;
    assert_int_equal(lt_backend_init(), 0); /* the later cases need it, sanitizer or not */
    if (UNDER_SANITIZER)
        skip(); /* the sanitizer runtime is the next malloc */
    void *libc = libc_handle();
    ASSERT_LIBCS(libc, malloc, "malloc");
    ASSERT_LIBCS(libc, free, "free");
    ASSERT_LIBCS(libc, calloc, "calloc");
    ASSERT_LIBCS(libc, realloc, "realloc");
    ASSERT_LIBCS(libc, memalign, "memalign");
    ASSERT_LIBCS(libc, reallocarray, "reallocarray");
    ASSERT_LIBCS(libc, posix_memalign, "posix_memalign");
    ASSERT_LIBCS(libc, aligned_alloc, "aligned_alloc");
    ASSERT_LIBCS(libc, valloc, "valloc");
    ASSERT_LIBCS(libc, pvalloc, "pvalloc");
    ASSERT_LIBCS(libc, malloc_usable_size, "malloc_usable_size");
    ASSERT_LIBCS(libc, pthread_create, "pthread_create");
    ASSERT_LIBCS(libc, sigaction, "sigaction");
    ASSERT_LIBCS(libc, pthread_sigmask, "pthread_sigmask");
    ASSERT_LIBCS(libc, pipe2, "pipe2");
    ASSERT_LIBCS(libc, _exit, "_exit");
    ASSERT_LIBCS(libc, dlopen, "dlopen");
    /* not the ones this program put ahead of libc's */
    assert_true((void *)(uintptr_t)lt_real.malloc != (void *)(uintptr_t)malloc);
    assert_true((void *)(uintptr_t)lt_real.free != (void *)(uintptr_t)free);
    assert_true((void *)(uintptr_t)lt_real.memalign != (void *)(uintptr_t)memalign);

    /* A version asked for: that one (memcpy@GLIBC_2.2.5 is not the default memcpy); one
     * that does not exist: the default. */
    void *old_memcpy = dlvsym(libc, "memcpy", "GLIBC_2.2.5");
    if (old_memcpy) {
        assert_ptr_equal(lt_backend_next("memcpy", "GLIBC_2.2.5"), old_memcpy);
        assert_true(old_memcpy != dlsym(libc, "memcpy"));
    }
    assert_ptr_equal(lt_backend_next("memcpy", "NO_SUCH_VERSION_1.0"), dlsym(libc, "memcpy"));
    assert_null(lt_backend_next("no_such_function_anywhere", NULL));
    /* This program's malloc comes first, and it is the one leaktag's would be: nothing
     * ahead of it takes malloc. */
    char owner[256] = "";
    assert_false(lt_backend_shadowed(owner, sizeof(owner)));
    dlclose(libc);
}

static volatile int prepared, in_parent, in_child_handler;

static void on_prepare(void)
{
    prepared++;
}

static void on_parent(void)
{
    in_parent++;
}

static void on_child(void)
{
    in_child_handler++;
}

static int child_saw_handler(void)
{
    return in_child_handler == 1 && prepared == 1 ? 0 : 1;
}

static void test_after_init(void **state)
{
    (void)state;
    /* Untracked allocations now come from libc: its usable size, its free. */
    void *p = lt_untracked_malloc(1000);
    assert_non_null(p);
    assert_false(lt_scratch_owns(p));
    assert_int_equal(lt_backend_usable_size(p), malloc_usable_size(p));
    assert_true(lt_backend_usable_size(p) >= 1000);
    lt_untracked_free(p);
    unsigned char *z = lt_untracked_calloc(100, 10);
    assert_non_null(z);
    assert_false(lt_scratch_owns(z));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(z[i], 0);
    lt_untracked_free(z);
    void *a = lt_untracked_memalign(4096, 100);
    assert_false(lt_scratch_owns(a));
    assert_int_equal((uintptr_t)a % 4096, 0);
    lt_untracked_free(a);

    /* The early block is still a scratch block, its size still known; realloc moves it
     * into the tracked heap by copying its bytes (no more than it has, no more than the new
     * block takes). */
    assert_true(lt_scratch_owns(early_block));
    assert_int_equal(lt_backend_usable_size(early_block), 100);
    unsigned char *bigger = malloc(300);
    memset(bigger, 0, 300);
    assert_ptr_equal(lt_scratch_moved(bigger, early_block, 300), bigger);
    for (int i = 0; i < 300; i++)
        assert_int_equal(bigger[i], i < 100 ? 0xee : 0);
    unsigned char *smaller = malloc(10);
    memset(smaller, 0, 10);
    lt_scratch_moved(smaller, early_block, 10);
    assert_int_equal(smaller[9], 0xee);
    assert_null(lt_scratch_moved(NULL, early_block, 10));
    free(bigger);
    free(smaller);

    /* lt_atfork's handlers, registered for the whole process, run around fork. */
    assert_int_equal(lt_atfork(on_prepare, on_parent, on_child), 0);
    int status = in_child(child_saw_handler, said, sizeof(said));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(prepared, 1);
    assert_int_equal(in_parent, 1);
    assert_int_equal(in_child_handler, 0);
}

static int free_scratch_late(void)
{
    lt_untracked_free(early_block); /* a scratch block, released after start-up */
    return 0;
}

/* A scratch block released once the real allocator is known must not reach it: libc's
 * free of a pointer into a static array aborts or faults. */
static void test_scratch_never_reaches_libc(void **state)
{
    (void)state;
    int status = in_child(free_scratch_late, said, sizeof(said));
    if (WIFSIGNALED(status))
        fail_msg("lt_untracked_free passed a scratch block to libc's free: signal %d (%s)",
                 WTERMSIG(status), said);
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_scratch),
        cmocka_unit_test(test_scratch_failures),
        cmocka_unit_test(test_scratch_large_alignment),
        cmocka_unit_test(test_resolved),
        cmocka_unit_test(test_after_init),
        cmocka_unit_test(test_scratch_never_reaches_libc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
