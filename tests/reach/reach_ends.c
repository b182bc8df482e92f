/* Blocks whose only pointer is left in a frame that is dead when the process ends, for
 * test_reach_ends.py to compare leaktag's verdict at the end with memcheck's, site by site:
 * a dead frame is no root for valgrind, and must not be one for leaktag either.
 *
 *   reach_ends far WORDS abort|exit   site_far's block: its only pointer is left WORDS words
 *                                     deep in a frame that has returned (far below main's
 *                                     stack pointer), then abort() or exit(0)
 *   reach_ends altstack               site_far's block buried 512 words deep, then exit(0)
 *                                     from a signal handler on a 16 KiB sigaltstack with an
 *                                     inaccessible page above it (leaktag's search for where
 *                                     the exit handlers began must stay on the thread's stack)
 *   reach_ends drop PAD               site_dropped's block: p = malloc(100); p = NULL; below
 *                                     PAD words of alloca, then main returns (stale copies
 *                                     in the allocator's frames land where the exit handlers'
 *                                     frames run, at some paddings)
 *   reach_ends threads                four threads, all alive at once (so each has its own
 *                                     stack, which glibc keeps for the next thread once it
 *                                     has ended), each leaves its block's only pointer in a
 *                                     local (site_exited_local), deep in an alloca
 *                                     (site_exited_alloca), in the name it gave itself
 *                                     (site_named) or in static TLS (site_exited_tls); all
 *                                     joined, then main returns
 *
 * Build it -O0: every store of a pointer stays a store. */
#include <alloca.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#define NOIPA static __attribute__((noipa))

NOIPA void *site_far(size_t n)
{
    return malloc(n);
}
NOIPA void *site_dropped(size_t n)
{
    return malloc(n);
}
NOIPA void *site_exited_local(size_t n)
{
    return malloc(n);
}
NOIPA void *site_exited_alloca(size_t n)
{
    return malloc(n);
}
NOIPA void *site_exited_tls(size_t n)
{
    return malloc(n);
}
NOIPA void *site_named(size_t n)
{
    return malloc(n);
}

/* where bury left it: the address of a stack slot, not of the block */
static void *volatile *volatile far_slot;
/* static TLS of the executable: in a thread's stack mapping, above the stack pointer the
 * thread ends with */
static __thread void *volatile tls_ptr;

/* a use of the slot, so that the store to it is kept */
NOIPA void keep(void *volatile *slot)
{
    (void)slot;
}

NOIPA void bury(size_t words)
{
    void *volatile room[words]; /* a VLA: room[0] is words * 8 bytes down */
    room[0] = site_far(1337);
    far_slot = &room[0];
}

NOIPA void drop(size_t pad)
{
    volatile char *room = alloca(pad * 8 + 1);
    room[0] = 0;
    void *volatile p = site_dropped(100);
    p = NULL;
    (void)p;
}

static pthread_barrier_t all_started;

static void *exited_local(void *arg)
{
    pthread_barrier_wait(&all_started);
    void *volatile p = site_exited_local(100);
    keep(&p);
    return arg;
}

static void *exited_alloca(void *arg)
{
    pthread_barrier_wait(&all_started);
    void *volatile *room = alloca(64 * 1024);
    room[16] = site_exited_alloca(200); /* deep in the thread's stack */
    keep(&room[16]);
    return arg;
}

static void *exited_tls(void *arg)
{
    pthread_barrier_wait(&all_started);
    tls_ptr = site_exited_tls(300);
    return arg;
}

static void *named(void *arg)
{
    pthread_barrier_wait(&all_started);
    char *volatile name = site_named(16);
    snprintf(name, 16, "worker-%d", (int)(long)arg);
    pthread_setname_np(pthread_self(), name);
    keep((void *volatile *)&name);
    return arg;
}

NOIPA int threads(void)
{
    void *(*fns[])(void *) = {exited_local, exited_alloca, exited_tls, named};
    enum { N = sizeof(fns) / sizeof(fns[0]) };
    pthread_t ts[N];
    /* 1 MiB each, whatever `ulimit -s` says (a thread's default size): glibc keeps up to
     * 40 MiB of ended threads' stacks, and would unmap some of four bigger ones */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_barrier_init(&all_started, NULL, N);
    for (unsigned i = 0; i < N; i++)
        if (pthread_create(&ts[i], &attr, fns[i], (void *)(long)i))
            return 1;
    for (unsigned i = 0; i < N; i++)
        pthread_join(ts[i], NULL);
    return 0;
}

static void exit_here(int sig)
{
    (void)sig;
    exit(0);
}

NOIPA int on_altstack(void)
{
    enum { ALT = 16 << 10 };
    char *alt = mmap(NULL, ALT + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED || mprotect(alt + ALT, 4096, PROT_NONE))
        return 1;
    stack_t ss = {.ss_sp = alt, .ss_size = ALT};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = exit_here;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL))
        return 1;
    raise(SIGUSR1);
    return 1; /* not reached */
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "far")) {
        bury(strtoul(argv[2], NULL, 0));
        if (!strcmp(argv[3], "abort"))
            abort();
        if (!strcmp(argv[3], "exit"))
            exit(0);
    } else if (argc == 2 && !strcmp(argv[1], "altstack")) {
        bury(512);
        return on_altstack();
    } else if (argc == 3 && !strcmp(argv[1], "drop")) {
        drop(strtoul(argv[2], NULL, 0));
        return 0;
    } else if (argc == 2 && !strcmp(argv[1], "threads")) {
        return threads();
    }
    fprintf(stderr, "usage: reach_ends far WORDS abort|exit | altstack | drop PAD | threads\n");
    return 2;
}
