/* A plugin for modules_test: blocks allocated inside it, and a strdup freed inside it. Built
 * twice under two names (PLUGIN_NAME), so that the second can take the first's address. */
#include <stdlib.h>
#include <string.h>

#define JOIN(a, b) a##b
#define NAMED(a, b) JOIN(a, b)
#define EXPORT __attribute__((visibility("default"), noinline))

EXPORT void *NAMED(allocate_in_, PLUGIN_NAME)(size_t n);
EXPORT int NAMED(strdup_and_free_in_, PLUGIN_NAME)(const char *s);

EXPORT void *NAMED(allocate_in_, PLUGIN_NAME)(size_t n)
{
    return malloc(n);
}

EXPORT int NAMED(strdup_and_free_in_, PLUGIN_NAME)(const char *s)
{
    char *copy = strdup(s);
    int ok = copy && !strcmp(copy, s);
    free(copy);
    return ok;
}
