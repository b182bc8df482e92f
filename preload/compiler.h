/* compiler.h — attributes and tiny helpers shared by every preload module.
 * Header-only; nothing here may allocate or call into libc. */
#ifndef LT_COMPILER_H
#define LT_COMPILER_H

#define lt_likely(x) __builtin_expect(!!(x), 1)
#define lt_unlikely(x) __builtin_expect(!!(x), 0)

/* The interposed libc/C++ entry points and the public leaktag_* API; nothing else is visible. */
#define LT_EXPORT __attribute__((visibility("default")))
#define LT_NOINLINE __attribute__((noinline))
#define LT_COLD __attribute__((noinline, cold))
#define LT_INLINE static inline __attribute__((always_inline))
#define LT_TLS __thread __attribute__((tls_model("initial-exec")))

#define lt_array_size(a) (sizeof(a) / sizeof((a)[0]))
#define lt_min(a, b) ((a) < (b) ? (a) : (b))
#define lt_max(a, b) ((a) > (b) ? (a) : (b))

static inline void lt_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#define lt_compiler_barrier() __asm__ __volatile__("" ::: "memory")

#endif
