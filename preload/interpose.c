/* interpose.c — the exported entry points that replace libc's and libstdc++'s: the malloc
 * family, the C++ operators new/delete (by their Itanium names), and the thread, name and
 * signal functions leaktag needs to watch. Nothing else: each wrapper forwards to the real
 * function and tells the tracker (tracker.h), so that this file is the whole exported
 * surface, read on one screen. Built with -fno-builtin and -fexceptions (a failing operator
 * new throws through these frames). */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "backend.h"
#include "compiler.h"
#include "exits.h"
#include "fds.h"
#include "modules.h"
#include "signals.h"
#include "tracker.h"
#include "worker.h"

#define CALLER __builtin_return_address(0)
/* Where CALLER is stored: the key of the per-thread stack cache. Using the frame address
 * makes the exported function keep a frame pointer, so the slot is right above it. */
#define RA_SLOT \
    ((const uint64_t *)(const void *)((const uintptr_t *)__builtin_frame_address(0) + 1))

/* ---- the C allocator ------------------------------------------------------------------ */

LT_EXPORT void *malloc(size_t size)
{
    if (lt_sampled_skip_alloc(size))
        return lt_real.malloc(size);
    if (!lt_hook_begin())
        return lt_untracked_malloc(size);
    void *p = lt_real.malloc(size);
    if (lt_likely(p != NULL))
        lt_track_alloc(p, size, LT_KIND_MALLOC, CALLER, RA_SLOT);
    lt_hook_end();
    return p;
}

LT_EXPORT void *calloc(size_t n, size_t size)
{
    if (!lt_hook_begin())
        return lt_untracked_calloc(n, size);
    void *p = lt_real.calloc(n, size);
    if (lt_likely(p != NULL))
        lt_track_alloc(p, n * size, LT_KIND_CALLOC, CALLER, RA_SLOT);
    lt_hook_end();
    return p;
}

LT_EXPORT void free(void *p)
{
    lt_hook_release(p, LT_RELEASE_FREE, CALLER);
}

LT_EXPORT void *realloc(void *p, size_t size)
{
    if (lt_unlikely(lt_scratch_owns(p)))
        return lt_scratch_moved(malloc(size), p, size);
    if (!lt_hook_begin())
        return lt_real.realloc(p, size);
    void *q = lt_track_resize(p, size, 1, LT_KIND_REALLOC, CALLER, RA_SLOT);
    lt_hook_end();
    return q;
}

LT_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (lt_unlikely(lt_scratch_owns(p)))
        return realloc(p, lt_array_bytes(n, size));
    if (!lt_hook_begin())
        return lt_real.reallocarray(p, n, size);
    void *q = lt_track_resize(p, n, size, LT_KIND_REALLOCARRAY, CALLER, RA_SLOT);
    lt_hook_end();
    return q;
}

LT_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!lt_hook_begin())
        return lt_untracked_posix_memalign(out, align, size);
    int err = lt_real.posix_memalign(out, align, size);
    if (err == 0)
        lt_track_alloc(*out, size, LT_KIND_POSIX_MEMALIGN, CALLER, RA_SLOT);
    lt_hook_end();
    return err;
}

/* aligned_alloc, memalign, valloc and pvalloc differ only in the real function they call. */
#define ALIGNED_HOOK(name, kind, params, args, untracked)   \
    LT_EXPORT void *name params                             \
    {                                                       \
        if (!lt_hook_begin())                               \
            return untracked;                               \
        void *p = lt_real.name args;                        \
        if (lt_likely(p != NULL))                           \
            lt_track_alloc(p, size, kind, CALLER, RA_SLOT); \
        lt_hook_end();                                      \
        return p;                                           \
    }

ALIGNED_HOOK(aligned_alloc, LT_KIND_ALIGNED_ALLOC, (size_t align, size_t size), (align, size),
             lt_untracked_memalign(align, size))
ALIGNED_HOOK(memalign, LT_KIND_MEMALIGN, (size_t align, size_t size), (align, size),
             lt_untracked_memalign(align, size))
ALIGNED_HOOK(valloc, LT_KIND_VALLOC, (size_t size), (size), lt_untracked_memalign(4096, size))
ALIGNED_HOOK(pvalloc, LT_KIND_PVALLOC, (size_t size), (size),
             lt_untracked_memalign(4096, (size + 4095) & ~(size_t)4095))

LT_EXPORT size_t malloc_usable_size(void *p)
{
    return lt_backend_usable_size(p);
}

/* ---- C++ operators new and delete (lt_hook_new, lt_hook_release) ----------------------- */

/* Declarations for the mangled names: the C compiler sees them as ordinary functions. The
 * names with a size_t in them are the LP64 spellings; the symbol is the target's (asm label):
 * size_t mangles as unsigned long, m, on 64-bit Linux and as unsigned int, j, on i386. */
#if defined(__LP64__) /* (the 32-bit Linux ABIs make size_t an unsigned int) */
#define LT_SIZE_T "m"
#else
#define LT_SIZE_T "j"
#endif
#define DELETE_DECL(name, ...) LT_EXPORT void name(__VA_ARGS__);
#define NEW_SIZED_DECL(name, symbol, ...) LT_EXPORT void *name(__VA_ARGS__) __asm__(symbol);
#define DELETE_SIZED_DECL(name, symbol, ...) LT_EXPORT void name(__VA_ARGS__) __asm__(symbol);
NEW_SIZED_DECL(_Znwm, "_Znw" LT_SIZE_T, size_t)
NEW_SIZED_DECL(_Znam, "_Zna" LT_SIZE_T, size_t)
NEW_SIZED_DECL(_ZnwmRKSt9nothrow_t, "_Znw" LT_SIZE_T "RKSt9nothrow_t", size_t, const void *)
NEW_SIZED_DECL(_ZnamRKSt9nothrow_t, "_Zna" LT_SIZE_T "RKSt9nothrow_t", size_t, const void *)
NEW_SIZED_DECL(_ZnwmSt11align_val_t, "_Znw" LT_SIZE_T "St11align_val_t", size_t, size_t)
NEW_SIZED_DECL(_ZnamSt11align_val_t, "_Zna" LT_SIZE_T "St11align_val_t", size_t, size_t)
NEW_SIZED_DECL(_ZnwmSt11align_val_tRKSt9nothrow_t, "_Znw" LT_SIZE_T "St11align_val_tRKSt9nothrow_t",
               size_t, size_t, const void *)
NEW_SIZED_DECL(_ZnamSt11align_val_tRKSt9nothrow_t, "_Zna" LT_SIZE_T "St11align_val_tRKSt9nothrow_t",
               size_t, size_t, const void *)
DELETE_DECL(_ZdlPv, void *)
DELETE_DECL(_ZdaPv, void *)
DELETE_SIZED_DECL(_ZdlPvm, "_ZdlPv" LT_SIZE_T, void *, size_t)
DELETE_SIZED_DECL(_ZdaPvm, "_ZdaPv" LT_SIZE_T, void *, size_t)
DELETE_DECL(_ZdlPvRKSt9nothrow_t, void *, const void *)
DELETE_DECL(_ZdaPvRKSt9nothrow_t, void *, const void *)
DELETE_DECL(_ZdlPvSt11align_val_t, void *, size_t)
DELETE_DECL(_ZdaPvSt11align_val_t, void *, size_t)
DELETE_SIZED_DECL(_ZdlPvmSt11align_val_t, "_ZdlPv" LT_SIZE_T "St11align_val_t", void *, size_t,
                  size_t)
DELETE_SIZED_DECL(_ZdaPvmSt11align_val_t, "_ZdaPv" LT_SIZE_T "St11align_val_t", void *, size_t,
                  size_t)
DELETE_DECL(_ZdlPvSt11align_val_tRKSt9nothrow_t, void *, size_t, const void *)
DELETE_DECL(_ZdaPvSt11align_val_tRKSt9nothrow_t, void *, size_t, const void *)

void *_Znwm(size_t size)
{
    return lt_hook_new(size, 0, LT_KIND_NEW, false, "_Znw" LT_SIZE_T, CALLER, RA_SLOT);
}

void *_Znam(size_t size)
{
    return lt_hook_new(size, 0, LT_KIND_NEW_ARRAY, false, "_Zna" LT_SIZE_T, CALLER, RA_SLOT);
}

void *_ZnwmRKSt9nothrow_t(size_t size, const void *tag)
{
    (void)tag;
    return lt_hook_new(size, 0, LT_KIND_NEW, true, "_Znw" LT_SIZE_T "RKSt9nothrow_t", CALLER,
                       RA_SLOT);
}

void *_ZnamRKSt9nothrow_t(size_t size, const void *tag)
{
    (void)tag;
    return lt_hook_new(size, 0, LT_KIND_NEW_ARRAY, true, "_Zna" LT_SIZE_T "RKSt9nothrow_t", CALLER,
                       RA_SLOT);
}

void *_ZnwmSt11align_val_t(size_t size, size_t align)
{
    return lt_hook_new(size, align, LT_KIND_NEW_ALIGNED, false, "_Znw" LT_SIZE_T "St11align_val_t",
                       CALLER, RA_SLOT);
}

void *_ZnamSt11align_val_t(size_t size, size_t align)
{
    return lt_hook_new(size, align, LT_KIND_NEW_ARRAY_ALIGNED, false,
                       "_Zna" LT_SIZE_T "St11align_val_t", CALLER, RA_SLOT);
}

void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag)
{
    (void)tag;
    return lt_hook_new(size, align, LT_KIND_NEW_ALIGNED, true,
                       "_Znw" LT_SIZE_T "St11align_val_tRKSt9nothrow_t", CALLER, RA_SLOT);
}

void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *tag)
{
    (void)tag;
    return lt_hook_new(size, align, LT_KIND_NEW_ARRAY_ALIGNED, true,
                       "_Zna" LT_SIZE_T "St11align_val_tRKSt9nothrow_t", CALLER, RA_SLOT);
}

void _ZdlPv(void *p)
{
    lt_hook_release(p, LT_RELEASE_DELETE, CALLER);
}

void _ZdaPv(void *p)
{
    lt_hook_release(p, LT_RELEASE_DELETE_ARRAY, CALLER);
}

void _ZdlPvm(void *p, size_t size)
{
    (void)size;
    lt_hook_release(p, LT_RELEASE_DELETE, CALLER);
}

void _ZdaPvm(void *p, size_t size)
{
    (void)size;
    lt_hook_release(p, LT_RELEASE_DELETE_ARRAY, CALLER);
}

void _ZdlPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    lt_hook_release(p, LT_RELEASE_DELETE, CALLER);
}

void _ZdaPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    lt_hook_release(p, LT_RELEASE_DELETE_ARRAY, CALLER);
}

void _ZdlPvSt11align_val_t(void *p, size_t align)
{
    (void)align;
    lt_hook_release(p, LT_RELEASE_DELETE_ALIGNED, CALLER);
}

void _ZdaPvSt11align_val_t(void *p, size_t align)
{
    (void)align;
    lt_hook_release(p, LT_RELEASE_DELETE_ARRAY_ALIGNED, CALLER);
}

void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    (void)size, (void)align;
    lt_hook_release(p, LT_RELEASE_DELETE_ALIGNED, CALLER);
}

void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align)
{
    (void)size, (void)align;
    lt_hook_release(p, LT_RELEASE_DELETE_ARRAY_ALIGNED, CALLER);
}

void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align, (void)tag;
    lt_hook_release(p, LT_RELEASE_DELETE_ALIGNED, CALLER);
}

void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align, (void)tag;
    lt_hook_release(p, LT_RELEASE_DELETE_ARRAY_ALIGNED, CALLER);
}

/* ---- threads and their names ---------------------------------------------------------------- */

LT_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    if (!lt_hook_applies())
        return lt_real_system()->pthread_create(thread, attr, fn, arg);
    lt_worker_ensure(); /* the program becomes multithreaded: leaktag's thread costs no more */
    return lt_thread_create(thread, attr, fn, arg);
}

/* The end of a thread leaktag did not start, or of the main thread, is seen here: no
 * pthread key is taken from the application for it. */
LT_EXPORT void pthread_exit(void *result)
{
    if (lt_tracker_active())
        lt_thread_exiting();
    lt_real_system()->pthread_exit(result);
}

LT_EXPORT int pthread_setname_np(pthread_t thread, const char *name)
{
    int err = lt_real_system()->pthread_setname_np(thread, name);
    if (!err && lt_tracker_active())
        lt_thread_set_name(thread, name);
    return err;
}

LT_EXPORT int prctl(int option, ...)
{
    va_list ap;
    va_start(ap, option);
    unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
    unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
    va_end(ap);
    int ret = lt_real_system()->prctl(option, a2, a3, a4, a5);
    if (ret == 0 && option == PR_SET_NAME && lt_tracker_active())
        lt_thread_set_name(pthread_self(), (const char *)a2);
    return ret;
}

/* ---- modules: what dlclose unloads is remembered, DEEPBIND is reported -------------------- */

LT_EXPORT void *dlopen(const char *file, int mode)
{
    lt_modules_opening();
    if (mode & RTLD_DEEPBIND)
        lt_modules_deepbind(file);
    /* A tail call: the loader finds the caller's RUNPATH from its return address. */
    return lt_real_system()->dlopen(file, mode);
}

/* The application's dlclose, with tracking on: the registry learns what goes (the rescan
 * reaches the loader, which may allocate: inside the guard). */
static void modules_changing(void)
{
    if (!lt_hook_applies())
        return;
    lt_enter();
    lt_modules_changing();
    lt_leave();
}

LT_EXPORT int dlclose(void *handle)
{
    modules_changing();
    int rc = lt_real_system()->dlclose(handle);
    modules_changing();
    return rc;
}

/* ---- the ways out that skip atexit: a final snapshot first -------------------------------- */

LT_EXPORT void _exit(int status)
{
    lt_exits_final("_exit", LT_ENTRY_SP());
    lt_real_system()->_exit(status);
}

LT_EXPORT void _Exit(int status)
{
    lt_exits_final("_Exit", LT_ENTRY_SP());
    lt_real_system()->_Exit(status);
}

/* ---- descriptors: leaktag's own (libunwind's pipe) live above the application's --------- */

LT_EXPORT int pipe2(int fds[2], int flags)
{
    return lt_inside() ? lt_fds_pipe2(fds, flags) : lt_real_system()->pipe2(fds, flags);
}

/* ---- signals: the application's handler for leaktag's signal is chained, not lost -------- */

LT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (lt_signals_app_sigaction(sig, act, old))
        return 0;
    return lt_real_system()->sigaction(sig, act, old);
}

LT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    int rc = lt_real_system()->sigprocmask(how, set, old);
    if (rc == 0 && set)
        lt_worker_mask_changed();
    return rc;
}

LT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    int err = lt_real_system()->pthread_sigmask(how, set, old);
    if (err == 0 && set)
        lt_worker_mask_changed();
    return err;
}

LT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART; /* glibc's signal() has BSD semantics */
    if (lt_signals_app_sigaction(sig, &act, &old))
        return old.sa_handler; /* shares storage with sa_sigaction, as glibc returns it */
    return lt_real_system()->signal(sig, handler);
}
