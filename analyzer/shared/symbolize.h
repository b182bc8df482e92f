/* symbolize.h — turns the return addresses of a snapshot into function, file:line and module,
 * offline, from the ELF and DWARF files of the snapshot's MODULES (libdw). It never shows a
 * name it cannot vouch for: a module that is gone or rebuilt is shown as module+offset. */
#ifndef LT_SYMBOLIZE_H
#define LT_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reader.h"

struct sym_frame {
    const char *function; /* demangled C++ name, plain C name, or NULL when unknown */
    const char *file;     /* source file path, or NULL */
    unsigned line;        /* 0 when unknown */
    const char *module;   /* basename of the module path, or NULL if the address is in no module */
    uint64_t address;     /* the runtime address as recorded (a return address) */
    uint64_t offset;      /* address - module bias (module+0xoffset); the address if no module */
    int inlined;          /* 1: this frame was inlined into the next (outer) one */
};

struct symbolizer;

/* Prepares symbolization for the modules of snapshot s (does not copy s; s must outlive the
 * symbolizer). Module files are opened only when an address falls into them. warn: where
 * warnings go (NULL: nowhere), each line prefixed "leaktag-report: warning: ", at most one per
 * module. Returns 0, or -1 with err filled when out of memory or libdw cannot start. */
int sym_open(const struct lts_snapshot *s, FILE *warn, struct symbolizer **out,
             struct lts_error *err);

/* Resolves one recorded return address into frames, innermost first: the inlined call chain
 * at that address (deepest inlined function first, each with the file:line inside it), then
 * the real function containing it. Results are cached per address; *frames stays valid until
 * sym_close. Returns the number of frames, >= 1; 0 only when out of memory, and then *frames
 * is one unnamed frame of the address, which the next such call overwrites. */
size_t sym_resolve(struct symbolizer *sym, uint64_t address, const struct sym_frame **frames);

/* The same for a return address recorded at time when_cs (the snapshot's clock): among
 * modules that covered the address at different times (one unloaded, another loaded where it
 * was), the one loaded then. SYM_ANY_TIME: the one loaded at the snapshot, else the one
 * unloaded last. */
#define SYM_ANY_TIME UINT64_MAX
size_t sym_resolve_at(struct symbolizer *sym, uint64_t address, uint64_t when_cs,
                      const struct sym_frame **frames);

/* Frees the symbolizer, every frame and string it returned, and closes the module files. */
/* The data an address is in (a global, a static): its module's name and, when the symbol
 * table has it, the symbol and the offset into it (*symbol NULL otherwise). False when no
 * module of the snapshot holds the address. */
int sym_data(struct symbolizer *sym, uint64_t address, const char **module, const char **symbol,
             uint64_t *offset);

void sym_close(struct symbolizer *sym);

/* "/a/build/../src/./x.c" -> "/a/src/x.c", in place (absolute paths only; lexical). */
void sym_tidy_path(char *path);

#endif
