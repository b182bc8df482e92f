/* family.c — see family.h. */
#include "family.h"

#include <stdio.h>
#include <string.h>

void family_of(const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    size_t end = n;
    while (end > 0 && name[end - 1] >= '0' && name[end - 1] <= '9')
        end--;
    if (end == n || end == 0) { /* no trailing number, or only a number */
        snprintf(out, size, "%s", n ? name : "(unnamed)");
        return;
    }
    snprintf(out, size, "%.*s*", (int)end, name);
}
