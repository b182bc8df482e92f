/* modules.c — enumerates loaded ELF objects and reads their build-id notes from memory
 * (the PT_NOTE segments are mapped), so nothing is opened on disk. The loader's lock is held
 * only while copying the list out: the callback runs after, because other threads' stack
 * unwinding needs that lock too. Never calls malloc. */
#include "modules.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "mem.h"

struct copy {
    struct lt_module m;
    char path[512];
    unsigned char build_id[64];
};

struct walk {
    struct copy *list;
    size_t count, max;
    char exe[4096];
};

static void find_build_id(struct lt_module *m, const ElfW(Phdr) *ph, uint64_t bias)
{
    const unsigned char *p = (const unsigned char *)(uintptr_t)(bias + ph->p_vaddr);
    const unsigned char *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
        size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;
        const unsigned char *body = p + sizeof(*n);
        if (body + name + desc > end)
            return;
        if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(body, "GNU", 4)) {
            m->build_id = body + name;
            m->build_id_size = n->n_descsz;
            return;
        }
        p = body + name + desc;
    }
}

static int visit(struct dl_phdr_info *info, size_t size, void *raw)
{
    (void)size;
    struct walk *w = raw;
    struct lt_module m;
    memset(&m, 0, sizeof(m));
    m.path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : w->exe;
    m.bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && m.segments < lt_array_size(m.segment)) {
            m.segment[m.segments].start = info->dlpi_addr + ph->p_vaddr;
            m.segment[m.segments].end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            m.segment[m.segments].offset = ph->p_offset;
            m.segment[m.segments].flags = ph->p_flags;
            m.segments++;
        } else if (ph->p_type == PT_NOTE && !m.build_id) {
            find_build_id(&m, ph, info->dlpi_addr);
        }
    }
    if (w->count == w->max)
        return 1; /* more objects than we made room for: the rest are left out */
    struct copy *c = &w->list[w->count++];
    size_t len = strlen(m.path);
    len = len < sizeof(c->path) - 1 ? len : sizeof(c->path) - 1;
    memcpy(c->path, m.path, len);
    c->path[len] = '\0';
    c->m = m;
    c->m.path = c->path;
    c->m.build_id_size = lt_min(m.build_id_size, sizeof(c->build_id));
    if (m.build_id)
        memcpy(c->build_id, m.build_id, c->m.build_id_size);
    c->m.build_id = m.build_id ? c->build_id : NULL;
    return 0;
}

#define MODULES_MAX 4096

void lt_modules_each(lt_module_fn fn, void *ctx)
{
    static struct walk w; /* one caller at a time: snapshots are serialised */
    w.max = MODULES_MAX;
    size_t bytes = w.max * sizeof(struct copy);
    w.list = lt_mem_map_scratch(bytes);
    w.count = 0;
    if (!w.list)
        return;
    ssize_t n = readlink("/proc/self/exe", w.exe, sizeof(w.exe) - 1);
    w.exe[n > 0 ? n : 0] = '\0';
    dl_iterate_phdr(visit, &w);
    for (size_t i = 0; i < w.count; i++)
        fn(&w.list[i].m, ctx);
    lt_mem_unmap(w.list, bytes);
}

struct text_range {
    uint64_t bias, lo, hi;
};

static int find_text(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct text_range *t = ctx;
    if (info->dlpi_addr != t->bias)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!t->hi || lo < t->lo)
            t->lo = lo;
        if (hi > t->hi)
            t->hi = hi;
    }
    return 1;
}

bool lt_modules_text(uint64_t bias, uint64_t *lo, uint64_t *hi)
{
    struct text_range t = {.bias = bias};
    dl_iterate_phdr(find_text, &t);
    if (!t.hi)
        return false;
    *lo = t.lo;
    *hi = t.hi;
    return true;
}
