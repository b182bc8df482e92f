/* render_fixture.h — what the renderers' unit tests (test_render*.c) share on top of
 * model_fixture.h: a model whose parsed snapshots a test may edit before the model is built
 * (a hostile exe or thread name, a module), a stack's shown frames replaced by the test's own
 * (names no address gives: ';', '<', inlined chains), output captured in memory, and a strict
 * JSON syntax check, so that a test can say "this is one valid JSON document". */
#ifndef RENDER_FIXTURE_H
#define RENDER_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model_fixture.h"

/* Called on snapshot i (of n, oldest first) after it is parsed, before the model is built. */
typedef void (*snapshot_edit_fn)(struct lts_snapshot *s, size_t i);

/* fixture_model, with edit (NULL: none) applied to each snapshot; fixture_release frees it. */
void render_model(struct model *m, const struct spec *specs, size_t n,
                  const struct model_options *opt, snapshot_edit_fn edit);

/* Replaces the shown frames of `stack` in every snapshot of m by frames[0..n) (innermost
 * first), which must outlive the model. */
void render_graft(struct model *m, uint32_t stack, const struct frame *frames, uint32_t n);

/* A renderer's output, in memory. */
struct capture {
    FILE *f;
    char *text; /* NUL-terminated after capture_end; may hold NULs before (pprof) */
    size_t size;
};
FILE *capture_begin(struct capture *c);
const char *capture_end(struct capture *c);
void capture_free(struct capture *c);

/* How many times needle occurs in text (overlapping ones too). */
size_t count_of(const char *text, const char *needle);

/* text[0..n) is exactly one JSON value (RFC 8259), whitespace around it aside. */
bool json_valid(const char *text, size_t n);

#endif
