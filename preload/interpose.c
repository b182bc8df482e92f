/* interpose.c — the exported entry points that replace libc's and libstdc++'s: the malloc
 * family, the C++ operators new/delete (by their Itanium names) and the thread functions
 * leaktag needs to watch. Each wrapper only forwards to the real function and tells the
 * tracker; the logic lives in tracker.c. Built with -fno-builtin and -fexceptions (a failing
 * operator new throws through these frames). */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "backend.h"
#include "compiler.h"
#include "log.h"
#include "tracker.h"
#include "worker.h"

#define CALLER __builtin_return_address(0)
/* Where CALLER is stored: the key of the per-thread stack cache. Using the frame address
 * makes the exported function keep a frame pointer, so the slot is right above it. */
#define RA_SLOT ((const uint64_t *)__builtin_frame_address(0) + 1)

/* ---- bootstrap: before the real allocator is known ---------------------------------- */

static void *untracked_malloc(size_t size)
{
    void *(*fn)(size_t) = __atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE);
    return fn ? fn(size) : lt_scratch_alloc(size, 16);
}

static void *untracked_calloc(size_t n, size_t size)
{
    if (__atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE))
        return lt_real.calloc(n, size);
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return lt_scratch_alloc(bytes, 16); /* scratch memory is never reused: already zero */
}

static void *untracked_memalign(size_t align, size_t size)
{
    if (__atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE))
        return lt_real.memalign(align, size);
    return lt_scratch_alloc(size, align);
}

static void untracked_free(void *p)
{
    if (__atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE))
        lt_real.free(p);
}

/* realloc of a scratch block: move it into the real heap (tracked like any malloc). */
static void *scratch_realloc(void *p, size_t size)
{
    void *q = malloc(size);
    if (q)
        memcpy(q, p, lt_min(size, lt_scratch_size(p)));
    return q;
}

/* ---- the C allocator ------------------------------------------------------------------ */

LT_EXPORT void *malloc(size_t size)
{
    if (!lt_hook_begin())
        return untracked_malloc(size);
    void *p = lt_real.malloc(size);
    if (lt_likely(p != NULL))
        lt_track_alloc(p, size, LT_KIND_MALLOC, CALLER, RA_SLOT);
    lt_hook_end();
    return p;
}

LT_EXPORT void *calloc(size_t n, size_t size)
{
    if (!lt_hook_begin())
        return untracked_calloc(n, size);
    void *p = lt_real.calloc(n, size);
    if (lt_likely(p != NULL))
        lt_track_alloc(p, n * size, LT_KIND_CALLOC, CALLER, RA_SLOT);
    lt_hook_end();
    return p;
}

static inline void release(void *p, enum lt_release how, const void *caller)
{
    if (lt_unlikely(!p || lt_scratch_owns(p)))
        return;
    if (!lt_hook_begin()) {
        untracked_free(p);
        return;
    }
    /* Before the real free: the address may be reused at once. (In sampled mode, blocks
     * that were never recorded skip the table: one filter load.) */
    if (lt_table_may_contain((uint64_t)p))
        lt_track_release(p, how, caller);
    lt_real.free(p);
    lt_hook_end();
}

LT_EXPORT void free(void *p)
{
    release(p, LT_RELEASE_FREE, CALLER);
}

/* realloc and reallocarray: the old block leaves the table while the real call runs and
 * comes back if it fails, so a concurrent malloc that reuses the address cannot collide. */
static void *resize(void *p, size_t n, size_t m, enum lt_kind kind, const void *caller,
                    const uint64_t *ra_slot)
{
    struct lt_block old;
    bool had = p && lt_track_detach(p, &old);
    void *q = kind == LT_KIND_REALLOC ? lt_real.realloc(p, n) : lt_real.reallocarray(p, n, m);
    size_t bytes = n;
    /* An overflowing reallocarray fails with ENOMEM and leaves p alone; a product that
     * wrapped to 0 must not pass for realloc(p, 0), which frees p. */
    bool overflow = kind != LT_KIND_REALLOC && __builtin_mul_overflow(n, m, &bytes);
    bool released = p && (q || (bytes == 0 && !overflow)); /* glibc: realloc(p, 0) frees p */
    if (released) {
        if (had)
            lt_track_commit_release(&old, LT_RELEASE_FREE, caller);
        else
            lt_track_unknown_release(LT_RELEASE_FREE, caller);
    } else if (had) {
        lt_track_restore(&old);
    }
    if (q)
        lt_track_alloc(q, bytes, kind, caller, ra_slot);
    return q;
}

LT_EXPORT void *realloc(void *p, size_t size)
{
    if (lt_unlikely(lt_scratch_owns(p)))
        return scratch_realloc(p, size);
    if (!lt_hook_begin())
        return lt_real.realloc(p, size);
    void *q = resize(p, size, 1, LT_KIND_REALLOC, CALLER, RA_SLOT);
    lt_hook_end();
    return q;
}

LT_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (lt_unlikely(lt_scratch_owns(p))) {
        size_t bytes;
        if (__builtin_mul_overflow(n, size, &bytes)) {
            errno = ENOMEM;
            return NULL;
        }
        return scratch_realloc(p, bytes);
    }
    if (!lt_hook_begin())
        return lt_real.reallocarray(p, n, size);
    void *q = resize(p, n, size, LT_KIND_REALLOCARRAY, CALLER, RA_SLOT);
    lt_hook_end();
    return q;
}

LT_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!lt_hook_begin()) {
        if (__atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE))
            return lt_real.posix_memalign(out, align, size);
        if (align < sizeof(void *) || (align & (align - 1)))
            return EINVAL;
        void *p = lt_scratch_alloc(size, align);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    int err = lt_real.posix_memalign(out, align, size);
    if (err == 0)
        lt_track_alloc(*out, size, LT_KIND_POSIX_MEMALIGN, CALLER, RA_SLOT);
    lt_hook_end();
    return err;
}

/* aligned_alloc, memalign, valloc and pvalloc differ only in the real function they call. */
#define ALIGNED_HOOK(name, kind, params, args, untracked)                                  \
    LT_EXPORT void *name params                                                          \
    {                                                                                    \
        if (!lt_hook_begin())                                                            \
            return untracked;                                                            \
        void *p = lt_real.name args;                                                     \
        if (lt_likely(p != NULL))                                                        \
            lt_track_alloc(p, size, kind, CALLER, RA_SLOT);                              \
        lt_hook_end();                                                                   \
        return p;                                                                        \
    }

ALIGNED_HOOK(aligned_alloc, LT_KIND_ALIGNED_ALLOC, (size_t align, size_t size), (align, size),
             untracked_memalign(align, size))
ALIGNED_HOOK(memalign, LT_KIND_MEMALIGN, (size_t align, size_t size), (align, size),
             untracked_memalign(align, size))
ALIGNED_HOOK(valloc, LT_KIND_VALLOC, (size_t size), (size), untracked_memalign(4096, size))
ALIGNED_HOOK(pvalloc, LT_KIND_PVALLOC, (size_t size), (size),
             untracked_memalign(4096, (size + 4095) & ~(size_t)4095))

LT_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (lt_scratch_owns(p))
        return lt_scratch_size(p);
    return lt_real.malloc_usable_size ? lt_real.malloc_usable_size(p) : 0;
}

/* ---- C++ operators new and delete ------------------------------------------------------ */

/* When the real allocator says no, the next operator new in the chain (libstdc++'s) does
 * what the standard wants: call the new_handler, retry, throw std::bad_alloc or return
 * NULL for nothrow. In a tracked call it runs without our guard (a throw must not leave the
 * guard set), so its own malloc is recorded; that record is taken back out because the
 * caller records the block with its C++ kind. */
static LT_COLD void *new_fallback(const char *next_name, size_t size, size_t align,
                                  bool nothrow, bool tracked)
{
    static const struct std_nothrow { char c; } nothrow_tag;
    /* libstdc++'s by its symbol version first: an allocator loaded before it (jemalloc
     * exports every operator new, unversioned) would hand out memory that our delete
     * returns to a different allocator. */
    void *next = dlvsym(RTLD_NEXT, next_name, align ? "CXXABI_1.3.11" : "GLIBCXX_3.4");
    if (!next)
        next = dlsym(RTLD_NEXT, next_name);
    if (tracked)
        lt_hook_end();
    void *p = NULL;
    if (!next) {
        /* No C++ runtime after us: still honour the throwing contract. */
        void (*throw_bad_alloc)(void) = (void (*)(void))dlsym(RTLD_DEFAULT,
                                                              "_ZSt17__throw_bad_allocv");
        if (!nothrow) {
            if (throw_bad_alloc)
                throw_bad_alloc();
            lt_log("operator new failed and no C++ runtime can throw std::bad_alloc");
            abort();
        }
    } else if (align && nothrow) {
        p = ((void *(*)(size_t, size_t, const void *))next)(size, align, &nothrow_tag);
    } else if (align) {
        p = ((void *(*)(size_t, size_t))next)(size, align);
    } else if (nothrow) {
        p = ((void *(*)(size_t, const void *))next)(size, &nothrow_tag);
    } else {
        p = ((void *(*)(size_t))next)(size);
    }
    if (tracked) {
        lt_tls.guard = 1; /* only reached when nothing was thrown */
        if (p)
            lt_track_forget(p);
    }
    return p;
}

static inline void *new_impl(size_t size, size_t align, enum lt_kind kind, bool nothrow,
                             const char *next_name, const void *caller, const uint64_t *ra_slot)
{
    if (!lt_hook_begin()) {
        void *p = align ? untracked_memalign(align, size) : untracked_malloc(size ? size : 1);
        return lt_likely(p != NULL) ? p : new_fallback(next_name, size, align, nothrow, false);
    }
    void *p = align ? lt_real.memalign(align, size) : lt_real.malloc(size ? size : 1);
    if (lt_unlikely(p == NULL))
        p = new_fallback(next_name, size, align, nothrow, true);
    if (lt_likely(p != NULL))
        lt_track_alloc(p, size, kind, caller, ra_slot);
    lt_hook_end();
    return p;
}

/* Declarations for the mangled names: the C compiler sees them as ordinary functions. */
#define NEW_DECL(name, ...) LT_EXPORT void *name(__VA_ARGS__);
#define DELETE_DECL(name, ...) LT_EXPORT void name(__VA_ARGS__);
NEW_DECL(_Znwm, size_t)
NEW_DECL(_Znam, size_t)
NEW_DECL(_ZnwmRKSt9nothrow_t, size_t, const void *)
NEW_DECL(_ZnamRKSt9nothrow_t, size_t, const void *)
NEW_DECL(_ZnwmSt11align_val_t, size_t, size_t)
NEW_DECL(_ZnamSt11align_val_t, size_t, size_t)
NEW_DECL(_ZnwmSt11align_val_tRKSt9nothrow_t, size_t, size_t, const void *)
NEW_DECL(_ZnamSt11align_val_tRKSt9nothrow_t, size_t, size_t, const void *)
DELETE_DECL(_ZdlPv, void *)
DELETE_DECL(_ZdaPv, void *)
DELETE_DECL(_ZdlPvm, void *, size_t)
DELETE_DECL(_ZdaPvm, void *, size_t)
DELETE_DECL(_ZdlPvRKSt9nothrow_t, void *, const void *)
DELETE_DECL(_ZdaPvRKSt9nothrow_t, void *, const void *)
DELETE_DECL(_ZdlPvSt11align_val_t, void *, size_t)
DELETE_DECL(_ZdaPvSt11align_val_t, void *, size_t)
DELETE_DECL(_ZdlPvmSt11align_val_t, void *, size_t, size_t)
DELETE_DECL(_ZdaPvmSt11align_val_t, void *, size_t, size_t)
DELETE_DECL(_ZdlPvSt11align_val_tRKSt9nothrow_t, void *, size_t, const void *)
DELETE_DECL(_ZdaPvSt11align_val_tRKSt9nothrow_t, void *, size_t, const void *)

void *_Znwm(size_t size)
{
    return new_impl(size, 0, LT_KIND_NEW, false, "_Znwm", CALLER, RA_SLOT);
}

void *_Znam(size_t size)
{
    return new_impl(size, 0, LT_KIND_NEW_ARRAY, false, "_Znam", CALLER, RA_SLOT);
}

void *_ZnwmRKSt9nothrow_t(size_t size, const void *tag)
{
    (void)tag;
    return new_impl(size, 0, LT_KIND_NEW, true, "_ZnwmRKSt9nothrow_t", CALLER, RA_SLOT);
}

void *_ZnamRKSt9nothrow_t(size_t size, const void *tag)
{
    (void)tag;
    return new_impl(size, 0, LT_KIND_NEW_ARRAY, true, "_ZnamRKSt9nothrow_t", CALLER, RA_SLOT);
}

void *_ZnwmSt11align_val_t(size_t size, size_t align)
{
    return new_impl(size, align, LT_KIND_NEW_ALIGNED, false, "_ZnwmSt11align_val_t", CALLER,
                    RA_SLOT);
}

void *_ZnamSt11align_val_t(size_t size, size_t align)
{
    return new_impl(size, align, LT_KIND_NEW_ARRAY_ALIGNED, false, "_ZnamSt11align_val_t",
                    CALLER, RA_SLOT);
}

void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag)
{
    (void)tag;
    return new_impl(size, align, LT_KIND_NEW_ALIGNED, true,
                    "_ZnwmSt11align_val_tRKSt9nothrow_t", CALLER, RA_SLOT);
}

void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag)
{
    (void)tag;
    return new_impl(size, align, LT_KIND_NEW_ARRAY_ALIGNED, true,
                    "_ZnamSt11align_val_tRKSt9nothrow_t", CALLER, RA_SLOT);
}

void _ZdlPv(void *p)
{
    release(p, LT_RELEASE_DELETE, CALLER);
}

void _ZdaPv(void *p)
{
    release(p, LT_RELEASE_DELETE_ARRAY, CALLER);
}

void _ZdlPvm(void *p, size_t size)
{
    (void)size;
    release(p, LT_RELEASE_DELETE, CALLER);
}

void _ZdaPvm(void *p, size_t size)
{
    (void)size;
    release(p, LT_RELEASE_DELETE_ARRAY, CALLER);
}

void _ZdlPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    release(p, LT_RELEASE_DELETE, CALLER);
}

void _ZdaPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    release(p, LT_RELEASE_DELETE_ARRAY, CALLER);
}

void _ZdlPvSt11align_val_t(void *p, size_t align)
{
    (void)align;
    release(p, LT_RELEASE_DELETE_ALIGNED, CALLER);
}

void _ZdaPvSt11align_val_t(void *p, size_t align)
{
    (void)align;
    release(p, LT_RELEASE_DELETE_ARRAY_ALIGNED, CALLER);
}

void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    (void)size, (void)align;
    release(p, LT_RELEASE_DELETE_ALIGNED, CALLER);
}

void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    (void)size, (void)align;
    release(p, LT_RELEASE_DELETE_ARRAY_ALIGNED, CALLER);
}

void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align, (void)tag;
    release(p, LT_RELEASE_DELETE_ALIGNED, CALLER);
}

void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align, (void)tag;
    release(p, LT_RELEASE_DELETE_ARRAY_ALIGNED, CALLER);
}

/* ---- threads ----------------------------------------------------------------------------- */

static void *next_symbol(void *_Atomic *cache, const char *name)
{
    void *fn = atomic_load_explicit(cache, memory_order_acquire);
    if (!fn) {
        fn = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(cache, fn, memory_order_release);
    }
    return fn;
}

#define NEXT(type, name)                                                                     \
    ({                                                                                       \
        static void *_Atomic cache_;                                                         \
        (type)next_symbol(&cache_, #name);                                                   \
    })

struct thread_start {
    void *(*fn)(void *);
    void *arg;
    uint32_t creator;
    struct lt_thread *entry; /* reserved by the creator */
};

static void *thread_main(void *raw)
{
    struct thread_start start = *(struct thread_start *)raw;
    lt_real.free(raw);
    lt_tls.guard++;
    struct lt_thread *self = lt_tls.self;
    if (self) {
        lt_thread_unreserve(start.entry); /* glibc allocated on our behalf before we ran */
    } else {
        self = lt_tls.self = start.entry;
        lt_thread_adopt(self);
    }
    self->creator = start.creator;
    self->start_routine = (uint64_t)start.fn;
    lt_thread_note_stack(self);
    lt_tls.guard--;
    return start.fn(start.arg);
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

LT_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                             void *(*fn)(void *), void *arg)
{
    typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    create_fn real = NEXT(create_fn, pthread_create);
    if (atomic_load_explicit(&lt_state, memory_order_acquire) != LT_STATE_ON || lt_tls.guard)
        return real(thread, attr, fn, arg);
    /* The program is becoming multithreaded: leaktag's own thread costs nothing more now. */
    lt_worker_ensure();
    struct thread_start *start = lt_real.malloc(sizeof(*start));
    if (!start)
        return real(thread, attr, fn, arg);
    lt_tls.guard++;
    struct lt_thread *self = lt_tls.self ? lt_tls.self : (lt_tls.self = lt_thread_attach());
    struct lt_thread *entry = lt_thread_reserve(requested_stack(attr));
    lt_tls.guard--;
    *start = (struct thread_start){fn, arg, self->idx, entry};
    int err = real(thread, attr, thread_main, start);
    if (err) {
        lt_thread_unreserve(entry);
        lt_real.free(start);
        /* The seed's third case: out of address space for stacks. Say why, once. */
        static _Atomic int told;
        if ((err == EAGAIN || err == ENOMEM) && !atomic_exchange(&told, 1)) {
            char inventory[512];
            lt_threads_inventory(inventory, sizeof(inventory));
            lt_log("pthread_create failed (%s): %s", errno_name(err), inventory);
        }
    }
    return err;
}

LT_EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
    typedef int (*setname_fn)(pthread_t, const char *);
    int err = NEXT(setname_fn, pthread_setname_np)(thread, name);
    if (!err && lt_tracker_active())
        lt_thread_set_name(thread, name);
    return err;
}

LT_EXPORT int prctl(int option, ...)
{
    typedef int (*prctl_fn)(int, unsigned long, unsigned long, unsigned long, unsigned long);
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    int ret = NEXT(prctl_fn, prctl)(option, a2, a3, a4, a5);
    if (ret == 0 && option == PR_SET_NAME && lt_tracker_active())
        lt_thread_set_name(pthread_self(), (const char *)a2);
    return ret;
}

/* ---- signals: the application's handler for leaktag's signal is chained, not lost -------- */

LT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
    if (lt_worker_app_sigaction(sig, act, old))
        return 0;
    return NEXT(sigaction_fn, sigaction)(sig, act, old);
}

LT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    typedef sighandler_t (*signal_fn)(int, sighandler_t);
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART; /* glibc's signal() has BSD semantics */
    if (lt_worker_app_sigaction(sig, &act, &old))
        return old.sa_handler; /* shares storage with sa_sigaction, as glibc returns it */
    return NEXT(signal_fn, signal)(sig, handler);
}
