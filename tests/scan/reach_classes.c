/* Blocks in every one of valgrind memcheck's four categories, one allocation size per case,
 * for test_scan_reach.py to compare leaktag-scan --reach's verdict per size class with
 * memcheck's. Started as it is: no shim, plain glibc malloc.
 *
 * Every size asked for is its own glibc usable size on x86-64 (16k + 8), so that a class of
 * the scan (one usable size) is exactly one case; only the big blocks (mmapped by glibc, 16
 * bytes of header) are 8 bytes short of theirs. The program prints its design, what it
 * allocated with malloc_usable_size and whether glibc mmapped it, on the line before "ready":
 *
 *   design [{"case":"cache","size":1352,"usable":1352,"count":13,"mmapped":0,"kind":"..."},..]
 *
 * ("kind" is what the case is meant to be; the test takes valgrind's verdict, not this.)
 *
 * The cases: a global cache (g_cache) and global lists, a blocked helper thread's stack, a
 * helper thread's TLS, an anonymous mapping, interior pointers from a global (and what only
 * such a block points to), blocks nothing points to, lists and big blocks whose heads are
 * lost, lost cycles, lost blocks pointing into others, blocks freed again (tcache and
 * fastbin), big mmapped blocks kept and lost. Blocks are zeroed: no stray word in them.
 *
 * Traps for a scan of glibc's heap that valgrind never meets: glibc's own pointers to chunk
 * headers lie in the last 8 bytes of the previous chunk's usable size, so the last block
 * before each arena's top (main_arena.top, the helper arena's top) and the block before the
 * fastbin's first chunk are lost blocks; a pointer to such a header is no reference.
 *
 * All the allocation work runs in run() (and in each helper's own build function), whose
 * stack is scrubbed afterwards, so that no stale copy of a pointer is left on a stack.
 *
 *   reach_classes wait   build, print the design and "ready", then block (main in read(0),
 *                        helpers in pause()) until stdin's EOF or a signal
 *   reach_classes exit   build the same, print the same, then exit(0) with the helpers still
 *                        alive and blocked: valgrind's check at exit sees what a scan of
 *                        `wait` sees (main's own frame holds no pointer in either) */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

/* The cases, in design order. Sizes: 16k + 8 (usable = requested), none of them libc's;
 * big ones: a whole number of pages less 24 (glibc maps size + 8 rounded up to a page and
 * keeps 16 of it), above the 128 KiB mmap threshold. Counts differ from case to case. */
enum {
    CACHE,
    KEPT_HEAD,
    KEPT_CHILD,
    THREAD_STACK,
    TLS,
    MAPPED,
    INTERIOR,
    BEHIND_INTERIOR,
    LOST,
    LOST_HEAD,
    LOST_CHILD,
    CYCLE,
    LOST_POINTS_INSIDE,
    POINTED_INSIDE,
    FREED,
    BIG_KEPT,
    BIG_KEPT_CHILD,
    BIG_LOST,
    BIG_LOST_CHILD,
    ARENA_LOST,
    NCASES
};

#define CYCLES 2
#define CYCLE_LEN 5
#define BIG_CHILDREN 2

static struct design {
    const char *name, *kind;
    size_t size;
    int count;
    size_t usable; /* malloc_usable_size of one of them, measured */
    int mmapped;   /* whether glibc mmapped that one (mallinfo2's count of them grew) */
} cases[NCASES] = {
    [CACHE] = {"cache", "reachable", 1352, 13},              /* g_cache[] */
    [KEPT_HEAD] = {"kept_head", "reachable", 1416, 2},       /* g_lists[] */
    [KEPT_CHILD] = {"kept_child", "reachable", 1480, 10},    /* 5 behind each kept head */
    [THREAD_STACK] = {"thread_stack", "reachable", 1624, 3}, /* a blocked helper's frame */
    [TLS] = {"tls", "reachable", 1784, 5},                   /* another helper's __thread */
    [MAPPED] = {"mapped", "reachable", 2184, 11},            /* an anonymous mmap */
    [INTERIOR] = {"interior", "possibly_lost", 2456, 4},     /* g_interior[]: +40 only */
    [BEHIND_INTERIOR] = {"behind_interior", "possibly_lost", 2520, 8}, /* 2 per interior */
    [LOST] = {"lost", "definitely_lost", 2696, 6},                     /* nothing points at them */
    [LOST_HEAD] = {"lost_head", "definitely_lost", 2904, 3},           /* lists no one points to */
    [LOST_CHILD] = {"lost_child", "indirectly_lost", 1208, 15},        /* 5 behind each */
    [CYCLE] = {"cycle", "definitely_lost+indirectly_lost", 2968, CYCLES *CYCLE_LEN},
    [LOST_POINTS_INSIDE] = {"lost_points_inside", "definitely_lost", 2776, 7},
    [POINTED_INSIDE] = {"pointed_inside", "indirectly_lost", 2840, 7}, /* +40 from a lost */
    [FREED] = {"freed", "freed", 120, 9},                      /* 7 to the tcache, 2 fastbin */
    [BIG_KEPT] = {"big_kept", "reachable", 53 * 4096 - 24, 2}, /* g_big[] */
    [BIG_KEPT_CHILD] = {"big_kept_child", "reachable", 1928, 2 * BIG_CHILDREN},
    [BIG_LOST] = {"big_lost", "definitely_lost", 57 * 4096 - 24, 3},
    [BIG_LOST_CHILD] = {"big_lost_child", "indirectly_lost", 2056, 3 * BIG_CHILDREN},
    [ARENA_LOST] = {"arena_lost", "definitely_lost", 2312, 2}, /* last in a helper's arena */
};

/* The roots; volatile, so that every store stays. g_cache is checked by name. */
void *volatile g_cache[13];
void *volatile g_lists[2];
void *volatile g_interior[4];
void *volatile g_big[2];
static __thread void *volatile tls_roots[5];
static void *volatile *volatile mapped_roots;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int helpers_ready;

/* A zeroed block of case c's size; its usable size measured on the first one (without
 * reading glibc's chunk header, which valgrind would call an invalid read). */
static NOINLINE void *block(int c)
{
    size_t mapped_before = cases[c].usable ? 0 : mallinfo2().hblks;
    void *p = malloc(cases[c].size);
    if (!p) {
        static const char msg[] = "reach_classes: out of memory\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(1);
    }
    memset(p, 0, cases[c].size);
    if (!cases[c].usable) {
        cases[c].usable = malloc_usable_size(p);
        cases[c].mmapped = mallinfo2().hblks > mapped_before; /* 0 under valgrind */
    }
    return p;
}

/* One call site per case, so that each of valgrind's loss records is one case (one size). */
#define SITE(fn, c)                \
    static NOINLINE void *fn(void) \
    {                              \
        return block(c);           \
    }
SITE(site_cache, CACHE)
SITE(site_kept_head, KEPT_HEAD)
SITE(site_kept_child, KEPT_CHILD)
SITE(site_thread_stack, THREAD_STACK)
SITE(site_tls, TLS)
SITE(site_mapped, MAPPED)
SITE(site_interior, INTERIOR)
SITE(site_behind_interior, BEHIND_INTERIOR)
SITE(site_lost, LOST)
SITE(site_lost_head, LOST_HEAD)
SITE(site_lost_child, LOST_CHILD)
SITE(site_cycle, CYCLE)
SITE(site_lost_points_inside, LOST_POINTS_INSIDE)
SITE(site_pointed_inside, POINTED_INSIDE)
SITE(site_freed, FREED)
SITE(site_big_kept, BIG_KEPT)
SITE(site_big_kept_child, BIG_KEPT_CHILD)
SITE(site_big_lost, BIG_LOST)
SITE(site_big_lost_child, BIG_LOST_CHILD)
SITE(site_arena_lost, ARENA_LOST)

/* The stack below the caller's frame, and the scratch registers malloc may have left a
 * chunk's address in (a blocked thread keeps them; valgrind's malloc is not glibc's). */
static NOINLINE void scrub(void)
{
    volatile char wipe[64 * 1024];
    memset((char *)wipe, 0, sizeof(wipe));
#if defined(__x86_64__)
    __asm__ volatile("xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\t"
                     "xor %%esi, %%esi\n\txor %%edi, %%edi\n\txor %%r8d, %%r8d\n\t"
                     "xor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\t"
                     "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5" ::
                         : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0",
                           "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "memory");
#endif
}

static NOINLINE void helper_ready(void)
{
    pthread_mutex_lock(&lock);
    helpers_ready++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static NOINLINE void block_forever(void)
{
    for (;;)
        pause();
}

/* Helper 1: the blocks only its own blocked frame refers to. */
static NOINLINE void hold_on_stack(void)
{
    void *volatile mine[3];
    for (int i = 0; i < 3; i++)
        mine[i] = site_thread_stack();
    scrub(); /* what malloc left below this frame */
    helper_ready();
    block_forever();
    (void)mine[0];
}

static void *stack_helper(void *arg)
{
    (void)arg;
    hold_on_stack();
    return NULL;
}

/* Helper 2: the blocks its TLS refers to, then lost ones, the last before its arena's top. */
static NOINLINE void build_tls(void)
{
    for (int i = 0; i < 5; i++)
        tls_roots[i] = site_tls();
    for (int i = 0; i < 2; i++)
        site_arena_lost();
}

static void *tls_helper(void *arg)
{
    (void)arg;
    build_tls();
    scrub();
    helper_ready();
    block_forever();
    return NULL;
}

static NOINLINE void *list(void *(*head)(void), void *(*child)(void), int n)
{
    void **h = head();
    for (int i = 0; i < n; i++) {
        void **x = child();
        x[0] = h[0];
        h[0] = x;
    }
    return h;
}

static NOINLINE void cycle(int n)
{
    void **first = site_cycle(), **at = first;
    for (int i = 1; i < n; i++) {
        void **x = site_cycle();
        at[0] = x;
        at = x;
    }
    at[0] = first;
}

static NOINLINE void run(void)
{
    for (int i = 0; i < 13; i++)
        g_cache[i] = site_cache();
    for (int i = 0; i < 2; i++)
        g_lists[i] = list(site_kept_head, site_kept_child, 5);

    mapped_roots = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped_roots == MAP_FAILED)
        _exit(1);
    for (int i = 0; i < 11; i++)
        mapped_roots[100 + 7 * i] = site_mapped();

    for (int i = 0; i < 4; i++) {
        char *in = site_interior();
        g_interior[i] = in + 40; /* interior only (not +8 nor +24: valgrind's heuristics) */
        ((void **)in)[10] = site_behind_interior(); /* start pointers, from a possible */
        ((void **)in)[20] = site_behind_interior();
    }

    for (int i = 0; i < 3; i++)
        list(site_lost_head, site_lost_child, 5);
    for (int i = 0; i < CYCLES; i++)
        cycle(CYCLE_LEN);
    for (int i = 0; i < 7; i++) {
        void **out = site_lost_points_inside();
        out[3] = (char *)site_pointed_inside() + 40;
    }

    for (int i = 0; i < 2; i++) {
        void **big = site_big_kept();
        for (int k = 0; k < BIG_CHILDREN; k++)
            big[1000 * (k + 1)] = site_big_kept_child();
        g_big[i] = big;
    }
    for (int i = 0; i < 3; i++) {
        void **big = site_big_lost();
        for (int k = 0; k < BIG_CHILDREN; k++)
            big[1000 * (k + 1)] = site_big_lost_child();
    }

    /* Last in the main arena, so that no bigger request consolidates the fastbins after:
     * freed and lost blocks in turn, the last lost one just before the top chunk, and a lost
     * one just before the fastbin's first chunk (freed[8]; freed[0..6] fill the tcache). */
    void *freed[9];
    for (int i = 0; i < 9; i++) {
        freed[i] = site_freed();
        if (i >= 3)
            site_lost();
    }
    for (int i = 0; i < 9; i++)
        free(freed[i]);
}

static char design_line[4096];

static NOINLINE void print_design(void)
{
    size_t n = snprintf(design_line, sizeof(design_line), "design [");
    for (int c = 0; c < NCASES; c++)
        n += snprintf(design_line + n, sizeof(design_line) - n,
                      "%s{\"case\":\"%s\",\"size\":%zu,\"usable\":%zu,\"count\":%d,"
                      "\"mmapped\":%d,\"kind\":\"%s\"}",
                      c ? "," : "", cases[c].name, cases[c].size, cases[c].usable, cases[c].count,
                      cases[c].mmapped, cases[c].kind);
    n += snprintf(design_line + n, sizeof(design_line) - n, "]\nready\n");
    if (n >= sizeof(design_line) || write(1, design_line, n) != (ssize_t)n)
        _exit(1);
}

int main(int argc, char **argv)
{
    int wait = argc > 1 && !strcmp(argv[1], "wait");
    if (argc != 2 || (!wait && strcmp(argv[1], "exit"))) {
        static const char usage[] = "usage: reach_classes wait|exit\n";
        (void)!write(2, usage, sizeof(usage) - 1);
        return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, stack_helper, NULL);
    pthread_create(&t, NULL, tls_helper, NULL);
    pthread_mutex_lock(&lock);
    while (helpers_ready < 2)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);

    run();
    scrub();
    print_design();
    scrub();
    if (!wait)
        exit(0);
    char c;
    for (;;) {
        ssize_t got = read(0, &c, 1);
        if (got == 0 || (got < 0 && errno != EINTR))
            exit(0);
    }
}
