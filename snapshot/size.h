/* size.h — the one way leaktag reads a byte count a person wrote: LEAKTAG_* options in the
 * shim, --min-bytes and the like in the report and the scanner. "500000", "64K", "64KiB",
 * "1.5G", "2TB": a whole or decimal number, then optionally K, M, G or T (powers of 1024,
 * either case), an optional "i" after it, an optional "B". A fraction of a byte is cut off.
 * Here so that the shim (which compiles this file into its core) and the analyzer share it:
 * it calls nothing, allocates nothing, and needs no locale. */
#ifndef LTS_SIZE_H
#define LTS_SIZE_H

#include <stdbool.h>
#include <stdint.h>

/* True and *bytes set when all of text is a size below 2^64; false, *bytes untouched, when
 * it is not (empty, a sign, junk after the unit, too large). */
bool lts_size_parse(const char *text, uint64_t *bytes);

#endif
