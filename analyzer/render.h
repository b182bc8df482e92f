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

#endif
