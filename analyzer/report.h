/* report.h — what leaktag-report prints, independent of how: the snapshots read, the groups
 * built from them, the options that shape the output. Renderers (text, JSON, collapsed stacks)
 * only read this. */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "group.h"

enum report_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_COLLAPSED };

struct report {
    struct analysis *snaps; /* oldest first; the newest is the one described */
    size_t nsnaps;
    struct grouping grouping;
    struct group_options gopt;
    const char *grep_pattern, *fold_pattern;
    size_t top;             /* groups shown, 0 = all */
    uint64_t min_bytes;     /* groups with fewer live bytes are not shown */
    unsigned samples_shown; /* per group, text output */
    unsigned strings_shown; /* per group, text output */
    bool color;
    bool *shown;            /* per group after sorting: passes --min-bytes and within --top */
};

/* The snapshot the report describes. */
static inline const struct analysis *report_newest(const struct report *r)
{
    return &r->snaps[r->nsnaps - 1];
}

/* Is group i shown (--top, --min-bytes)? */
bool report_shows(const struct report *r, size_t i);

/* The live block a sample was taken from, or NULL (freed before the scan finished). */
const struct lts_block *report_sample_block(const struct analysis *a, const struct lts_sample *s);

/* "2.8 GiB", "512 B"; "-3.0 MiB" for negative values. */
const char *report_bytes(char *buf, size_t size, int64_t bytes);
/* "3h12m", "4.5s" */
const char *report_age(char *buf, size_t size, uint64_t centiseconds);
/* "1,234,567" */
const char *report_count(char *buf, size_t size, uint64_t n);
/* A frame's function, or module+0xoffset, or the bare address. */
const char *report_frame_name(char *buf, size_t size, const struct sym_frame *f);
/* (buf holds the module+offset fallback; a symbolized name is returned as it is, whole.) */

void render_text(FILE *out, const struct report *r);
void render_json(FILE *out, const struct report *r);
void render_collapsed(FILE *out, const struct report *r);

#endif
