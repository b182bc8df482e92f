/* family.h — thread names as families: trailing numbers go ("router-12" is "router-*"), so
 * that 91 router threads are one line, in leaktag-report and leaktag-scan alike. */
#ifndef FAMILY_H
#define FAMILY_H

#include <stddef.h>

/* The family of a thread name into out; names without a number are kept, an empty one is
 * "(unnamed)". */
void family_of(const char *name, char *out, size_t size);

#endif
