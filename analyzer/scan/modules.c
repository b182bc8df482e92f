/* modules.c — see modules.h. */
#include "modules.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "elfhdr.h"
#include "reader.h"
#include "symbolize.h"

struct scan_modules {
    struct lts_snapshot snap; /* only its modules: what the symbolizer reads */
    struct lts_module *modules;
    struct lts_segment *segments;
    uint8_t (*build_ids)[64];
    struct symbolizer *sym;
};

struct mapped {
    struct target *t;
    uint64_t start;
};

/* elfhdr_read_fn over a file's header as mapped into the target. */
static size_t read_mapped(void *ctx, uint64_t offset, void *buf, size_t len)
{
    const struct mapped *m = ctx;
    return target_read(m->t, m->start + offset, buf, len);
}

/* From the ELF header mapped at `start`: the bias (runtime address - ELF address) and the
 * build-id. False when the header is not readable or not ELF. */
static bool read_header(struct target *t, uint64_t start, uint64_t *bias, uint8_t *build_id,
                        size_t *build_id_len)
{
    struct mapped m = {t, start};
    struct elfhdr_headers h;
    struct lts_error ignored; /* not ELF, or damaged: no module here, nothing to say */
    if (elfhdr_read(read_mapped, &m, 256, "mapped header", &h, &ignored) < 0) {
        elfhdr_headers_free(&h);
        return false;
    }
    uint64_t lowest = UINT64_MAX, note_at[4], note_size[4];
    size_t nnotes = 0;
    for (unsigned i = 0; i < h.nsegments; i++) {
        const struct elfhdr_segment *p = &h.segments[i];
        if (p->type == PT_LOAD && p->vaddr < lowest)
            lowest = p->vaddr;
        if (p->type == PT_NOTE && nnotes < 4)
            note_at[nnotes] = p->vaddr, note_size[nnotes++] = p->filesz;
    }
    elfhdr_headers_free(&h);
    if (lowest == UINT64_MAX)
        return false;
    *bias = start - (lowest & ~(uint64_t)4095);
    *build_id_len = 0;
    for (size_t k = 0; k < nnotes && !*build_id_len; k++) {
        uint8_t notes[1024];
        size_t n = note_size[k] < sizeof(notes) ? (size_t)note_size[k] : sizeof(notes);
        n = target_read(t, *bias + note_at[k], notes, n);
        struct elfhdr_note note;
        struct elfhdr_notes walk = {notes, n};
        while (elfhdr_next_note(&walk, &note))
            if (note.type == NT_GNU_BUILD_ID && note.namesz == 4 && !memcmp(note.name, "GNU", 4) &&
                note.descsz <= 64) {
                memcpy(build_id, note.desc, note.descsz);
                *build_id_len = note.descsz;
                break;
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
        /* the file's mappings from here on, while they are the same file and until it is
         * mapped from its start again: each mapping belongs to one module at most, so the
         * segments never outnumber the mappings (PostgreSQL maps one file many times) */
        for (size_t k = i; k < t->nmaps && t->maps[k].path && !strcmp(t->maps[k].path, map->path) &&
                           (k == i || t->maps[k].offset != 0);
             k++) {
            const struct target_map *seg = &t->maps[k];
            m->segments[nsegments++] = (struct lts_segment){
                seg->start, seg->end - seg->start, seg->offset,
                (seg->perms[0] == 'r' ? PF_R : 0) | (seg->perms[1] == 'w' ? PF_W : 0) |
                    (seg->perms[2] == 'x' ? PF_X : 0)};
            mod->nsegments++;
            /* the .bss past the file's last page: the anonymous mapping right after a
             * writable one (globals a reachability chain names live there) */
            const struct target_map *next = k + 1 < t->nmaps ? &t->maps[k + 1] : NULL;
            if (next && next->kind == TARGET_MAP_ANON && next->start == seg->end &&
                seg->perms[1] == 'w' && next->perms[1] == 'w') {
                m->segments[nsegments++] = (struct lts_segment){
                    next->start, next->end - next->start, 0, PF_R | PF_W};
                mod->nsegments++;
                break;
            }
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

bool modules_data(struct scan_modules *m, uint64_t addr, const char **module, const char **symbol,
                  uint64_t *offset)
{
    return m && sym_data(m->sym, addr, module, symbol, offset);
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
