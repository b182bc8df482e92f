/* units.c — formatting of byte counts, ages and counts for the renderers. */
#include "units.h"

#include <inttypes.h>
#include <stdio.h>

const char *units_bytes(char *buf, size_t size, int64_t bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    uint64_t v = bytes < 0 ? 0 - (uint64_t)bytes : (uint64_t)bytes; /* INT64_MIN too */
    const char *sign = bytes < 0 ? "-" : "";
    if (v < 1024) {
        snprintf(buf, size, "%s%" PRIu64 " B", sign, v);
        return buf;
    }
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(buf, size, d >= 100 ? "%s%.0f %s" : "%s%.1f %s", sign, d, unit[u]);
    return buf;
}

const char *units_age(char *buf, size_t size, uint64_t cs)
{
    uint64_t s = cs / 100;
    if (s < 60)
        snprintf(buf, size, "%.1fs", (double)cs / 100);
    else if (s < 3600)
        snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
    return buf;
}

const char *units_count(char *buf, size_t size, uint64_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < size; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}
