/* log.c — a fixed-buffer formatter and the "leaktag:" line writer.
 * Must never allocate, take a lock or touch stdio: it runs inside malloc hooks. */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"

struct out {
    char *buf;
    size_t size, len;
};

static void put_char(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

/* A field: its text, padded to width (left-aligned with '-', with zeros after any sign
 * with '0' for a number). */
struct field {
    bool left, zeros;
    int width;
};

static void put_padded(struct out *o, const struct field *f, const char *sign, const char *text,
                       size_t len, bool number)
{
    size_t sign_len = strlen(sign);
    size_t pad = f->width > 0 && (size_t)f->width > len + sign_len
                     ? (size_t)f->width - len - sign_len
                     : 0;
    bool zeros = number && f->zeros && !f->left;
    for (size_t i = 0; !f->left && !zeros && i < pad; i++)
        put_char(o, ' ');
    for (size_t i = 0; i < sign_len; i++)
        put_char(o, sign[i]);
    for (size_t i = 0; zeros && i < pad; i++)
        put_char(o, '0');
    for (size_t i = 0; i < len; i++)
        put_char(o, text[i]);
    for (size_t i = 0; f->left && i < pad; i++)
        put_char(o, ' ');
}

static void put_str(struct out *o, const struct field *f, const char *s, int precision)
{
    if (!s)
        s = "(null)";
    size_t len = 0;
    while (s[len] && (precision < 0 || len < (size_t)precision))
        len++;
    put_padded(o, f, "", s, len, false);
}

static void put_unsigned(struct out *o, const struct field *f, const char *sign,
                         unsigned long long v, unsigned base)
{
    char tmp[24];
    int n = sizeof(tmp);
    do {
        tmp[--n] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    put_padded(o, f, sign, tmp + n, sizeof(tmp) - (size_t)n, true);
}

int lt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put_char(&o, *f);
            continue;
        }
        f++;
        struct field field = {false, false, 0};
        for (;; f++) {
            if (*f == '-')
                field.left = true;
            else if (*f == '0')
                field.zeros = true;
            else
                break;
        }
        if (*f == '*') {
            field.width = va_arg(ap, int);
            if (field.width < 0) {
                field.left = true;
                field.width = -field.width;
            }
            f++;
        } else {
            for (; *f >= '0' && *f <= '9'; f++)
                field.width = field.width * 10 + (*f - '0');
        }
        int longs = 0, is_size = 0, precision = -1;
        if (*f == '.') { /* precision, for %s only: ".N" or ".*" */
            f++;
            if (*f == '*') {
                precision = va_arg(ap, int);
                f++;
            } else {
                for (precision = 0; *f >= '0' && *f <= '9'; f++)
                    precision = precision * 10 + (*f - '0');
            }
        }
        for (;; f++) {
            if (*f == 'l')
                longs++;
            else if (*f == 'z')
                is_size = 1;
            else
                break;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            long long v = is_size      ? (long long)va_arg(ap, ssize_t)
                          : longs >= 2 ? va_arg(ap, long long)
                          : longs == 1 ? va_arg(ap, long)
                                       : va_arg(ap, int);
            if (v < 0)
                put_unsigned(&o, &field, "-", -(unsigned long long)v, 10);
            else
                put_unsigned(&o, &field, "", (unsigned long long)v, 10);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = is_size      ? va_arg(ap, size_t)
                                   : longs >= 2 ? va_arg(ap, unsigned long long)
                                   : longs == 1 ? va_arg(ap, unsigned long)
                                                : va_arg(ap, unsigned);
            put_unsigned(&o, &field, "", v, *f == 'x' ? 16 : 10);
            break;
        }
        case 'p': put_unsigned(&o, &field, "0x", (uintptr_t)va_arg(ap, void *), 16); break;
        case 's': put_str(&o, &field, va_arg(ap, const char *), precision); break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&o, &field, "", &c, 1, false);
            break;
        }
        case '%': put_char(&o, '%'); break;
        case '\0': f--; break;
        default: put_char(&o, '%'); put_char(&o, *f);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int lt_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = lt_vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

char *lt_format_bytes(char *buf, size_t size, unsigned long long bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    unsigned u = 0;
    unsigned long long whole = bytes, tenths = 0;
    while (whole >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        tenths = (whole % 1024) * 10 / 1024;
        whole /= 1024;
        u++;
    }
    if (u == 0 || whole >= 100 || tenths == 0)
        lt_format(buf, size, "%llu %s", whole, units[u]);
    else
        lt_format(buf, size, "%llu.%llu %s", whole, tenths, units[u]);
    return buf;
}

static LT_TLS struct lt_log_capture *capture; /* this thread works for another */

void lt_log_capture(struct lt_log_capture *c)
{
    capture = c;
}

static void write_all(const char *text, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

void lt_log_write_captured(const struct lt_log_capture *c)
{
    int saved_errno = errno;
    write_all(c->text, c->len);
    if (c->dropped)
        lt_log("%u more lines did not fit", c->dropped);
    errno = saved_errno;
}

void lt_log(const char *fmt, ...)
{
    int saved_errno = errno;
    char line[1024];
    size_t prefix = sizeof("leaktag: ") - 1;
    memcpy(line, "leaktag: ", prefix);
    va_list ap;
    va_start(ap, fmt);
    int n = lt_vformat(line + prefix, sizeof(line) - prefix - 1, fmt, ap);
    va_end(ap);
    size_t len = prefix + lt_min((size_t)n, sizeof(line) - prefix - 2);
    line[len++] = '\n';
    struct lt_log_capture *c = capture;
    if (c && c->len + len <= sizeof(c->text)) {
        memcpy(c->text + c->len, line, len);
        c->len += len;
    } else if (c) {
        c->dropped++;
    } else {
        write_all(line, len);
    }
    errno = saved_errno;
}

void lt_assert_failed(const char *file, int line, const char *cond)
{
    char text[512];
    int n = lt_format(text, sizeof(text), "leaktag: %s:%d: invariant broken: %s\n", file, line,
                      cond);
    if (n > 0)
        (void)!write(2, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
    abort();
}
