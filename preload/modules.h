/* modules.h — the ELF objects loaded in this process (dl_iterate_phdr), with their load
 * bias, segments and GNU build-id: what the analyzer needs to symbolize addresses offline
 * and to notice that a binary was rebuilt since. */
#ifndef LT_MODULES_H
#define LT_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lt_module {
    const char *path; /* the main program's real path for "" */
    uint64_t bias;    /* dlpi_addr: runtime address = ELF vaddr + bias */
    const unsigned char *build_id;
    size_t build_id_size;
    unsigned segments;
    struct {
        uint64_t start, end; /* runtime addresses */
        uint64_t offset;     /* file offset */
        uint32_t flags;      /* PF_R/PF_W/PF_X */
    } segment[16];
    uint32_t loaded_cs;   /* first seen loaded (clock.h time) */
    uint32_t unloaded_cs; /* first seen gone; 0 while loaded */
};

#define LT_MODULES_MAX 4096 /* objects the registry holds */

typedef void (*lt_module_fn)(const struct lt_module *m, void *ctx);

/* Brings the registry up to date: objects loaded since the last rescan are added, the ones
 * unloaded since are marked gone. Takes the loader's lock. */
void lt_modules_rescan(void);

/* Calls fn for every object in the registry, loaded or gone (up to 4096), waiting at most
 * timeout_ns for a rescan under way. 0, or -ETIMEDOUT. */
int lt_modules_each(lt_module_fn fn, void *ctx, int64_t timeout_ns);

/* Is pc in the dynamic loader's code (found from AT_BASE at the first rescan)? */
bool lt_modules_in_loader(uint64_t pc);

/* dlclose is about to change the module list, or has: a rescan, so that what it unloads
 * is in the registry (with when it went). The caller decides whether leaktag is tracking
 * and holds the guard. */
void lt_modules_changing(void);

/* dlopen is called: what the next rescan finds new was loaded about now (the wrapper cannot
 * rescan after the call, which must be a tail call). */
void lt_modules_opening(void);

/* A fork child that has loaded nothing since: the registry is current without a rescan, and
 * one might wait for ever on a loader lock inherited locked. */
bool lt_modules_as_forked(void);

/* dlopen with RTLD_DEEPBIND: the object binds to libc's malloc and free ahead of leaktag's,
 * so what it frees is not seen. Said once. */
void lt_modules_deepbind(const char *file);

void lt_modules_fork_prepare(void);
void lt_modules_fork_parent(void);
void lt_modules_fork_child(void);

/* The code of the object loaded at bias (dlpi_addr): [*lo, *hi) spans its executable
 * segments. False if no such object is loaded. */
bool lt_modules_text(uint64_t bias, uint64_t *lo, uint64_t *hi);

#endif
