// Every operator new/delete variant under the shim: counted with its kind, mismatches
// counted (never fixed), std::bad_alloc thrown and the new_handler honoured as without it.
#include <cstdio>
#include <cstdlib>
#include <new>

#include "check.h"

// This file misuses new/delete on purpose: the shim must count it.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"

static struct leaktag_stats base;

static void expect_live(long long blocks, long long bytes, int line)
{
    struct leaktag_stats s = lt_test_stats();
    long long b = (long long)(s.live_blocks - base.live_blocks);
    long long y = (long long)(s.live_bytes - base.live_bytes);
    if (b != blocks || y != bytes) {
        std::fprintf(stderr, "cxx_ops.cpp:%d: live %lld blocks / %lld bytes, expected %lld / %lld\n",
                     line, b, y, blocks, bytes);
        std::exit(1);
    }
}
#define EXPECT_LIVE(blocks, bytes) expect_live(blocks, bytes, __LINE__)

struct alignas(64) Wide {
    char bytes[64];
};

static int handler_calls;
static void *reserve;
static void release_reserve()
{
    handler_calls++;
    std::free(reserve);
    reserve = nullptr;
    std::set_new_handler(nullptr);
}

// Opaque sizes and a sink the compiler must honour: C++14 lets it elide new/delete pairs
// it can see through, which would leave the shim nothing to count.
static volatile size_t huge = SIZE_MAX / 2 + 1; // over PTRDIFF_MAX: malloc refuses it
static void *volatile sink;
template <class T> static T *keep(T *p)
{
    sink = (void *)p;
    return p;
}

int main()
{
    std::fprintf(stderr, "cxx_ops: start\n");
    base = lt_test_stats();

    int *one = keep(new int(7));
    int *arr = keep(new int[10]);
    EXPECT_LIVE(2, 4 + 40);
    delete one;
    delete[] arr;
    EXPECT_LIVE(0, 0);

    int *nt = keep(new (std::nothrow) int);
    char *nta = keep(new (std::nothrow) char[33]);
    Wide *w = keep(new Wide);
    Wide *wa = keep(new Wide[3]);
    CHECK(((uintptr_t)w & 63) == 0 && ((uintptr_t)wa & 63) == 0);
    Wide *wn = keep(new (std::nothrow) Wide);
    EXPECT_LIVE(5, 4 + 33 + 64 + 192 + 64);
    ::operator delete(nt, sizeof(int));          // sized delete
    ::operator delete[](nta, std::nothrow);      // nothrow delete[]
    ::operator delete(w, std::align_val_t(64));  // aligned delete
    ::operator delete[](wa, 192, std::align_val_t(64));
    ::operator delete(wn, std::align_val_t(64), std::nothrow);
    void *an = keep(::operator new(100, std::align_val_t(32), std::nothrow));
    void *ana = keep(::operator new[](100, std::align_val_t(32), std::nothrow));
    void *ta = keep(::operator new[](50, std::align_val_t(128)));
    CHECK(((uintptr_t)ta & 127) == 0);
    EXPECT_LIVE(3, 250);
    ::operator delete(an, 100, std::align_val_t(32));
    ::operator delete[](ana, std::align_val_t(32), std::nothrow);
    ::operator delete[](ta, std::align_val_t(128));
    EXPECT_LIVE(0, 0);
    CHECK_EQ(lt_test_stats().mismatches, base.mismatches);

    // mismatches are counted and the memory is still released
    char *x = keep(new char[16]);
    std::free(x);                 // free of new[]
    int *y = (int *)keep(std::malloc(4));
    delete y;                     // delete of malloc
    int *z = keep(new int[4]);
    delete z;                     // delete of new[]
    EXPECT_LIVE(0, 0);
    CHECK_EQ(lt_test_stats().mismatches, base.mismatches + 3);

    // a failing new throws std::bad_alloc; nothrow returns nullptr
    bool thrown = false;
    try {
        char *p = keep(new char[huge]);
        p[0] = 1;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown);
    thrown = false;
    try {
        void *p = keep(::operator new(huge, std::align_val_t(64)));
        ::operator delete(p, std::align_val_t(64));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown);
    CHECK(keep(new (std::nothrow) char[huge]) == nullptr);
    CHECK(keep(::operator new(huge, std::nothrow)) == nullptr);
    EXPECT_LIVE(0, 0);

    // the new_handler runs, as the standard says, before giving up
    reserve = std::malloc(1000);
    std::set_new_handler(release_reserve);
    thrown = false;
    try {
        void *p = keep(::operator new(huge));
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown && handler_calls == 1);
    EXPECT_LIVE(0, 0);

    // after a throw the shim still tracks this thread
    int *after = keep(new int);
    EXPECT_LIVE(1, 4);
    delete after;
    EXPECT_LIVE(0, 0);
    CHECK_EQ(lt_test_stats().unknown_frees, base.unknown_frees);
    std::fprintf(stderr, "cxx_ops: ok\n");
    return 0;
}
