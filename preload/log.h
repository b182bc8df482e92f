/* log.h — leaktag's own messages on stderr ("leaktag: ...").
 * Formats into a stack buffer and write(2)s it: no stdio, no malloc, usable from any hook. */
#ifndef LT_LOG_H
#define LT_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Supports %s (with .N and .* precision) %c %d %i %u %x %p %%, a width (N or *) with the
 * '-' and '0' flags, and the l, ll and z length modifiers: enough for our own messages,
 * checked by the compiler like printf, and every conversion the shim's sources give it is
 * compared with snprintf's by tests/unit/test_formats.py. Always NUL-terminates. */
int lt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
int lt_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "32 MiB", "2.8 GiB", "512 B": a byte count the way people read it. Returns buf. */
char *lt_format_bytes(char *buf, size_t size, unsigned long long bytes);

/* One "leaktag: " line on the log fd (stderr); the newline is added. Preserves errno. */
void lt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Lines a thread logs while it works for another (fdtable.c: its descriptor table has no
 * stderr), kept to be written by that other thread. Bounded: lines past it are counted. */
struct lt_log_capture {
    char text[4096];
    size_t len;
    unsigned dropped;
};

/* From now on this thread's lines go to *c (NULL: to stderr again). */
void lt_log_capture(struct lt_log_capture *c);

/* Writes what *c holds to stderr, as lt_log would have. */
void lt_log_write_captured(const struct lt_log_capture *c);

/* Like lt_log, but only the first time this call site runs. */
#define lt_log_once(...)                                            \
    do {                                                            \
        static int lt_logged_;                                      \
        if (!__atomic_exchange_n(&lt_logged_, 1, __ATOMIC_RELAXED)) \
            lt_log(__VA_ARGS__);                                    \
    } while (0)

/* An invariant of the lock-free structures, checked where the cost is welcome: in the
 * sanitizer builds (meson -Db_sanitize=..., which define LT_DEBUG_ASSERTS) that run the unit
 * tests of the table, the nurseries and the sort, never in the shim programs load. A failure
 * writes "leaktag: FILE:LINE: invariant broken: COND" with one write(2) and aborts. */
#ifdef LT_DEBUG_ASSERTS
#define LT_ASSERT(cond) ((cond) ? (void)0 : lt_assert_failed(__FILE__, __LINE__, #cond))
#else
#define LT_ASSERT(cond) ((void)0)
#endif
void lt_assert_failed(const char *file, int line, const char *cond) __attribute__((noreturn));

#endif
