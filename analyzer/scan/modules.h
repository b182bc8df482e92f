/* modules.h — the ELF files a target has mapped, as modules the report's symbolizer
 * (symbolize.h) resolves addresses in: each file's load bias from its ELF header as mapped,
 * its build-id from the mapped notes, so that a file rebuilt since a core was written is not
 * believed. */
#ifndef SCAN_MODULES_H
#define SCAN_MODULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "target.h"

struct scan_modules;

/* NULL when out of memory or libdw cannot start (addresses then stay unnamed). */
struct scan_modules *modules_open(struct target *t, FILE *warn);
/* The function holding addr ("HandlerMain(void*)"), or NULL; valid until modules_close. */
const char *modules_function(struct scan_modules *m, uint64_t addr);
/* The data addr is in: its module, and the global (*symbol, NULL when the symbol table does
 * not say) and the offset into it. False when no module holds addr. */
bool modules_data(struct scan_modules *m, uint64_t addr, const char **module, const char **symbol,
                  uint64_t *offset);
void modules_close(struct scan_modules *m);

#endif
