/* backend.c — resolve the real functions behind the wrappers and serve bootstrap allocations.
 * dlsym may call malloc/calloc before we know where malloc is: those come from the
 * scratch arena below, and frees of scratch memory are ignored by the hooks.
 *
 * With LEAKTAG_BACKEND=jemalloc the allocator is jemalloc's mallocx, rallocx, dallocx and
 * sallocx, referenced weakly: present when the program links jemalloc, or under
 * libleaktag-jemalloc.so, the same shim with libjemalloc.so.2 as a dependency, since
 * jemalloc's initial-exec TLS cannot be dlopen'ed late. A block goes back to the allocator
 * that made it. pthread_create, pthread_setname_np, prctl, sigaction, signal and the other
 * system functions are resolved with the allocator, or on first use by a wrapper that runs
 * before start-up. */
#include "backend.h"

#include "config.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"
#include "options.h"

struct lt_backend lt_real;
_Atomic bool lt_backend_system_ready;

#define SCRATCH_BYTES (256 * 1024)
alignas(64) char lt_scratch_area[SCRATCH_BYTES];
const size_t lt_scratch_capacity = SCRATCH_BYTES;
static _Atomic size_t scratch_used;

/* Each scratch block is preceded by its size so realloc can copy it out. */
void *lt_scratch_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    if (align & (align - 1)) {
        errno = EINVAL;
        return NULL;
    }
    if (size > SCRATCH_BYTES || align > SCRATCH_BYTES) {
        errno = ENOMEM; /* as malloc(3) says; the area's end is checked below */
        return NULL;
    }
    uintptr_t base = (uintptr_t)lt_scratch_area; /* aligned to 64 only: align the address */
    size_t old = atomic_load_explicit(&scratch_used, memory_order_relaxed);
    for (;;) {
        size_t start = ((base + old + 16 + align - 1) & ~(uintptr_t)(align - 1)) - base;
        size_t end = start + size;
        if (end > SCRATCH_BYTES) {
            lt_log_once("bootstrap arena exhausted; an early allocation fails");
            errno = ENOMEM;
            return NULL;
        }
        if (atomic_compare_exchange_weak_explicit(&scratch_used, &old, end, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            memcpy(lt_scratch_area + start - sizeof(size_t), &size, sizeof(size));
            return lt_scratch_area + start;
        }
    }
}

size_t lt_scratch_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof(size_t), sizeof(size));
    return size;
}

void *lt_scratch_moved(void *q, const void *scratch, size_t size)
{
    if (q)
        memcpy(q, scratch, lt_min(size, lt_scratch_size(scratch)));
    return q;
}

/* ---- untracked allocation ------------------------------------------------------------------- */

static bool resolved(void)
{
    return __atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE) != NULL;
}

void *lt_untracked_malloc(size_t size)
{
    void *(*fn)(size_t) = __atomic_load_n(&lt_real.malloc, __ATOMIC_ACQUIRE);
    return fn ? fn(size) : lt_scratch_alloc(size, 16);
}

void *lt_untracked_calloc(size_t n, size_t size)
{
    if (resolved())
        return lt_real.calloc(n, size);
    size_t bytes = lt_array_bytes(n, size);
    if (bytes == SIZE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    return lt_scratch_alloc(bytes, 16); /* scratch memory is never reused: already zero */
}

void *lt_untracked_memalign(size_t align, size_t size)
{
    return resolved() ? lt_real.memalign(align, size) : lt_scratch_alloc(size, align);
}

int lt_untracked_posix_memalign(void **out, size_t align, size_t size)
{
    if (resolved())
        return lt_real.posix_memalign(out, align, size);
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = lt_scratch_alloc(size, align);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void lt_untracked_free(void *p)
{
    if (resolved() && !lt_scratch_owns(p)) /* scratch is never given back, least of all to libc */
        lt_real.free(p);
}

size_t lt_backend_usable_size(void *p)
{
    if (!p)
        return 0;
    if (lt_scratch_owns(p))
        return lt_scratch_size(p);
    return resolved() && lt_real.malloc_usable_size ? lt_real.malloc_usable_size(p) : 0;
}

/* Fallbacks for entry points an allocator may lack, built on the ones it has. */
static size_t page_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

static void *fallback_reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return lt_real.realloc(p, bytes);
}

static void *fallback_aligned_alloc(size_t align, size_t size)
{
    return lt_real.memalign(align, size);
}

static int fallback_posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *p = lt_real.memalign(align, size);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static void *fallback_valloc(size_t size)
{
    return lt_real.memalign(page_size(), size);
}

static void *fallback_pvalloc(size_t size)
{
    size_t page = page_size(), rounded;
    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return lt_real.memalign(page, rounded & ~(page - 1));
}

void *lt_backend_next(const char *name, const char *version)
{
    void *fn = version ? dlvsym(RTLD_NEXT, name, version) : NULL;
    return fn ? fn : dlsym(RTLD_NEXT, name);
}

static void *next(const char *name)
{
    return lt_backend_next(name, NULL);
}

void lt_backend_resolve_system(void)
{
    /* Racing first calls store the same values; the flag is set after all of them. */
    __atomic_store_n(&lt_real.pthread_create, next("pthread_create"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.pthread_setname_np, next("pthread_setname_np"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.prctl, next("prctl"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.sigaction, next("sigaction"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.signal, next("signal"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.sigprocmask, next("sigprocmask"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.pthread_sigmask, next("pthread_sigmask"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.pipe2, next("pipe2"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.pthread_exit, next("pthread_exit"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real._exit, next("_exit"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real._Exit, next("_Exit"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.dlopen, next("dlopen"), __ATOMIC_RELAXED);
    __atomic_store_n(&lt_real.dlclose, next("dlclose"), __ATOMIC_RELAXED);
    atomic_store_explicit(&lt_backend_system_ready, true, memory_order_release);
}

/* ---- jemalloc through its non-standard API ------------------------------------------------ */
#if LT_HAVE_JEMALLOC

#define JE_ZERO 0x40                                          /* MALLOCX_ZERO */
#define JE_ALIGN(a) ((int)__builtin_ctzl((unsigned long)(a))) /* MALLOCX_LG_ALIGN */

/* Weak: jemalloc is there when the program links it (redis-server) or when the shim is
 * libleaktag-jemalloc.so, which has it as a dependency. It cannot be dlopen'ed here: its TLS
 * is initial-exec, and a late dlopen fails for want of static TLS room. As our dependency it
 * comes after libc in the symbol search order, so the program's malloc stays ours, and the
 * next one after us stays libc's. */
extern void *mallocx(size_t size, int flags) __attribute__((weak));
extern void *rallocx(void *p, size_t size, int flags) __attribute__((weak));
extern void dallocx(void *p, int flags) __attribute__((weak));
extern size_t sallocx(const void *p, int flags) __attribute__((weak));

static struct {
    void *(*mallocx)(size_t, int);
    void *(*rallocx)(void *, size_t, int);
    void (*dallocx)(void *, int);
    size_t (*sallocx)(const void *, int);
} je;

/* mallocx's contract differs from malloc's (size 0 is undefined, errno is not set): these
 * wrappers give the program exactly what glibc would. */
static void *je_result(void *p)
{
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *je_malloc(size_t n)
{
    return je_result(je.mallocx(n ? n : 1, 0));
}

static void je_free(void *p)
{
    if (p)
        je.dallocx(p, 0);
}

static void *je_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return je_result(je.mallocx(bytes ? bytes : 1, JE_ZERO));
}

static void *je_realloc(void *p, size_t n)
{
    if (!p)
        return je_malloc(n);
    if (!n) { /* glibc: realloc(p, 0) frees p and returns NULL */
        je.dallocx(p, 0);
        return NULL;
    }
    return je_result(je.rallocx(p, n, 0));
}

static void *je_reallocarray(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return je_realloc(p, bytes);
}

static void *je_memalign(size_t align, size_t n)
{
    if (align & (align - 1)) { /* glibc rounds up a non-power of two */
        size_t a = 1;
        while (a < align)
            a <<= 1;
        align = a;
    }
    if (align < 16)
        align = 16;
    return je_result(je.mallocx(n ? n : 1, JE_ALIGN(align)));
}

static int je_posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = je.mallocx(n ? n : 1, JE_ALIGN(align));
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static void *je_aligned_alloc(size_t align, size_t n)
{
    if (!align || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return je_memalign(align, n);
}

static void *je_valloc(size_t n)
{
    return je_memalign(page_size(), n);
}

static void *je_pvalloc(size_t n)
{
    size_t page = page_size(), rounded;
    if (__builtin_add_overflow(n, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return je_memalign(page, rounded & ~(page - 1));
}

static size_t je_usable_size(void *p)
{
    return p ? je.sallocx(p, 0) : 0;
}

/* If the program links jemalloc itself, this is the same instance, so sizes and ownership
 * agree. */
static bool use_jemalloc(struct lt_backend *b)
{
    if (!mallocx || !rallocx || !dallocx || !sallocx)
        return false;
    je.mallocx = mallocx;
    je.rallocx = rallocx;
    je.dallocx = dallocx;
    je.sallocx = sallocx;
    b->malloc = je_malloc;
    b->free = je_free;
    b->calloc = je_calloc;
    b->realloc = je_realloc;
    b->reallocarray = je_reallocarray;
    b->memalign = je_memalign;
    b->posix_memalign = je_posix_memalign;
    b->aligned_alloc = je_aligned_alloc;
    b->valloc = je_valloc;
    b->pvalloc = je_pvalloc;
    b->malloc_usable_size = je_usable_size;
    return true;
}
#else
static bool use_jemalloc(struct lt_backend *b)
{
    (void)b;
    return false;
}
#endif

int lt_backend_init(void)
{
    lt_real_system(); /* the other wrappers' functions, unless one of them came first */
    struct lt_backend b = lt_real;
    b.malloc = next("malloc");
    b.free = next("free");
    b.calloc = next("calloc");
    b.realloc = next("realloc");
    b.memalign = next("memalign");
    if (!b.malloc || !b.free || !b.calloc || !b.realloc || !b.memalign)
        return -ENOSYS;
    if (lt_opt.backend == LT_BACKEND_JEMALLOC) {
        if (use_jemalloc(&b))
            goto publish;
        lt_log("LEAKTAG_BACKEND=jemalloc: %s; using the next malloc",
               LT_HAVE_JEMALLOC
                   ? "jemalloc is not in this process (preload libleaktag-jemalloc.so, "
                     "as `leaktag --backend jemalloc` does)"
                   : "this leaktag was built without jemalloc support");
    }
    b.reallocarray = next("reallocarray");
    b.posix_memalign = next("posix_memalign");
    b.aligned_alloc = next("aligned_alloc");
    b.valloc = next("valloc");
    b.pvalloc = next("pvalloc");
    b.malloc_usable_size = next("malloc_usable_size");
    if (!b.reallocarray)
        b.reallocarray = fallback_reallocarray;
    if (!b.posix_memalign)
        b.posix_memalign = fallback_posix_memalign;
    if (!b.aligned_alloc)
        b.aligned_alloc = fallback_aligned_alloc;
    if (!b.valloc)
        b.valloc = fallback_valloc;
    if (!b.pvalloc)
        b.pvalloc = fallback_pvalloc;
publish : {
    /* Publish malloc last: the hooks take "lt_real.malloc != NULL" to mean "resolved". */
    void *(*malloc_fn)(size_t) = b.malloc;
    b.malloc = NULL;
    lt_real = b;
    __atomic_store_n(&lt_real.malloc, malloc_fn, __ATOMIC_RELEASE);
    return 0;
}
}

/* Does this loaded object define malloc itself? A non-PIE executable that takes malloc's
 * address carries a canonical PLT entry for it: an undefined symbol with a value, where
 * dlsym(RTLD_DEFAULT) lands, which only jumps to the definition the loader chose (Debian's
 * python3.11 has one). That is a use of malloc, not a replacement. */
static bool defines_malloc(struct link_map *object)
{
    void *handle = object->l_name && object->l_name[0]
                       ? lt_real_system()->dlopen(object->l_name, RTLD_LAZY | RTLD_NOLOAD)
                       : lt_real_system()->dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle)
        return false;
    /* (searches the object, then its dependencies: only an answer inside it counts) */
    void *found = dlsym(handle, "malloc");
    lt_real_system()->dlclose(handle);
    Dl_info where, mine;
    const ElfW(Sym) *symbol = NULL;
    if (!found || !dladdr1(found, &where, (void **)&symbol, RTLD_DL_SYMENT) || !symbol ||
        !dladdr(object->l_ld, &mine) || where.dli_fbase != mine.dli_fbase)
        return false;
    return symbol->st_shndx != SHN_UNDEF;
}

bool lt_backend_shadowed(char *owner, size_t size)
{
    /* The program (or a library preloaded ahead of leaktag) that defines malloc gets every
     * call, ours never run, and its blocks reach our free only half the time. The loader
     * binds malloc to the first definition in its search order: the objects ahead of ours
     * in the link map are the ones that can take it. Without interposition (the unit
     * tests) the default and the next malloc are the same. */
    void *first = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info ours;
    if (!first || first == (void *)lt_real.malloc || !dladdr((void *)lt_backend_shadowed, &ours))
        return false;
    for (struct link_map *object = _r_debug.r_map; object; object = object->l_next) {
        Dl_info where;
        if (!dladdr(object->l_ld, &where))
            continue;
        if (where.dli_fbase == ours.dli_fbase)
            return false; /* ours comes first */
        if (defines_malloc(object)) {
            const char *name = object->l_name && *object->l_name ? object->l_name : NULL;
            if (!name)
                name = where.dli_fname && *where.dli_fname ? where.dli_fname : "the program";
            lt_format(owner, size, "%s", name);
            return true;
        }
    }
    return false;
}

/* glibc's registration behind pthread_atfork, which passes the calling library's
 * __dso_handle; NULL belongs to no library, so no __cxa_finalize removes the handlers. */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *dso_handle);

int lt_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    return __register_atfork(prepare, parent, child, NULL);
}
