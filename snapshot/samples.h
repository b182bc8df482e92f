/* samples.h — the bytes of a snapshot's samples, one sample at a time. A census
 * (LEAKTAG_SAMPLES=all) is one zstd frame of SAMPLES records that may decompress to
 * gigabytes: it is decompressed a window at a time, twice if need be (the reader's pass that
 * indexes and checks the records, then each lts_samples_each of reader.h), so that its bytes
 * are never all in memory. A plain SAMPLES section's bytes are in the file image already. */
#ifndef LTS_SAMPLES_H
#define LTS_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "record.h"

/* For the reader: walks the census frame at payload, decoding each record with
 * lts_get_sample on a cursor that reports as c does; record(ctx, sample, bytes) sees each one.
 * False with the cursor failed on a damaged frame, a record cut by its end, or more output
 * than 1024 times the payload (+1 MiB). */
typedef bool (*lts_census_record_fn)(void *ctx, const struct lts_sample *sm, const uint8_t *bytes);
bool lts_census_walk(const uint8_t *payload, size_t length, struct lts_cursor *c,
                     lts_census_record_fn record, void *ctx);

#endif
