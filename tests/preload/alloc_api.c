/* Every C allocation entry point under the shim: the exact live set after each step,
 * glibc's semantics (errno, realloc corner cases, alignment) left as they were. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>

#include "check.h"

static struct leaktag_stats base;

/* Opaque, so that the compiler neither warns about nor folds the impossible requests. */
static volatile size_t half_max = SIZE_MAX / 2, nearly_max = SIZE_MAX - 4096;

/* Live blocks and bytes relative to the start of the test. */
static void expect_live(long long blocks, long long bytes, int line)
{
    struct leaktag_stats s = lt_test_stats();
    long long b = (long long)(s.live_blocks - base.live_blocks);
    long long y = (long long)(s.live_bytes - base.live_bytes);
    if (b != blocks || y != bytes) {
        fprintf(stderr, "alloc_api.c:%d: live %lld blocks / %lld bytes, expected %lld / %lld\n",
                line, b, y, blocks, bytes);
        exit(1);
    }
}
#define EXPECT_LIVE(blocks, bytes) expect_live(blocks, bytes, __LINE__)

/* Under LEAKTAG_BACKEND=jemalloc the memory must really come from jemalloc (not from a
 * silent fallback to glibc): jemalloc's per-thread counter of allocated bytes moves. */
static void check_backend(void)
{
    const char *backend = getenv("LEAKTAG_BACKEND");
    if (!backend || strcmp(backend, "jemalloc") != 0)
        return;
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    CHECK(mallctl != NULL);
    uint64_t before = 0, after = 0;
    size_t len = sizeof(before);
    CHECK(mallctl("thread.allocated", &before, &len, NULL, 0) == 0);
    void *p = malloc(100000);
    CHECK(p != NULL);
    len = sizeof(after);
    CHECK(mallctl("thread.allocated", &after, &len, NULL, 0) == 0);
    CHECK(after - before >= 100000);
    free(p);
}

int main(void)
{
    fprintf(stderr, "alloc_api: start\n"); /* stdio buffers allocated before the baseline */
    base = lt_test_stats();
    CHECK_EQ(base.version, 1);
    CHECK(base.threads_seen >= 1);
    check_backend();

    void *m = malloc(100);
    EXPECT_LIVE(1, 100);
    void *c = calloc(10, 30);
    CHECK(c != NULL);
    for (int i = 0; i < 300; i++)
        CHECK(((unsigned char *)c)[i] == 0);
    EXPECT_LIVE(2, 400);

    /* realloc: growing, shrinking, NULL, zero, failure */
    m = realloc(m, 5000);
    EXPECT_LIVE(2, 5300);
    m = realloc(m, 10);
    EXPECT_LIVE(2, 310);
    void *r = realloc(NULL, 77);
    EXPECT_LIVE(3, 387);
    errno = 0;
    void *big = realloc(r, half_max);
    CHECK(big == NULL && errno == ENOMEM);
    EXPECT_LIVE(3, 387); /* the failed realloc left r alive and tracked */
    CHECK(realloc(r, 0) == NULL); /* glibc frees the block */
    EXPECT_LIVE(2, 310);
    void *ra = reallocarray(NULL, 10, 10);
    EXPECT_LIVE(3, 410);
    ra = reallocarray(ra, 20, 10);
    EXPECT_LIVE(3, 510);
    errno = 0;
    CHECK(reallocarray(ra, half_max, 4) == NULL && errno == ENOMEM);
    EXPECT_LIVE(3, 510);
    errno = 0; /* a product that wraps to exactly 0 is an overflow, not realloc(p, 0) */
    /* hidden from the compiler's size check; 2^(w/2) squared wraps to 0 in any width */
    volatile size_t root = (size_t)1 << (sizeof(size_t) * 4);
    CHECK(reallocarray(ra, root, root) == NULL && errno == ENOMEM);
    EXPECT_LIVE(3, 510);

    /* the aligned family */
    void *pm = NULL;
    CHECK(posix_memalign(&pm, 64, 1000) == 0 && ((uintptr_t)pm & 63) == 0);
    CHECK(posix_memalign(&pm, 3, 10) == EINVAL); /* pm untouched, nothing tracked */
    EXPECT_LIVE(4, 1510);
    void *aa = aligned_alloc(256, 512);
    CHECK(aa && ((uintptr_t)aa & 255) == 0);
    void *ma = memalign(128, 40);
    CHECK(ma && ((uintptr_t)ma & 127) == 0);
    void *va = valloc(10);
    CHECK(va && ((uintptr_t)va & 4095) == 0);
    void *pv = pvalloc(10);
    CHECK(pv && ((uintptr_t)pv & 4095) == 0);
    EXPECT_LIVE(8, 2082);
    CHECK(malloc_usable_size(aa) >= 512);
    CHECK(malloc_usable_size(NULL) == 0);

    /* errors keep glibc's errno; success leaves errno alone */
    errno = 0;
    CHECK(malloc(nearly_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(half_max, 3) == NULL && errno == ENOMEM);
    EXPECT_LIVE(8, 2082);
    errno = 1234;
    void *ok = malloc(8);
    free(ok);
    CHECK(errno == 1234);

    /* free of NULL and of the whole set */
    free(NULL);
    EXPECT_LIVE(8, 2082);
    free(m), free(c), free(ra), free(pm), free(aa), free(ma), free(va), free(pv);
    EXPECT_LIVE(0, 0);

    /* a free of a pointer the shim never handed out is counted, not "fixed" */
    struct leaktag_stats s = lt_test_stats();
    CHECK_EQ(s.unknown_frees, base.unknown_frees);
    CHECK_EQ(s.mismatches, base.mismatches);
    CHECK_EQ(s.untracked_blocks, 0);
    CHECK(s.peak_live_bytes >= s.live_bytes);
    CHECK(s.stacks > 0 && s.tracker_bytes > 0);

    /* many blocks: counts stay exact through table growth */
    enum { N = 200000 };
    static void *many[N];
    for (int i = 0; i < N; i++)
        many[i] = malloc((size_t)(i % 100) + 1);
    long long bytes = 0;
    for (int i = 0; i < N; i++)
        bytes += i % 100 + 1;
    EXPECT_LIVE(N, bytes);
    for (int i = 0; i < N; i += 2)
        free(many[i]);
    for (int i = 1; i < N; i += 2)
        free(many[i]);
    EXPECT_LIVE(0, 0);
    /* the peak is exact to within 64 KiB per thread (threads publish in batches) */
    s = lt_test_stats();
    CHECK(s.peak_live_bytes + 64 * 1024 >= base.live_bytes + (uint64_t)bytes);
    fprintf(stderr, "alloc_api: ok\n");
    return 0;
}
