/* size.c — see size.h. Whole integer arithmetic: a fraction's digits past the ninth do not
 * change a byte count below 2^64 by more than the cut-off fraction already does. */
#include "size.h"

bool lts_size_parse(const char *text, uint64_t *bytes)
{
    const char *p = text;
    if (*p < '0' || *p > '9')
        return false;
    uint64_t whole = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (whole > (UINT64_MAX - digit) / 10)
            return false;
        whole = whole * 10 + digit;
    }
    uint64_t fraction = 0, scale = 1; /* the fraction is fraction / scale */
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++)
            if (scale < 1000000000)
                fraction = fraction * 10 + (unsigned)(*p - '0'), scale *= 10;
    }
    unsigned shift = 0;
    switch (*p) {
    case 'k':
    case 'K': shift = 10; break;
    case 'm':
    case 'M': shift = 20; break;
    case 'g':
    case 'G': shift = 30; break;
    case 't':
    case 'T': shift = 40; break;
    }
    if (shift) {
        p++;
        if (*p == 'i')
            p++;
    }
    if (*p == 'B' || *p == 'b')
        p++;
    if (*p || whole > UINT64_MAX >> shift)
        return false;
    uint64_t v = whole << shift;
    /* floor(fraction * 2^shift / scale) without overflow: fraction < 10^9 < 2^30 and shift
     * <= 40, so the product is done in two halves of the shift, the remainder carried. */
    unsigned first = shift / 2, second = shift - first;
    uint64_t scaled = fraction << first;
    uint64_t part = ((scaled / scale) << second) + (((scaled % scale) << second) / scale);
    *bytes = v + part; /* below 2^64: whole < 2^(64 - shift) and part < 2^shift */
    return true;
}
