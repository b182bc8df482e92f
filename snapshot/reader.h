/* reader.h — reads a leaktag snapshot file (docs/FORMAT.md) into memory.
 * Every length, count, offset and cross-reference is checked before use: a truncated or
 * corrupt file gives one error message with the offset, never a crash. Part of the snapshot
 * library (libleaktag-snapshot), used by leaktag-report, the tests and the fuzzer. */
#ifndef LTS_READER_H
#define LTS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "record.h"

struct lts_arena_chunk;

struct lts_snapshot {
    uint32_t version;
    /* Frequently used META entries, 0 or "" when absent. */
    uint64_t pid, seq, time_unix_ns, now_cs, clock_origin_unix_ns, rss_bytes, vm_size_bytes;
    const char *exe, *cmdline, *reason, *options;
    size_t cmdline_len;

    struct lts_meta *meta;
    size_t nmeta;
    struct lts_counter *counters;
    size_t ncounters;
    struct lts_module *modules;
    size_t nmodules;
    struct lts_module_time *module_times; /* also copied into modules[] */
    size_t nmodule_times;
    struct lts_map *maps;
    size_t nmaps;
    struct lts_stack *stacks;
    size_t nstacks;
    struct lts_thread *threads;
    size_t nthreads;
    struct lts_block *blocks;
    size_t nblocks;
    struct lts_sample *samples; /* their bytes: lts_samples_each below */
    size_t nsamples;
    const uint8_t *census; /* a SAMPLES_ZSTD section's payload, in the image, or NULL */
    size_t census_length;
    struct lts_misuse *misuse;
    size_t nmisuse;
    struct lts_reach_scan *reach_scan; /* at most one; none: no scan was asked for */
    size_t nreach_scan;
    struct lts_reach_root *reach_roots;
    size_t nreach_roots;
    struct lts_reach *reach; /* by address */
    size_t nreach;

    struct lts_arena_chunk *arena; /* everything above lives in here: freed by lts_close */
};

/* Parses a snapshot held in memory, which must outlive the parsed one (samples and a census
 * are read from it). Returns 0, or -1 with *err filled. */
int lts_parse(const uint8_t *data, size_t size, struct lts_snapshot **out, struct lts_error *err);

/* Reads and parses a file. Returns 0, or -1 with *err filled (I/O errors included). */
int lts_open(const char *path, struct lts_snapshot **out, struct lts_error *err);

void lts_close(struct lts_snapshot *s);

/* Lookups. */
uint64_t lts_meta_number(const struct lts_snapshot *s, const char *key, uint64_t fallback);
const char *lts_meta_text(const struct lts_snapshot *s, const char *key);
uint64_t lts_counter(const struct lts_snapshot *s, const char *name, uint64_t fallback);
/* The REACH record of the block at addr (the reader checked they are in address order), or
 * SIZE_MAX. */
size_t lts_reach_index(const struct lts_snapshot *s, uint64_t addr);
/* Thread by registry index, or NULL. */
const struct lts_thread *lts_thread(const struct lts_snapshot *s, uint32_t idx);

/* Called for each sample in file order; bytes (sm->len of them) are valid during the call
 * only. A non-zero return stops the walk and is returned by lts_samples_each. */
typedef int (*lts_sample_fn)(void *ctx, size_t index, const struct lts_sample *sm,
                             const uint8_t *bytes);

/* Returns 0, what fn returned, or -1 with err filled (a census that no longer decompresses
 * to the records the reader indexed, or out of memory). */
int lts_samples_each(const struct lts_snapshot *s, lts_sample_fn fn, void *ctx,
                     struct lts_error *err);

#endif
