/* census.h — what the shown groups' blocks hold, counted over every sample captured of them
 * (with LEAKTAG_SAMPLES=all, every live block): their strings and the strings' shapes, the
 * --grep matches, the word at each offset; and copies of the few samples a renderer prints.
 * One pass over each snapshot's samples (lts_samples_each: a census is decompressed as it is
 * read), and memory bounded by the shown groups, not by the census: the strings histograms
 * keep the frequent strings only (content_histogram_new_bounded). Part of the model. */
#ifndef CENSUS_H
#define CENSUS_H

#include <stddef.h>

#include "error.h"

struct model;

/* The bytes of one sample a renderer may print (hexdump, JSON): a longer one is cut. */
#define CENSUS_KEPT_BYTES_MAX (64u << 10)

/* Counts for every group model_shows, and keeps copies of its first `keep` samples.
 * Returns 0, or -1 with err filled. */
int census_count(struct model *m, size_t keep, struct lts_error *err);

#endif
