/* units.h — numbers the way people read them: "2.8 GiB", "3h12m", "1,234,567". Each writes
 * into buf and returns it. */
#ifndef UNITS_H
#define UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "2.8 GiB", "512 B"; "-3.0 MiB" for negative values. */
const char *units_bytes(char *buf, size_t size, int64_t bytes);
/* "3h12m", "4.5s" */
const char *units_age(char *buf, size_t size, uint64_t centiseconds);
/* "1,234,567" */
const char *units_count(char *buf, size_t size, uint64_t n);

#endif
