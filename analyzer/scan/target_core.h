/* target_core.h — an ELF core file as a target (target.h): its PT_LOAD segments are the
 * process's memory, its notes the threads, the name and the mapped files. */
#ifndef SCAN_TARGET_CORE_H
#define SCAN_TARGET_CORE_H

#include "error.h"
#include "target.h"

/* The core at path as a target (exe: its executable, NULL to take the path the core names).
 * Returns 0 with *out set, or -1 with a one-line reason in err (not a core file, a truncated
 * core...). */
int target_core_open(const char *path, const char *exe, struct target **out, struct lts_error *err);

#endif
