/* modules.c — see modules.h. */
#include "modules.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "symbolize.h"

#define HEADER_BYTES 4096u

struct scan_modules {
    struct lts_snapshot snap; /* only its modules: what the symbolizer reads */
    struct lts_module *modules;
    struct lts_segment *segments;
    uint8_t (*build_ids)[64];
    struct symbolizer *sym;
};

/* From the ELF header mapped at `start`: the bias (runtime address - ELF address) and the
 * build-id. False when the header is not readable or not ELF. */
static bool read_header(struct target *t, uint64_t start, uint64_t *bias, uint8_t *build_id,
                        size_t *build_id_len)
{
    uint8_t h[HEADER_BYTES];
    size_t got = target_read(t, start, h, sizeof(h));
    if (got < EI_NIDENT || memcmp(h, ELFMAG, SELFMAG))
        return false;
    bool wide = h[EI_CLASS] == ELFCLASS64;
    uint64_t phoff, phnum, phentsize;
    if (wide && got >= sizeof(Elf64_Ehdr)) {
        Elf64_Ehdr e;
        memcpy(&e, h, sizeof(e));
        phoff = e.e_phoff, phnum = e.e_phnum, phentsize = e.e_phentsize;
    } else if (!wide && got >= sizeof(Elf32_Ehdr)) {
        Elf32_Ehdr e;
        memcpy(&e, h, sizeof(e));
        phoff = e.e_phoff, phnum = e.e_phnum, phentsize = e.e_phentsize;
    } else {
        return false;
    }
    uint64_t lowest = UINT64_MAX, note_at[4], note_size[4];
    size_t nnotes = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        uint64_t at = phoff + i * phentsize;
        uint64_t type, vaddr, filesz;
        if (wide && at + sizeof(Elf64_Phdr) <= got) {
            Elf64_Phdr p;
            memcpy(&p, h + at, sizeof(p));
            type = p.p_type, vaddr = p.p_vaddr, filesz = p.p_filesz;
        } else if (!wide && at + sizeof(Elf32_Phdr) <= got) {
            Elf32_Phdr p;
            memcpy(&p, h + at, sizeof(p));
            type = p.p_type, vaddr = p.p_vaddr, filesz = p.p_filesz;
        } else {
            break;
        }
        if (type == PT_LOAD && vaddr < lowest)
            lowest = vaddr;
        if (type == PT_NOTE && nnotes < 4)
            note_at[nnotes] = vaddr, note_size[nnotes++] = filesz;
    }
    if (lowest == UINT64_MAX)
        return false;
    *bias = start - (lowest & ~(uint64_t)4095);
    *build_id_len = 0;
    for (size_t k = 0; k < nnotes && !*build_id_len; k++) {
        uint8_t notes[1024];
        size_t n = note_size[k] < sizeof(notes) ? (size_t)note_size[k] : sizeof(notes);
        n = target_read(t, *bias + note_at[k], notes, n);
        for (size_t at = 0; at + 12 <= n;) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, notes + at, 4);
            memcpy(&descsz, notes + at + 4, 4);
            memcpy(&type, notes + at + 8, 4);
            size_t desc = at + 12 + ((namesz + 3u) & ~3u);
            if (desc > n || descsz > n - desc)
                break;
            if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(notes + at + 12, "GNU", 4) &&
                descsz <= 64) {
                memcpy(build_id, notes + desc, descsz);
                *build_id_len = descsz;
                break;
            }
            at = desc + ((descsz + 3u) & ~3u);
        }
    }
    return true;
}

struct scan_modules *modules_open(struct target *t, FILE *warn)
{
    struct scan_modules *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->modules = calloc(t->nmaps + 1, sizeof(*m->modules));
    m->segments = calloc(t->nmaps + 1, sizeof(*m->segments));
    m->build_ids = calloc(t->nmaps + 1, sizeof(*m->build_ids));
    if (!m->modules || !m->segments || !m->build_ids)
        goto fail;
    size_t nmodules = 0, nsegments = 0;
    for (size_t i = 0; i < t->nmaps; i++) {
        const struct target_map *map = &t->maps[i];
        if (map->kind != TARGET_MAP_FILE || map->offset != 0)
            continue;
        struct lts_module *mod = &m->modules[nmodules];
        size_t id_len;
        if (!read_header(t, map->start, &mod->bias, m->build_ids[nmodules], &id_len))
            continue;
        mod->path = map->path;
        mod->build_id = id_len ? m->build_ids[nmodules] : NULL;
        mod->build_id_len = id_len;
        mod->segments = &m->segments[nsegments];
        /* the file's mappings from here on, while they are the same file */
        for (size_t k = i; k < t->nmaps && t->maps[k].path && !strcmp(t->maps[k].path, map->path);
             k++) {
            const struct target_map *seg = &t->maps[k];
            m->segments[nsegments++] = (struct lts_segment){
                seg->start, seg->end - seg->start, seg->offset,
                (seg->perms[0] == 'r' ? PF_R : 0) | (seg->perms[1] == 'w' ? PF_W : 0) |
                    (seg->perms[2] == 'x' ? PF_X : 0)};
            mod->nsegments++;
        }
        nmodules++;
    }
    m->snap.modules = m->modules;
    m->snap.nmodules = nmodules;
    struct lts_error err;
    if (sym_open(&m->snap, warn, &m->sym, &err) < 0)
        goto fail;
    return m;
fail:
    modules_close(m);
    return NULL;
}

const char *modules_function(struct scan_modules *m, uint64_t addr)
{
    if (!m || !addr)
        return NULL;
    const struct sym_frame *frames;
    /* the symbolizer takes return addresses, and looks one byte before them */
    size_t n = sym_resolve(m->sym, addr + 1, &frames);
    return n ? frames[n - 1].function : NULL;
}

void modules_close(struct scan_modules *m)
{
    if (!m)
        return;
    if (m->sym)
        sym_close(m->sym);
    free(m->modules);
    free(m->segments);
    free(m->build_ids);
    free(m);
}
