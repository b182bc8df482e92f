/* Allocation sites whose blocks end in every one of valgrind's categories, for
 * test_reach.py to compare leaktag's verdict with memcheck's, site by site.
 *
 * Each site_* function allocates its blocks and leaves references to them only where its
 * case says: a global, thread-local storage, a live thread's stack, an mmap'd region, an
 * interior pointer, a chain, a tree, a cycle, a pointer hidden by XOR, a big (mmap'd) block.
 * The work runs in run(), whose stack is scrubbed afterwards, so that no stale copy of a
 * pointer is left where a conservative scan would see it.
 *
 *   reach_cases mid    checkpoint while the helper threads still run: under valgrind
 *                      VALGRIND_DO_LEAK_CHECK, under leaktag a snapshot signal (waits for
 *                      the file leaktag --pid would report)
 *   reach_cases exit   the threads are joined; the verdict is the one at exit */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <valgrind/memcheck.h>

#define NOINLINE __attribute__((noinline))

struct node {
    struct node *next, *other;
    char payload[48];
};

/* Roots the cases use; volatile so that the stores are kept. */
static void *volatile global_roots[8];
static void *volatile interior_root;
static __thread void *volatile tls_root;
static uintptr_t volatile hidden_root;
static void **mapped_roots;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready, stage; /* helpers that have allocated; 1: they may end */

static NOINLINE void *site_global(void)
{
    return malloc(100);
}

static NOINLINE void site_chain(struct node **head, int n)
{
    /* the head comes from site_chain_head, the rest from here */
    for (int i = 0; i < n; i++) {
        struct node *x = calloc(1, sizeof(*x));
        x->next = *head;
        *head = x;
    }
}

static NOINLINE struct node *site_chain_head(void)
{
    return calloc(1, sizeof(struct node));
}

static NOINLINE struct node *site_tree_node(int depth)
{
    struct node *x = calloc(1, sizeof(*x));
    if (depth > 0) {
        x->next = site_tree_node(depth - 1);
        x->other = site_tree_node(depth - 1);
    }
    return x;
}

static NOINLINE struct node *site_tree_root(void)
{
    struct node *root = calloc(1, sizeof(*root));
    root->next = site_tree_node(3);
    root->other = site_tree_node(3);
    return root;
}

static NOINLINE void site_cycle(void)
{
    struct node *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    a->next = b;
    b->next = a;
}

static NOINLINE void *site_interior(void)
{
    return malloc(200);
}

static NOINLINE void *site_behind_interior(void)
{
    return malloc(64);
}

static NOINLINE void *site_hidden(void)
{
    return malloc(80);
}

static NOINLINE void *site_big(void)
{
    return malloc(1 << 20); /* glibc maps it on its own */
}

static NOINLINE void *site_big_lost(void)
{
    return malloc(1 << 20);
}

static NOINLINE void *site_mapped(void)
{
    return malloc(120);
}

static NOINLINE void *site_tls(void)
{
    return malloc(90);
}

static NOINLINE void *site_thread_stack(void)
{
    return malloc(110);
}

static NOINLINE void *site_realloc(void)
{
    void *p = malloc(10);
    return realloc(p, 5000);
}

static NOINLINE void *site_lost(void)
{
    return malloc(70);
}

static NOINLINE void scrub(void)
{
    volatile char wipe[64 * 1024];
    memset((char *)wipe, 0, sizeof(wipe));
}

static NOINLINE void wait_for(int *what, int want)
{
    pthread_mutex_lock(&lock);
    while (*what < want)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static NOINLINE void hold_on_stack(void)
{
    void *volatile mine = site_thread_stack(); /* only this frame refers to it */
    tls_root = site_tls();
    scrub();
    pthread_mutex_lock(&lock);
    ready++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    wait_for(&stage, 1);
    (void)mine;
}

static void *helper(void *arg)
{
    (void)arg;
    hold_on_stack();
    return NULL;
}

static NOINLINE void run(void)
{
    global_roots[0] = site_global();
    global_roots[1] = site_global();

    struct node *head = site_chain_head(); /* lost with its chain */
    site_chain(&head, 5);
    head = NULL;
    struct node *kept = site_chain_head(); /* kept, with its chain */
    site_chain(&kept, 5);
    global_roots[2] = kept;

    site_tree_root();   /* lost: its root definitely, its 30 nodes indirectly */
    global_roots[3] = site_tree_root(); /* kept */

    site_cycle();
    site_cycle();

    char *in = site_interior();
    interior_root = in + 40; /* interior only: possibly lost */
    *(void **)(in + 64) = site_behind_interior(); /* reached through a possibly lost block */

    hidden_root = (uintptr_t)site_hidden() ^ 0x5a5a5a5a5a5aull;

    global_roots[4] = site_big();
    site_big_lost();

    mapped_roots = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mapped_roots[100] = site_mapped();

    global_roots[5] = site_realloc();

    for (int i = 0; i < 3; i++)
        site_lost();
}

static NOINLINE void checkpoint(void)
{
    if (RUNNING_ON_VALGRIND) {
        VALGRIND_DO_LEAK_CHECK;
        return;
    }
    /* leaktag: the snapshot signal, then wait until its file exists */
    const char *expect = getenv("REACH_CASES_SNAPSHOT");
    raise(SIGUSR2);
    for (int i = 0; expect && i < 3000 && access(expect, F_OK) != 0; i++)
        usleep(10000);
}

int main(int argc, char **argv)
{
    int mid = argc > 1 && !strcmp(argv[1], "mid");
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, helper, NULL);
    wait_for(&ready, 2);
    run();
    scrub();
    if (mid)
        checkpoint();
    pthread_mutex_lock(&lock);
    stage = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    scrub();
    return 0;
}
