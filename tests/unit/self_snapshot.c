/* self_snapshot.c — see self_snapshot.h. Built with -g -O1: the known code below must stay
 * as written (one call, one inlined call), and its line numbers are recorded on the very
 * lines of the calls, so keep each `x = f(); line = __LINE__;` on one line. */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "self_snapshot.h"

/* ---- known code: the addresses the tests resolve ------------------------------------------- */

static void *volatile sink;
uint64_t self_call_ra, self_inline_ra;
unsigned self_call_line, self_inline_line, self_inline_call_line;

/* No inlining, no clone under another name: the call stays a call to a named function. */
#ifdef __clang__
#define NOT_INLINED __attribute__((noinline))
#else
#define NOT_INLINED __attribute__((noipa))
#endif

NOT_INLINED static void *return_address(void)
{
    return __builtin_return_address(0);
}

NOT_INLINED void caller_site(void)
{
    self_call_ra = (uintptr_t)return_address(); self_call_line = __LINE__;
    sink = &self_call_ra;
}

static inline __attribute__((always_inline)) void inlined_leaf(void)
{
    self_inline_ra = (uintptr_t)return_address(); self_inline_line = __LINE__;
    sink = &self_inline_ra;
}

NOT_INLINED void inline_host(void)
{
    inlined_leaf(); self_inline_call_line = __LINE__;
    sink = &self_inline_line;
}

/* ---- a fake snapshot of this process ------------------------------------------------------- */

struct lts_snapshot self_snap;
uint64_t self_exe_start, self_exe_end;
uint64_t self_vdso_address;

/* The module's build-id as elfutils reads it (not as the shim does: the test checks the
 * symbolizer against an independent source): from the file, or for the vDSO, which has no
 * file, from its image in memory, which the kernel maps whole. */
static void find_build_id(struct lts_module *m, const void *image, size_t image_size)
{
    int fd = -1;
    Elf *elf;
    if (image) {
        elf = elf_memory((char *)image, image_size);
    } else {
        fd = open(m->path, O_RDONLY | O_CLOEXEC);
        elf = fd < 0 ? NULL : elf_begin(fd, ELF_C_READ, NULL);
    }
    const void *id;
    ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &id) : -1;
    if (n > 0) {
        uint8_t *copy = malloc((size_t)n);
        memcpy(copy, id, (size_t)n);
        m->build_id = copy;
        m->build_id_len = (size_t)n;
    }
    if (elf)
        elf_end(elf);
    if (fd >= 0)
        close(fd);
}

static int add_module(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    struct lts_module *mods = realloc(self_snap.modules, (self_snap.nmodules + 1) * sizeof(*mods));
    if (!mods)
        return 1;
    self_snap.modules = mods;
    struct lts_module *m = &mods[self_snap.nmodules++];
    memset(m, 0, sizeof(*m));
    int is_exe = !info->dlpi_name || !info->dlpi_name[0];
    m->path = strdup(is_exe ? "/proc/self/exe" : info->dlpi_name);
    m->bias = info->dlpi_addr;
    struct lts_segment *segments = calloc(info->dlpi_phnum, sizeof(*segments));
    m->segments = segments;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            struct lts_segment *seg = &segments[m->nsegments++];
            seg->start = info->dlpi_addr + ph->p_vaddr;
            seg->size = ph->p_memsz;
            seg->offset = ph->p_offset;
            seg->flags = ph->p_flags;
            if (is_exe && (ph->p_flags & PF_X) && !self_exe_start) {
                self_exe_start = seg->start;
                self_exe_end = seg->start + seg->size;
            }
            if (strstr(m->path, "linux-vdso") && (ph->p_flags & PF_X))
                self_vdso_address = seg->start + 16;
        }
    }
    const void *image = NULL; /* the vDSO's: the PT_LOAD that holds its ELF header */
    size_t image_size = 0;
    for (int i = 0; strstr(m->path, "linux-vdso") && i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_phdr[i].p_offset == 0) {
            image = (const void *)(uintptr_t)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
            image_size = info->dlpi_phdr[i].p_filesz;
        }
    find_build_id(m, image, image_size);
    return 0;
}

struct symbolizer *self_symbolizer(const struct lts_snapshot *s, FILE *warn)
{
    struct symbolizer *sym;
    struct lts_error err;
    if (sym_open(s, warn, &sym, &err) != 0)
        fail_msg("sym_open: %s", err.message);
    return sym;
}

int self_snapshot_setup(void **state)
{
    (void)state;
    memset(&self_snap, 0, sizeof(self_snap));
    elf_version(EV_CURRENT);
    dl_iterate_phdr(add_module, NULL);
    caller_site();
    inline_host();
    return self_snap.nmodules && self_exe_start && self_snap.modules[0].build_id ? 0 : -1;
}

int self_snapshot_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < self_snap.nmodules; i++) {
        free((void *)self_snap.modules[i].path);
        free((void *)self_snap.modules[i].build_id);
        free((void *)self_snap.modules[i].segments);
    }
    free(self_snap.modules);
    return 0;
}

