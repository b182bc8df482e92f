/* modules.h — the ELF objects loaded in this process (dl_iterate_phdr), with their load
 * bias, segments and GNU build-id: what the analyzer needs to symbolize addresses offline
 * and to notice that a binary was rebuilt since. */
#ifndef LT_MODULES_H
#define LT_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lt_module {
    const char *path;   /* the main program's real path for "" */
    uint64_t bias;      /* dlpi_addr: runtime address = ELF vaddr + bias */
    const unsigned char *build_id;
    size_t build_id_size;
    unsigned segments;
    struct {
        uint64_t start, end; /* runtime addresses */
        uint64_t offset;     /* file offset */
        uint32_t flags;      /* PF_R/PF_W/PF_X */
    } segment[16];
};

typedef void (*lt_module_fn)(const struct lt_module *m, void *ctx);

/* Calls fn for each loaded object (up to 4096). Not reentrant: one caller at a time. */
void lt_modules_each(lt_module_fn fn, void *ctx);

/* The code of the object loaded at bias (dlpi_addr): [*lo, *hi) spans its executable
 * segments. False if no such object is loaded. */
bool lt_modules_text(uint64_t bias, uint64_t *lo, uint64_t *hi);

#endif
