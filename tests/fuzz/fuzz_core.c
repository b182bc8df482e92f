/* libFuzzer target for leaktag-scan's reading of core files and of the memory they hold:
 * any bytes must be refused with a one-line message or scanned — headers, notes, segments,
 * and then glibc's heap walked from words the core supplies (arenas, heaps, chunk sizes,
 * tcache and fastbin links, each thread's struct pthread) and the table of the ELF files it
 * maps (modules.c, which once overflowed on a file mapped many times) — never crash, hang,
 * leak or read out of bounds (built with ASan+UBSan). The symbolizer behind the module table
 * is libdw's, which reads the files the core names: not fuzzed here, it answers "no
 * symbols" (the three functions below stand in for it). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mallheap.h"
#include "modules.h"
#include "reachability.h"
#include "symbolize.h"
#include "target.h"
#include "target_core.h"
#include "tcb.h"

int sym_open(const struct lts_snapshot *s, FILE *warn, struct symbolizer **out,
             struct lts_error *err)
{
    (void)s, (void)warn, (void)err;
    *out = NULL;
    return 0;
}

size_t sym_resolve(struct symbolizer *sym, uint64_t address, const struct sym_frame **frames)
{
    (void)sym, (void)address, (void)frames;
    return 0;
}

int sym_data(struct symbolizer *sym, uint64_t address, const char **module, const char **symbol,
             uint64_t *offset)
{
    (void)sym, (void)address, (void)module, (void)symbol, (void)offset;
    return 0;
}

void sym_close(struct symbolizer *sym)
{
    (void)sym;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void visit(uint64_t address, uint64_t usable, const uint8_t *bytes, size_t n, void *ctx)
{
    uint64_t *sum = ctx;
    *sum += address + usable + (n ? bytes[0] + bytes[n - 1] : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("core", MFD_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    struct lts_error err;
    struct target *t = NULL;
    if (target_core_open(path, NULL, &t, &err) < 0) {
        if (!memchr(err.message, '\0', sizeof(err.message)) || strchr(err.message, '\n'))
            __builtin_trap(); /* one line, terminated */
        return 0;
    }
    tcb_read(t);
    struct scan_modules *modules = modules_open(t, NULL);
    struct heap_census c;
    uint64_t sum = 0;
    if (heap_census(t, &c, &err) == 0 && c.glibc && c.nclasses) {
        uint64_t sizes[2] = {c.classes[0].usable, c.classes[c.nclasses - 1].usable};
        heap_each_chunk(t, &c, sizes, 2, visit, &sum);
        /* the verdict over what the core holds: its registers, stacks and chunks */
        struct reachability rc;
        if (reachability_take(t, &c, &rc, &err) == 0 && rc.taken)
            reachability_describe(&rc, t, modules);
        reachability_free(&rc);
    }
    modules_close(modules);
    heap_census_free(&c);
    target_close(t);
    return (int)(sum & 0);
}
