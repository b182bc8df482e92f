/* census.h — what the shown groups' blocks hold, counted over every sample captured of them
 * (with LEAKTAG_SAMPLES=all, every live block): their strings and the strings' shapes, the
 * --grep matches, the word at each offset; and copies of the few samples a renderer prints.
 * One pass over each snapshot's samples (lts_samples_each: a census is decompressed as it is
 * read), and memory bounded by the shown groups, not by the census: the strings histograms
 * keep the frequent strings only (content_histogram_new_bounded). The model calls it. */
#ifndef CENSUS_H
#define CENSUS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "group.h"

/* The bytes of one sample a renderer may print (hexdump, JSON): a longer one is cut. */
#define CENSUS_KEPT_BYTES_MAX (64u << 10)

/* Counts for every group of g that is shown (shown[i] for g->groups[i]), over the samples of
 * the snapshot it comes from (one of snaps[0..n)), --grep matches of grep (NULL: none), and
 * keeps copies of its first `keep` samples. Returns 0, or -1 with err filled. */
int census_count(const struct analysis *snaps, size_t n, struct grouping *g, const bool *shown,
                 const struct content_regex *grep, size_t keep, struct lts_error *err);

#endif
