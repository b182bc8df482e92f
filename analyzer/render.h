/* render.h — the report's outputs: each reads the model (model.h) and writes one format
 * (docs/REPORT.md); none computes what the model already knows. */
#ifndef RENDER_H
#define RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "model.h"

struct render_options {
    bool color;             /* text: ANSI colours */
    unsigned samples_shown; /* text: hexdumps per group */
    unsigned strings_shown; /* text: strings and matches per group */
};

void render_text(FILE *out, const struct model *m, const struct render_options *o);
void render_json(FILE *out, const struct model *m);
void render_collapsed(FILE *out, const struct model *m);
/* One self-contained HTML page. 0, or -1 with err filled. */
int render_html(FILE *out, const struct model *m, struct lts_error *err);
/* A gzipped profile.proto of the newest snapshot. 0, or -1 with err filled. */
int render_pprof(FILE *out, const struct model *m, struct lts_error *err);
/* The shown groups' captured bytes into path (and where each block starts into index_path,
 * when not NULL). 0, or -1 with err filled. */
int render_dump(const struct model *m, const char *path, const char *index_path,
                struct lts_error *err);

#endif
