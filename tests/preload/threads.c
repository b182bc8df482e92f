/* Threads under the shim: producer/consumer where every free is cross-thread ends at zero
 * live blocks; 64 threads allocate and exit while two others free their blocks, and the
 * blocks of exited threads stay tracked until then.
 * All threads are created before the baseline and wait at a gate: creating a thread makes
 * glibc allocate blocks of its own (the TLS vector), freed when the thread's stack leaves
 * glibc's stack cache. Small stacks keep every one of them in the cache, so the live set
 * moves only with what the threads below allocate and free. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>

#include "check.h"

#define RING 1024
#define ITEMS 300000
#define SHORT_THREADS 64
#define PER_SHORT 500

static struct {
    void *slot[RING];
    _Atomic unsigned long head, tail;
} queue;

static void *left_behind[SHORT_THREADS][PER_SHORT];
static _Atomic int phase; /* which group of threads may run */
static _Atomic int short_done;

static void wait_phase(int p)
{
    while (atomic_load(&phase) < p)
        sched_yield();
}

static void *producer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "producer");
    wait_phase(1);
    for (unsigned long i = 0; i < ITEMS; i++) {
        void *p = malloc(16 + i % 4000);
        while (atomic_load(&queue.head) - atomic_load(&queue.tail) == RING)
            sched_yield();
        queue.slot[atomic_load(&queue.head) % RING] = p;
        atomic_fetch_add(&queue.head, 1);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "consumer", 0, 0, 0);
    wait_phase(1);
    for (unsigned long i = 0; i < ITEMS; i++) {
        while (atomic_load(&queue.tail) == atomic_load(&queue.head))
            sched_yield();
        free(queue.slot[atomic_load(&queue.tail) % RING]);
        atomic_fetch_add(&queue.tail, 1);
    }
    return NULL;
}

static void *short_lived(void *arg)
{
    long id = (long)arg;
    wait_phase(2);
    for (int i = 0; i < PER_SHORT; i++)
        left_behind[id][i] = malloc(32);
    atomic_fetch_add(&short_done, 1);
    return NULL;
}

static void *sweeper(void *arg)
{
    long half = (long)arg;
    wait_phase(3);
    for (long t = half; t < SHORT_THREADS; t += 2)
        for (int i = 0; i < PER_SHORT; i++)
            free(left_behind[t][i]);
    return NULL;
}

int main(void)
{
    fprintf(stderr, "threads: start\n");
    pthread_t p, c, sw[2], t[SHORT_THREADS];
    pthread_attr_t small;
    pthread_attr_init(&small);
    pthread_attr_setstacksize(&small, 256 * 1024);
    pthread_create(&p, &small, producer, NULL);
    pthread_create(&c, &small, consumer, NULL);
    for (long i = 0; i < SHORT_THREADS; i++)
        pthread_create(&t[i], &small, short_lived, (void *)i);
    pthread_create(&sw[0], &small, sweeper, (void *)0);
    pthread_create(&sw[1], &small, sweeper, (void *)1);
    struct leaktag_stats base = lt_test_stats();

    atomic_store(&phase, 1);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    struct leaktag_stats s = lt_test_stats();
    CHECK_EQ(s.live_blocks, base.live_blocks);
    CHECK_EQ(s.live_bytes, base.live_bytes);
    CHECK_EQ(s.frees - base.frees, ITEMS);
    CHECK_EQ(s.unknown_frees, base.unknown_frees);

    /* 64 threads allocate and exit; their blocks outlive them */
    atomic_store(&phase, 2);
    for (long i = 0; i < SHORT_THREADS; i++)
        pthread_join(t[i], NULL);
    s = lt_test_stats();
    CHECK_EQ(atomic_load(&short_done), SHORT_THREADS);
    CHECK_EQ(s.live_blocks - base.live_blocks, SHORT_THREADS * PER_SHORT);
    CHECK_EQ(s.live_bytes - base.live_bytes, SHORT_THREADS * PER_SHORT * 32);
    CHECK(s.threads_seen >= 1 + 2 + SHORT_THREADS + 2);
    CHECK_EQ(s.threads_alive, 1 + 2); /* main and the two sweepers */

    /* two other threads free the blocks of the exited ones */
    atomic_store(&phase, 3);
    pthread_join(sw[0], NULL);
    pthread_join(sw[1], NULL);
    s = lt_test_stats();
    CHECK_EQ(s.live_blocks, base.live_blocks);
    CHECK_EQ(s.live_bytes, base.live_bytes);
    CHECK_EQ(s.unknown_frees, base.unknown_frees);
    CHECK_EQ(s.untracked_blocks, 0);
    fprintf(stderr, "threads: ok (%llu threads seen)\n", (unsigned long long)s.threads_seen);
    return 0;
}
