/* malloc microbenchmark: random sizes 16..4096 and a ring of live blocks per thread.
 *   malloc_bench 1t OPS   one thread replaces random ring entries
 *   malloc_bench 2t OPS   two threads, each with its own ring
 *   malloc_bench pc OPS   producer allocates, consumer frees (every free is cross-thread)
 * Allocations come from one of four call paths eight frames deep, so unwinding does the
 * work a real program's stacks would ask of it. Prints the timed region in seconds. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 4096
#define NOINLINE __attribute__((noinline))

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Eight frames between the loop and malloc; `path` picks one of four distinct stacks. */
static NOINLINE void *alloc_leaf(size_t n)
{
    void *p = malloc(n);
    if (p)
        *(volatile char *)p = 1;
    return p;
}
#define LEVEL(name, next)                                                                    \
    static NOINLINE void *name(size_t n, unsigned path)                                      \
    {                                                                                        \
        (void)path;                                                                          \
        void *p = next;                                                                      \
        __asm__ __volatile__("" ::: "memory"); /* no tail call: keep the frame */            \
        return p;                                                                            \
    }
LEVEL(level7, alloc_leaf(n))
LEVEL(level6, level7(n, path))
LEVEL(level5, path & 1 ? level6(n, path) : level7(n, path))
LEVEL(level4, level5(n, path))
LEVEL(level3, level4(n, path))
LEVEL(level2, path & 2 ? level3(n, path) : level4(n, path))
LEVEL(level1, level2(n, path))

static void *alloc_random(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    return level1(16 + r % (4096 - 16 + 1), (unsigned)(r >> 32) & 3);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long ops;

static void *ring_worker(void *arg)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ (uintptr_t)arg;
    void **ring = calloc(RING, sizeof(void *));
    for (long i = 0; i < ops; i++) {
        uint64_t k = rng_next(&rng) % RING;
        free(ring[k]);
        ring[k] = alloc_random(&rng);
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    free(ring);
    return NULL;
}

#define QUEUE 4096
static struct {
    void *slot[QUEUE];
    _Atomic long head __attribute__((aligned(64)));
    _Atomic long tail __attribute__((aligned(64)));
} queue;

static void *producer(void *arg)
{
    (void)arg;
    uint64_t rng = 12345;
    for (long i = 0; i < ops; i++) {
        void *p = alloc_random(&rng);
        long head = atomic_load_explicit(&queue.head, memory_order_relaxed);
        while (head - atomic_load_explicit(&queue.tail, memory_order_acquire) == QUEUE)
            ;
        queue.slot[head % QUEUE] = p;
        atomic_store_explicit(&queue.head, head + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (long i = 0; i < ops; i++) {
        long tail = atomic_load_explicit(&queue.tail, memory_order_relaxed);
        while (atomic_load_explicit(&queue.head, memory_order_acquire) == tail)
            ;
        free(queue.slot[tail % QUEUE]);
        atomic_store_explicit(&queue.tail, tail + 1, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "1t") && strcmp(argv[1], "2t") && strcmp(argv[1], "pc"))) {
        fprintf(stderr, "usage: malloc_bench 1t|2t|pc OPS\n");
        return 2;
    }
    ops = atol(argv[2]);
    pthread_t a, b;
    double start = now();
    if (!strcmp(argv[1], "1t")) {
        ring_worker((void *)1);
    } else if (!strcmp(argv[1], "2t")) {
        pthread_create(&a, NULL, ring_worker, (void *)1);
        pthread_create(&b, NULL, ring_worker, (void *)2);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
    } else {
        pthread_create(&a, NULL, producer, NULL);
        pthread_create(&b, NULL, consumer, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
    }
    printf("%.6f\n", now() - start);
    return 0;
}
