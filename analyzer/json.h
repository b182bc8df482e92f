/* json.h — strings for the renderers that write JSON (the JSON report, the HTML report's
 * data). Only printable ASCII goes out as is: snapshot bytes are not known to be UTF-8, so
 * the rest comes out as \u00XX; and '<' too, so that the JSON may sit inside an HTML
 * <script> element whatever the strings hold ("</script>" in a leaked request). */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdio.h>

void json_string(FILE *out, const char *s, size_t n);
/* A NUL-terminated string, or null for NULL. */
void json_cstr(FILE *out, const char *s);

#endif
