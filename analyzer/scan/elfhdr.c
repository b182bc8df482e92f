/* elfhdr.c — see elfhdr.h. */
#include "elfhdr.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

int elfhdr_read(elfhdr_read_fn read, void *ctx, unsigned max, const char *name,
                struct elfhdr_headers *h, struct lts_error *err)
{
    memset(h, 0, sizeof(*h));
    unsigned char ident[EI_NIDENT];
    if (read(ctx, 0, ident, sizeof(ident)) != sizeof(ident) || memcmp(ident, ELFMAG, SELFMAG))
        return lts_fail(err, "%s: not ELF", name);
    h->elf = true;
    h->wide = ident[EI_CLASS] == ELFCLASS64;
    size_t entry;
    if (h->wide) {
        Elf64_Ehdr e;
        if (read(ctx, 0, &e, sizeof(e)) != sizeof(e))
            return lts_fail(err, "%s: truncated: no complete ELF header", name);
        h->type = e.e_type, h->phoff = e.e_phoff, h->phnum = e.e_phnum,
        h->phentsize = e.e_phentsize;
        entry = sizeof(Elf64_Phdr);
    } else if (ident[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr e;
        if (read(ctx, 0, &e, sizeof(e)) != sizeof(e))
            return lts_fail(err, "%s: truncated: no complete ELF header", name);
        h->type = e.e_type, h->phoff = e.e_phoff, h->phnum = e.e_phnum,
        h->phentsize = e.e_phentsize;
        entry = sizeof(Elf32_Phdr);
    } else {
        return lts_fail(err, "%s: neither ELF32 nor ELF64", name);
    }
    if (h->phentsize != entry)
        return lts_fail(err, "%s: program headers of %u bytes, not %zu", name, h->phentsize, entry);
    unsigned n = h->phnum < max ? h->phnum : max;
    size_t bytes = (size_t)n * entry;
    uint8_t *raw = malloc(bytes + 1);
    h->segments = calloc((size_t)n + 1, sizeof(*h->segments));
    if (!raw || !h->segments) {
        free(raw);
        return lts_fail(err, "out of memory");
    }
    if (read(ctx, h->phoff, raw, bytes) != bytes) {
        free(raw);
        return 0; /* nsegments 0: the caller that needs them says so, knowing why */
    }
    for (unsigned i = 0; i < n; i++) {
        struct elfhdr_segment *s = &h->segments[i];
        if (h->wide) {
            Elf64_Phdr p;
            memcpy(&p, raw + (size_t)i * entry, sizeof(p));
            *s = (struct elfhdr_segment){p.p_type,  p.p_flags,  p.p_offset,
                                         p.p_vaddr, p.p_filesz, p.p_memsz};
        } else {
            Elf32_Phdr p;
            memcpy(&p, raw + (size_t)i * entry, sizeof(p));
            *s = (struct elfhdr_segment){p.p_type,  p.p_flags,  p.p_offset,
                                         p.p_vaddr, p.p_filesz, p.p_memsz};
        }
    }
    free(raw);
    h->nsegments = n;
    return 0;
}

void elfhdr_headers_free(struct elfhdr_headers *h)
{
    free(h->segments);
    h->segments = NULL;
}

bool elfhdr_next_note(struct elfhdr_notes *it, struct elfhdr_note *note)
{
    size_t at = it->at, size = it->size;
    if (it->damaged || size < 12 || at > size - 12)
        return false;
    uint32_t namesz, descsz;
    memcpy(&namesz, it->notes + at, 4);
    memcpy(&descsz, it->notes + at + 4, 4);
    memcpy(&note->type, it->notes + at + 8, 4);
    uint64_t name_at = at + 12, desc_at = name_at + (((uint64_t)namesz + 3) & ~3ull);
    if (desc_at > size || descsz > size - desc_at) {
        it->damaged = true;
        return false;
    }
    note->name = (const char *)it->notes + name_at;
    note->namesz = namesz;
    note->desc = it->notes + desc_at;
    note->descsz = descsz;
    uint64_t next = desc_at + (((uint64_t)descsz + 3) & ~3ull);
    it->at = next < size ? (size_t)next : size;
    return true;
}
