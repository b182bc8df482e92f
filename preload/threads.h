/* threads.h — the registry of every thread that ever allocated: tid, name, stack reservation,
 * lifetime and per-thread counters. Entries live in mmap'd chunks and are never freed, so a
 * block's thread index stays valid after the thread exits.
 *
 * 2^20 - 1 threads get entries of their own; later ones share an overflow entry. An entry is
 * made at the thread's first allocation, or by the pthread_create trampoline (threads.c),
 * which also records the start routine, the creator and the stack reservation
 * (pthread_getattr_np). Names follow pthread_setname_np and prctl(PR_SET_NAME) and are read
 * again at thread exit, which also wakes leaktag's thread. No pthread key is taken: the
 * trampoline sees its thread's start routine return and, registered in glibc's cancellation
 * chain, pthread_exit and cancellation; the pthread_exit wrapper sees the main thread and
 * threads leaktag did not start; those that just return (C11 thrd_create, glibc's helpers) are
 * found gone by tid each second (leaktag's thread). A failing pthread_create prints one line
 * with the thread and stack inventory, once. Counters live in the entry and are written only
 * by their thread (no shared cache line on the hot path; the shared overflow entry counts
 * atomically); totals are sums (tracker.c). */
#ifndef LT_THREADS_H
#define LT_THREADS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "compiler.h"
#include "format.h"

struct lt_stackcache;

#define LT_THREADS_MAX (1u << 20) /* thread index fits 20 bits in a table slot */
_Static_assert(LT_THREADS_MAX == LT_FORMAT_THREADS_MAX, "thread indexes are on disk");
#define LT_THREAD_OVERFLOW (LT_THREADS_MAX - 1) /* shared by every thread past the limit */

enum lt_thread_state {
    LT_THREAD_ALIVE = 1,
    LT_THREAD_EXITED = 2,
    LT_THREAD_INTERNAL = 4, /* leaktag's own worker */
};
/* The state is written to snapshots as it is. */
_Static_assert(LT_THREAD_ALIVE == LT_THREAD_FLAG_ALIVE &&
                   LT_THREAD_EXITED == LT_THREAD_FLAG_EXITED &&
                   LT_THREAD_INTERNAL == LT_THREAD_FLAG_INTERNAL,
               "thread state bits are on disk");

struct lt_thread {
    /* First cache line: what every hook reads or writes; other threads read it rarely. */
    _Atomic uint32_t hook_seq; /* odd while the owner is inside the block table */
    uint32_t idx;
    _Atomic uint64_t allocs;
    _Atomic uint64_t frees; /* frees of tracked blocks done by this thread */
    _Atomic uint64_t bytes_allocated;
    _Atomic uint64_t bytes_freed;
    int64_t unpublished_bytes;         /* live-byte change not yet added to the global figure */
    uint32_t shared;                   /* several threads use this entry: count atomically */
    uint32_t creator;                  /* index of the thread that created it */
    struct lt_stackcache *stack_cache; /* this thread's validated stacks (stackcache.h) */

    struct lt_nursery *_Atomic nursery; /* this thread's young blocks (nursery.h), or NULL;
                                         * other threads read it to free blocks held there */
    bool nursery_tried;                 /* NULL above is final */

    /* Identity and rare events. */
    _Atomic uint64_t unknown_frees;
    _Atomic uint64_t mismatches;
    _Atomic uint64_t untracked_blocks; /* lost because leaktag's own memory ran out */
    _Atomic uint64_t untracked_bytes;
    pid_t tid;
    _Atomic uint32_t state;
    uint32_t start_cs, exit_cs;
    uint64_t handle;        /* pthread_t */
    uint64_t start_routine; /* function the thread was started with */
    uint64_t stack_addr, stack_size;
    uint32_t guard_size;
    uint32_t exit_sp_offset; /* its stack pointer on its way out, from stack_addr (0: not
                                seen): glibc keeps the stack for a next thread, and what
                                lies below is dead, no verdict's root */
    bool exit_seen;          /* started by leaktag: its end is seen, not polled for */
    char name[16];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct lt_thread) == 192, "thread entry layout");

/* release(self, t) hands over what an ended thread t leaves behind (its young blocks, its
 * stack cache) to the modules above that own them; self is the calling thread's entry. */
int lt_threads_init(void (*release)(struct lt_thread *self, struct lt_thread *t));

/* Entry by index, or NULL for an index never handed out. */
struct lt_thread *lt_thread_get(uint32_t idx);
uint32_t lt_threads_count(void);

/* Records what pthread_getattr_np says about the calling thread's stack. */
void lt_thread_note_stack(struct lt_thread *t);

/* pthread_setname_np / prctl(PR_SET_NAME) have succeeded for a thread. */
void lt_thread_set_name(pthread_t handle, const char *name);

/* What leaktag keeps per thread: initial-exec TLS, so reading it never allocates, locks or
 * calls into the loader (a signal handler may). */
struct lt_tls {
    struct lt_thread *self; /* registry entry, created on the thread's first allocation */
    uint32_t guard;         /* non-zero inside leaktag: nothing is tracked */
    uintptr_t guard_frame;  /* frame of the function that took the guard from 0 */
    uintptr_t roots_from;   /* where the verdict's roots in this thread start: leaktag_snapshot
                               below guard_frame, where it saved its caller's registers; a
                               final snapshot where the way out entered leaktag, or the
                               interrupted stack pointer less the red zone; 0 */
    int64_t sample_left;    /* sampled mode: bytes to allocate before the next sampled block */
    uint64_t rng;           /* sampled mode: this thread's random state */
    /* Non-zero while a block of this thread is in no table (realloc: from taking the old
     * block out until the new one is recorded): a reachability scan must not copy the
     * process then (verdict.c lets the thread run on). */
    uint32_t moving;
};
extern LT_TLS struct lt_tls lt_tls;

/* leaktag's own work in this thread (start-up, a snapshot, registering a thread): until the
 * matching lt_leave, what it allocates goes untracked and no hook records anything. Nests. */
LT_INLINE void lt_enter(void)
{
    /* The caller's frame (always inlined): a hook entered from this frame or above it finds
     * the guard abandoned (lt_guard_abandoned). */
    if (lt_tls.guard++ == 0)
        lt_tls.guard_frame = (uintptr_t)__builtin_frame_address(0);
}

LT_INLINE void lt_leave(void)
{
    lt_tls.guard--;
}

/* Is this thread inside leaktag (or in a handler that interrupted it)? */
LT_INLINE bool lt_inside(void)
{
    return lt_unlikely(lt_tls.guard != 0);
}

/* Entry for the calling thread, created on its first allocation. Never NULL. */
struct lt_thread *lt_thread_attach(void);

/* This thread's entry, attached on first use. Never NULL. */
LT_INLINE struct lt_thread *lt_self(void)
{
    struct lt_thread *self = lt_tls.self;
    if (lt_unlikely(!self))
        self = lt_tls.self = lt_thread_attach();
    return self;
}

/* pthread_create through a trampoline: the new thread's entry is reserved before it runs (so
 * an inventory printed when creation fails counts it) and learns its creator, start routine
 * and stack. A failure for want of room (EAGAIN, ENOMEM) prints the inventory, once. */
int lt_thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

/* Adds to a counter of t: a plain read-modify-write when only its owner writes it. */
static inline void lt_thread_add(struct lt_thread *t, _Atomic uint64_t *counter, uint64_t n)
{
    if (__builtin_expect(t->shared, 0))
        atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
    else
        atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                              memory_order_relaxed);
}

/* Grace period for memory retired from the block table: returns true once every thread but
 * self that might still read it has left the table, false if one has not within timeout_ns. */
bool lt_threads_quiesce(const struct lt_thread *self, int64_t timeout_ns);

/* Leaktag's own thread (worker.c) says it runs (tid, an address inside its stack) or, with
 * 0, 0, that it does not. The others ask: its tid (0 when not running), and where its stack
 * is (0 before it runs), where nothing is the application's. */
void lt_threads_note_leaktag(pid_t tid, uint64_t stack_addr);
pid_t lt_threads_leaktag_tid(void);
uint64_t lt_threads_leaktag_stack(void);

/* fn runs in every application thread that ends (after its entry is marked exited); NULL:
 * nothing runs. Async-signal-safe work only. */
void lt_threads_on_exit(void (*fn)(void));

/* The calling thread is ending (its start routine returned, or pthread_exit): its entry is
 * marked exited, once. Allocations after this (destructors) still count as its own. */
void lt_thread_exiting(void);

/* Marks exited the threads leaktag did not start whose tid is gone. */
void lt_threads_reap(void);
/* Application threads the registry holds alive (after lt_threads_reap: those it did not start
 * checked with the kernel). A thread that never allocated is not there. */
uint32_t lt_threads_alive(void);

/* fork(): in the child only the forking thread exists. */
void lt_threads_after_fork_child(struct lt_thread *self);

#endif
