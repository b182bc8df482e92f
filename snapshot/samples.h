/* samples.h — the bytes of a snapshot's samples, one sample at a time. A census
 * (LEAKTAG_SAMPLES=all) is one zstd frame of SAMPLES records that may decompress to
 * gigabytes: it is decompressed a window at a time, twice if need be (the reader's pass that
 * indexes and checks the records, then each lts_samples_each), so that its bytes are never
 * all in memory. A plain SAMPLES section's bytes are in the file image already. */
#ifndef LTS_SAMPLES_H
#define LTS_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "record.h"

struct lts_snapshot;

/* Called for each sample in file order; bytes (sm->len of them) are valid during the call
 * only. A non-zero return stops the walk and is returned by lts_samples_each. */
typedef int (*lts_sample_fn)(void *ctx, size_t index, const struct lts_sample *sm,
                             const uint8_t *bytes);

/* Returns 0, what fn returned, or -1 with err filled (a census that no longer decompresses
 * to the records the reader indexed, or out of memory). */
int lts_samples_each(const struct lts_snapshot *s, lts_sample_fn fn, void *ctx,
                     struct lts_error *err);

/* For the reader: walks the census frame at payload, decoding each record with
 * lts_get_sample on a cursor that reports as c does; record(ctx, sample, bytes) sees each one.
 * False with the cursor failed on a damaged frame, a record cut by its end, or more output
 * than 1024 times the payload (+1 MiB). */
typedef bool (*lts_census_record_fn)(void *ctx, const struct lts_sample *sm,
                                     const uint8_t *bytes);
bool lts_census_walk(const uint8_t *payload, size_t length, struct lts_cursor *c,
                     lts_census_record_fn record, void *ctx);

#endif
