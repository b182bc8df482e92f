/* crc32.h — CRC-32 (IEEE 802.3) of snapshot sections, shared by the writer and the reader.
 * No allocation, no state but its lookup tables. */
#ifndef LTS_CRC32_H
#define LTS_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with 0. */
uint32_t lts_crc32(uint32_t crc, const void *p, size_t n);

#endif
