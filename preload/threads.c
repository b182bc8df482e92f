/* threads.c — thread registry, the pthread_create trampoline that registers a thread before it
 * runs, thread exit detection, the inventory printed when a thread cannot be created, and the
 * grace period that lets the block table unmap retired memory. Entries come from mmap'd
 * chunks, never from malloc. */
#include "threads.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"
#include "backend.h"
#include "clock.h"
#include "compiler.h"
#include "log.h"
#include "mem.h"

LT_TLS struct lt_tls lt_tls;

#define CHUNK_SHIFT 10
#define CHUNK_ENTRIES (1u << CHUNK_SHIFT)
#define CHUNKS (LT_THREADS_MAX / CHUNK_ENTRIES)

static struct lt_thread *_Atomic chunks[CHUNKS];
static _Atomic uint32_t next_index;
static struct lt_thread overflow_entry; /* LT_THREAD_OVERFLOW, shared */
static bool membarrier_ready;
static _Atomic bool overflow_used; /* its hook_seq is shared, so it cannot show who is inside */

static void (*_Atomic exit_listener)(void);
static _Atomic pid_t leaktag_tid;      /* leaktag's thread, 0 until it runs */
static _Atomic uint64_t leaktag_stack; /* an address inside its stack, once it runs */

void lt_threads_note_leaktag(pid_t tid, uint64_t stack_addr)
{
    atomic_store_explicit(&leaktag_stack, stack_addr, memory_order_release);
    atomic_store_explicit(&leaktag_tid, tid, memory_order_release);
}

pid_t lt_threads_leaktag_tid(void)
{
    return atomic_load_explicit(&leaktag_tid, memory_order_acquire);
}

uint64_t lt_threads_leaktag_stack(void)
{
    return atomic_load_explicit(&leaktag_stack, memory_order_acquire);
}
static void (*release_thread)(struct lt_thread *self, struct lt_thread *t);

void lt_threads_on_exit(void (*fn)(void))
{
    atomic_store_explicit(&exit_listener, fn, memory_order_release);
}

int lt_threads_init(void (*release)(struct lt_thread *self, struct lt_thread *t))
{
    release_thread = release;
    overflow_entry.idx = LT_THREAD_OVERFLOW;
    overflow_entry.shared = 1;
    memcpy(overflow_entry.name, "(overflow)", sizeof("(overflow)"));
    atomic_store(&overflow_entry.state, LT_THREAD_ALIVE);
    membarrier_ready = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) ==
                       0;
    return 0;
}

struct lt_thread *lt_thread_get(uint32_t idx)
{
    if (idx == LT_THREAD_OVERFLOW)
        return &overflow_entry;
    if (idx >= atomic_load_explicit(&next_index, memory_order_acquire))
        return NULL;
    struct lt_thread *chunk = atomic_load_explicit(&chunks[idx >> CHUNK_SHIFT],
                                                   memory_order_acquire);
    return chunk ? &chunk[idx & (CHUNK_ENTRIES - 1)] : NULL;
}

uint32_t lt_threads_count(void)
{
    uint32_t n = atomic_load_explicit(&next_index, memory_order_acquire);
    return n < LT_THREAD_OVERFLOW ? n : LT_THREAD_OVERFLOW;
}

static struct lt_thread *new_entry(void)
{
    uint32_t idx = atomic_load_explicit(&next_index, memory_order_relaxed);
    do {
        if (idx >= LT_THREAD_OVERFLOW) {
            atomic_store(&overflow_used, true);
            lt_log_once("more than %u threads; later ones are counted together", idx);
            return &overflow_entry;
        }
    } while (!atomic_compare_exchange_weak(&next_index, &idx, idx + 1));
    /* The index is taken but lt_thread_get refuses it until the chunk exists: map it first. */
    struct lt_thread *_Atomic *slot = &chunks[idx >> CHUNK_SHIFT];
    struct lt_thread *chunk = atomic_load_explicit(slot, memory_order_acquire);
    if (!chunk) {
        struct lt_thread *fresh = lt_mem_map(sizeof(struct lt_thread) * CHUNK_ENTRIES);
        if (!fresh) { /* mem.c has said so, once */
            atomic_store(&overflow_used, true);
            return &overflow_entry;
        }
        if (atomic_compare_exchange_strong(slot, &chunk, fresh))
            chunk = fresh;
        else
            lt_mem_unmap(fresh, sizeof(struct lt_thread) * CHUNK_ENTRIES);
    }
    struct lt_thread *t = &chunk[idx & (CHUNK_ENTRIES - 1)];
    t->idx = idx;
    return t;
}

/* Makes t the calling thread's entry. */
static void adopt(struct lt_thread *t)
{
    t->tid = (pid_t)syscall(SYS_gettid);
    t->handle = (uint64_t)pthread_self();
    lt_real_system()->prctl(PR_GET_NAME, (unsigned long)t->name, 0, 0, 0);
    atomic_store_explicit(&t->state, LT_THREAD_ALIVE, memory_order_release);
}

struct lt_thread *lt_thread_attach(void)
{
    struct lt_thread *t = new_entry();
    if (t == &overflow_entry)
        return t;
    t->start_cs = lt_clock_cs();
    adopt(t);
    return t;
}

/* An entry for the thread about to be created, counted as alive at once (the inventory printed
 * when creation fails must include threads that have not run yet); the new thread adopts it,
 * or it is given back if creation fails. */
static struct lt_thread *reserve(uint64_t stack_size)
{
    struct lt_thread *t = new_entry();
    if (t == &overflow_entry)
        return t;
    t->start_cs = lt_clock_cs();
    t->stack_size = stack_size;
    atomic_store_explicit(&t->state, LT_THREAD_ALIVE, memory_order_release);
    return t;
}

static void unreserve(struct lt_thread *t)
{
    if (t == &overflow_entry)
        return;
    t->stack_size = 0;
    atomic_store_explicit(&t->state, 0, memory_order_release); /* never had a thread */
}

/* The thread of t has ended (by_itself: t is the calling thread, on its way out; otherwise
 * it is gone). Whoever clears ALIVE does the rest, once. */
static void ended(struct lt_thread *t, bool by_itself)
{
    if (t == &overflow_entry) /* shared: it lives on */
        return;
    uint32_t state = atomic_fetch_and(&t->state, ~(uint32_t)LT_THREAD_ALIVE);
    if (!(state & LT_THREAD_ALIVE))
        return;
    if (release_thread)
        release_thread(lt_self(), t);
    /* The comm name may have been set behind our back (writing /proc/.../comm). */
    if (by_itself)
        lt_real_system()->prctl(PR_GET_NAME, (unsigned long)t->name, 0, 0, 0);
    t->exit_cs = lt_clock_cs();
    atomic_fetch_or(&t->state, LT_THREAD_EXITED);
    void (*listener)(void) = atomic_load_explicit(&exit_listener, memory_order_acquire);
    if (listener && !(state & LT_THREAD_INTERNAL))
        listener();
}

void lt_thread_exiting(void)
{
    struct lt_thread *self = lt_tls.self;
    if (self) {
        uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
        if (self != &overflow_entry && self->stack_addr < sp &&
            sp - self->stack_addr < self->stack_size && sp - self->stack_addr <= UINT32_MAX)
            self->exit_sp_offset = (uint32_t)(sp - self->stack_addr);
        lt_enter();
        ended(self, true);
        lt_leave();
    }
}

void lt_threads_reap(void)
{
    /* Threads leaktag did not start (C11 thrd_create and glibc's helper threads call the
     * real pthread_create; a DEEPBIND library binds to it) and that did not end through
     * pthread_exit: ended once the kernel no longer knows their tid. */
    pid_t pid = getpid();
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (!t || t->exit_seen || !t->tid || t->tid == pid)
            continue;
        uint32_t state = atomic_load_explicit(&t->state, memory_order_acquire);
        if ((state & LT_THREAD_ALIVE) && !(state & LT_THREAD_INTERNAL) &&
            syscall(SYS_tgkill, pid, t->tid, 0) != 0 && errno == ESRCH)
            ended(t, false);
    }
}

uint32_t lt_threads_alive(void)
{
    uint32_t n = lt_threads_count(), alive = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        uint32_t state = t ? atomic_load_explicit(&t->state, memory_order_acquire) : 0;
        alive += (state & LT_THREAD_ALIVE) && !(state & (LT_THREAD_EXITED | LT_THREAD_INTERNAL));
    }
    return alive;
}

void lt_thread_note_stack(struct lt_thread *t)
{
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr))
        return;
    void *addr;
    size_t size, guard;
    if (!pthread_attr_getstack(&attr, &addr, &size)) {
        t->stack_addr = (uintptr_t)addr;
        t->stack_size = size;
    }
    if (!pthread_attr_getguardsize(&attr, &guard))
        t->guard_size = guard <= UINT32_MAX ? (uint32_t)guard : UINT32_MAX;
    pthread_attr_destroy(&attr);
}

void lt_thread_set_name(pthread_t handle, const char *name)
{
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (t && (atomic_load_explicit(&t->state, memory_order_acquire) & LT_THREAD_ALIVE) &&
            t->handle == (uint64_t)handle) {
            char copy[16] = {0};
            strncpy(copy, name, sizeof(copy) - 1);
            memcpy(t->name, copy, sizeof(copy));
            return;
        }
    }
}

bool lt_threads_quiesce(const struct lt_thread *self, int64_t timeout_ns)
{
    if (!membarrier_ready || atomic_load(&overflow_used))
        return false;
    /* After this every thread's earlier hook_seq store is visible and no thread can still
     * be about to read a table pointer it loaded before we unpublished it. */
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        return false;
    int64_t deadline = lt_clock_ns(CLOCK_MONOTONIC) + timeout_ns;
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (!t || t == self)
            continue;
        uint32_t seq = atomic_load_explicit(&t->hook_seq, memory_order_acquire);
        if (!(seq & 1))
            continue;
        while (atomic_load_explicit(&t->hook_seq, memory_order_acquire) == seq) {
            if (lt_clock_ns(CLOCK_MONOTONIC) > deadline)
                return false;
            sched_yield();
        }
    }
    return true;
}

static uint64_t vm_size_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    uint64_t pages = 0;
    for (char *p = buf; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (uint64_t)(*p - '0');
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* One line describing live threads and their stack reservations, for pthread_create
 * failures ("92 threads alive; 91 x 32 MiB stacks = 2.8 GiB; VmSize 3.0 GiB"). */
static void inventory(char *buf, size_t size)
{
    /* Group the live threads by stack reservation; a handful of distinct sizes is typical. */
    struct {
        uint64_t stack;
        uint32_t count;
    } groups[8];
    size_t ngroups = 0;
    uint32_t alive = 0, unknown = 0;
    uint64_t reserved = 0;
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (!t || !(atomic_load_explicit(&t->state, memory_order_acquire) & LT_THREAD_ALIVE))
            continue;
        alive++;
        if (!t->stack_size) {
            unknown++;
            continue;
        }
        reserved += t->stack_size;
        size_t g = 0;
        while (g < ngroups && groups[g].stack != t->stack_size)
            g++;
        if (g == ngroups && ngroups < lt_array_size(groups))
            groups[ngroups++] = (typeof(groups[0])){t->stack_size, 0};
        if (g < ngroups)
            groups[g].count++;
    }
    /* Largest reservation first: the line should read "95 x 32 MiB" before the strays. */
    for (size_t i = 1; i < ngroups; i++)
        for (size_t j = i;
             j > 0 && groups[j].stack * groups[j].count > groups[j - 1].stack * groups[j - 1].count;
             j--) {
            typeof(groups[0]) swap = groups[j];
            groups[j] = groups[j - 1];
            groups[j - 1] = swap;
        }
    size_t len = (size_t)lt_format(buf, size, "%u threads alive", alive);
    for (size_t g = 0; g < ngroups && len < size; g++) {
        char each[32];
        lt_format_bytes(each, sizeof(each), groups[g].stack);
        len += (size_t)lt_format(buf + len, size - len, "%s %u x %s", g ? "," : ";",
                                 groups[g].count, each);
    }
    char total[32], vm[32], limit[32];
    lt_format_bytes(total, sizeof(total), reserved);
    lt_format_bytes(vm, sizeof(vm), vm_size_bytes());
    if (len < size)
        len += (size_t)lt_format(buf + len, size - len, " stacks = %s reserved", total);
    if (unknown && len < size)
        len += (size_t)lt_format(buf + len, size - len, " (+%u of unknown size)", unknown);
    struct rlimit as;
    if (len < size && getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
        lt_format(buf + len, size - len, "; VmSize %s of the %s address-space limit", vm,
                  lt_format_bytes(limit, sizeof(limit), as.rlim_cur));
    else if (len < size && sizeof(void *) == 4) /* where stacks do run out without a limit */
        lt_format(buf + len, size - len, "; VmSize %s of the %s a 32-bit process has", vm,
                  lt_format_bytes(limit, sizeof(limit), lt_arch_address_space()));
    else if (len < size)
        lt_format(buf + len, size - len, "; VmSize %s", vm);
}

/* ---- the pthread_create trampoline ------------------------------------------------------------ */

struct thread_start {
    void *(*fn)(void *);
    void *arg;
    uint32_t creator;
    struct lt_thread *entry; /* reserved by the creator */
};

/* glibc's cancellation protocol, as pthread_cleanup_push expands to without -fexceptions
 * (with it, the macro uses a cleanup attribute, which glibc's forced unwind skips in the
 * frame start_thread calls): pthread_exit and cancellation longjmp here on their way out. */
extern void __pthread_register_cancel(__pthread_unwind_buf_t *buf) __cleanup_fct_attribute;
extern void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf) __cleanup_fct_attribute;
extern void __pthread_unwind_next(__pthread_unwind_buf_t *buf) __cleanup_fct_attribute
    __attribute__((noreturn));
extern int __sigsetjmp(struct __jmp_buf_tag *env, int savemask) __attribute__((returns_twice));

static void *thread_main(void *raw)
{
    struct thread_start start = *(struct thread_start *)raw;
    lt_real.free(raw);
    lt_enter();
    struct lt_thread *self = lt_tls.self;
    if (self) {
        unreserve(start.entry); /* glibc allocated on our behalf before we ran */
    } else {
        self = lt_tls.self = start.entry;
        if (self != &overflow_entry)
            adopt(self);
    }
    self->creator = start.creator;
    self->start_routine = (uintptr_t)start.fn;
    self->exit_seen = true;
    lt_thread_note_stack(self);
    lt_leave();
    __pthread_unwind_buf_t unwinding;
    if (__sigsetjmp((struct __jmp_buf_tag *)(void *)unwinding.__cancel_jmp_buf, 0)) {
        lt_thread_exiting();
        __pthread_unwind_next(&unwinding);
    }
    __pthread_register_cancel(&unwinding);
    void *result = start.fn(start.arg);
    __pthread_unregister_cancel(&unwinding);
    lt_thread_exiting();
    return result;
}

/* The stack the new thread will get: its attribute's, or the process default (ulimit -s). */
static uint64_t requested_stack(const pthread_attr_t *attr)
{
    size_t size = 0;
    pthread_attr_t defaults;
    if (attr) {
        pthread_attr_getstacksize(attr, &size);
    } else if (pthread_getattr_default_np(&defaults) == 0) {
        pthread_attr_getstacksize(&defaults, &size);
        pthread_attr_destroy(&defaults);
    }
    return size;
}

static const char *errno_name(int err)
{
    switch (err) {
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    default: return "error";
    }
}

int lt_thread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    struct thread_start *start = lt_real.malloc(sizeof(*start));
    if (!start)
        return lt_real_system()->pthread_create(thread, attr, fn, arg);
    lt_enter();
    struct lt_thread *self = lt_self();
    struct lt_thread *entry = reserve(requested_stack(attr));
    lt_leave();
    *start = (struct thread_start){fn, arg, self->idx, entry};
    int err = lt_real_system()->pthread_create(thread, attr, thread_main, start);
    if (err) {
        unreserve(entry);
        lt_real.free(start);
        /* The seed's third case: out of address space for stacks. Say why, once. */
        static _Atomic int told;
        if ((err == EAGAIN || err == ENOMEM) && !atomic_exchange(&told, 1)) {
            char line[512];
            inventory(line, sizeof(line));
            lt_log("pthread_create failed (%s): %s", errno_name(err), line);
        }
    }
    return err;
}

void lt_threads_after_fork_child(struct lt_thread *self)
{
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (!t || t == self)
            continue;
        /* Those threads did not survive the fork; one may have been inside a hook. */
        atomic_store(&t->hook_seq, 0);
        if (atomic_load(&t->state) & LT_THREAD_ALIVE) {
            atomic_fetch_and(&t->state, ~(uint32_t)LT_THREAD_ALIVE);
            atomic_fetch_or(&t->state, LT_THREAD_EXITED);
            t->exit_cs = lt_clock_cs();
        }
    }
    if (self && self != &overflow_entry) {
        self->tid = (pid_t)syscall(SYS_gettid);
        self->handle = (uint64_t)pthread_self();
    }
}
