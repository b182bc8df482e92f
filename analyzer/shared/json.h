/* json.h — strings for the renderers that write JSON (the JSON report, the HTML report's
 * data). Only printable ASCII goes out as is: snapshot bytes are not known to be UTF-8, so
 * the rest comes out as \u00XX; and '<' too, so that the JSON may sit inside an HTML
 * <script> element whatever the strings hold ("</script>" in a leaked request). */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdio.h>

#include "content.h"

void json_string(FILE *out, const char *s, size_t n);
/* A NUL-terminated string, or null for NULL. */
void json_cstr(FILE *out, const char *s);

/* A histogram's first max entries, most frequent first, as a JSON array (both programs'
 * strings, shapes and --grep matches): {"text": ..., "count": N}, "uncounted_max" when the
 * bounded histogram may have missed some, and with per, per_key: how many of per's
 * buffers (blocks, chunks) hold the same text. NULL h: an empty array. */
void json_histogram(FILE *out, struct content_histogram *h, size_t max,
                    struct content_histogram *per, const char *per_key);

#endif
