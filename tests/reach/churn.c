/* Eight threads push nodes onto and pop them off lists that a global always reaches, while
 * the main thread takes snapshots with a reachability verdict: a node is in a list, or in
 * the hands (registers, stack) of the thread pushing or popping it, never lost. A node can
 * also be on its way in or out of the allocator, or moving in a realloc (out of leaktag's
 * table while the real realloc runs): the verdict must wait for that.
 *   churn SNAPSHOTS   (LD_PRELOAD=libleaktag.so LEAKTAG_REACH=1; test_churn.sh reads them) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leaktag.h"

#define THREADS 8
#define NOINLINE __attribute__((noinline))

struct node {
    struct node *next;
    uint64_t payload[6];
};

static struct {
    pthread_mutex_t lock;
    struct node *head;
    unsigned length;
} lists[THREADS];
static _Atomic int stop;

static NOINLINE struct node *push_node(unsigned seed)
{
    struct node *n = malloc(sizeof(*n) + seed % 64);
    if (n)
        memset(n->payload, (int)seed, sizeof(n->payload));
    return n;
}

static void *worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg, seed = me * 2654435761u;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        seed = seed * 1103515245u + 12345u;
        unsigned which = (seed >> 16) % THREADS;
        pthread_mutex_lock(&lists[which].lock);
        if (lists[which].head && (seed & 0x3000) == 0x3000) {
            /* the head moves: while realloc runs, its successor is referenced only by a
             * block that is in no table (the verdict must not be taken then) */
            struct node *moved = realloc(lists[which].head, sizeof(struct node) + seed % 256);
            if (moved)
                lists[which].head = moved;
        } else if (lists[which].length < 2000 && (seed & 0x100 || !lists[which].head)) {
            struct node *n = push_node(seed);
            if (n) {
                n->next = lists[which].head;
                lists[which].head = n;
                lists[which].length++;
            }
        } else if (lists[which].head) {
            struct node *n = lists[which].head;
            lists[which].head = n->next;
            lists[which].length--;
            pthread_mutex_unlock(&lists[which].lock);
            free(n);
            continue;
        }
        pthread_mutex_unlock(&lists[which].lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int snapshots = argc > 1 ? atoi(argv[1]) : 100;
    if (!leaktag_snapshot) {
        fprintf(stderr, "churn: run it under libleaktag.so\n");
        return 2;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_mutex_init(&lists[i].lock, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    int failed = 0;
    for (int i = 0; i < snapshots; i++)
        failed += leaktag_snapshot("churn") != 0;
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("%d snapshots, %d failed\n", snapshots, failed);
    return failed != 0;
}
