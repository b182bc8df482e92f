/* model_fixture.h — snapshots as the shim writes them, built in memory with the snapshot
 * library (no shim), for the unit tests of the report's core: test_group, test_census,
 * test_retention, test_model. Two stacks of one frame each, a growing "leak" in one thread
 * and a constant "cache" in another; optionally a census of the leak's contents (the
 * article's requests) and a reachability scan (the leak lost, the cache held by a global
 * through a chain of its blocks). Every expectation a test has comes from these numbers,
 * not from the code under test. */
#ifndef MODEL_FIXTURE_H
#define MODEL_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "reader.h"

#define LEAK_FRAME 0x401000u
#define CACHE_FRAME 0x402000u
#define LEAK_SIZE 100u
#define CACHE_SIZE 1000u
#define CACHE_BLOCKS 5u
#define GLOBALS 0x600000u     /* the writable mapping that holds the cache's head */
#define FIRST_BLOCK 0x10000000u /* the leak's blocks 0x100 apart from here, then the cache's
                                   0x1000 apart */

struct spec {
    uint64_t time_ns;
    uint32_t leak_blocks;     /* of LEAK_SIZE bytes from the leak stack (1), in thread 1 */
    uint32_t cache_blocks;    /* of CACHE_SIZE bytes from the cache stack (2), in thread 2 */
    uint64_t sample_interval; /* 0: every block recorded */
    bool census;              /* a sample of every leak block: "GET /q?channelid=4099&seq=i"
                                 (every third block: 4100), each said twice */
    bool reach;               /* a reachability scan */
};

/* The snapshot sp describes, parsed from its bytes; freed by fixture_release. */
struct lts_snapshot *fixture_snapshot(const struct spec *sp);

/* The model of n snapshots (oldest first) under opt; fails the test if it cannot be built. */
void fixture_model(struct model *m, const struct spec *specs, size_t n,
                   const struct model_options *opt);

/* The census case several tests share: one snapshot of 30 leak blocks with their contents
 * (spec.census) and the cache, grouped by stack, --grep 'channelid=\d+' counted, the first
 * two samples kept. Returns the compiled pattern, for content_regex_free after release. */
#define FIXTURE_GREP "channelid=\\d+"
struct content_regex *fixture_census_model(struct model *m);

/* Frees the model (and its snapshots), and every snapshot image built so far. */
void fixture_release(struct model *m);

/* The group whose representative stack is `stack` (1: leak, 2: cache). */
const struct group *fixture_group_of(const struct grouping *g, uint32_t stack);

#endif
