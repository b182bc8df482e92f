/* output.h — a file the analyzer writes (a report, a scan, a dump of heap bytes): under a
 * temporary name in its directory, 0600 (it shows what the process's memory held), renamed
 * into place when complete, so that no reader sees half of it. */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"

struct output {
    FILE *out;
    const char *path;
    char *tmp;
};

/* Opens path's temporary (O_EXCL, 0600). Returns 0, or -1 with err. */
int output_open(struct output *o, const char *path, struct lts_error *err);
/* Flushes; renames into place when keep (else removes the temporary). With o->tmp NULL
 * (stdout), only flushes. Returns 0, or -1 with err. */
int output_close(struct output *o, bool keep, struct lts_error *err);

#endif
