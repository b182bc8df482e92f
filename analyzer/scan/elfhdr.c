/* elfhdr.c — see elfhdr.h. */
#include "elfhdr.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

enum elfhdr_error elfhdr_read(elfhdr_read_fn read, void *ctx, unsigned max,
                              struct elfhdr_headers *h)
{
    memset(h, 0, sizeof(*h));
    unsigned char ident[EI_NIDENT];
    if (read(ctx, 0, ident, sizeof(ident)) != sizeof(ident) || memcmp(ident, ELFMAG, SELFMAG))
        return ELFHDR_NOT_ELF;
    h->wide = ident[EI_CLASS] == ELFCLASS64;
    size_t entry;
    if (h->wide) {
        Elf64_Ehdr e;
        if (read(ctx, 0, &e, sizeof(e)) != sizeof(e))
            return ELFHDR_SHORT_HEADER;
        h->type = e.e_type, h->phoff = e.e_phoff, h->phnum = e.e_phnum,
        h->phentsize = e.e_phentsize;
        entry = sizeof(Elf64_Phdr);
    } else if (ident[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr e;
        if (read(ctx, 0, &e, sizeof(e)) != sizeof(e))
            return ELFHDR_SHORT_HEADER;
        h->type = e.e_type, h->phoff = e.e_phoff, h->phnum = e.e_phnum,
        h->phentsize = e.e_phentsize;
        entry = sizeof(Elf32_Phdr);
    } else {
        return ELFHDR_NOT_32_OR_64;
    }
    if (h->phentsize != entry)
        return ELFHDR_BAD_PHENTSIZE;
    unsigned n = h->phnum < max ? h->phnum : max;
    size_t bytes = (size_t)n * entry;
    uint8_t *raw = malloc(bytes + 1);
    h->segments = calloc((size_t)n + 1, sizeof(*h->segments));
    if (!raw || !h->segments) {
        free(raw);
        return ELFHDR_NO_MEMORY;
    }
    if (read(ctx, h->phoff, raw, bytes) != bytes) {
        free(raw);
        return ELFHDR_SHORT_SEGMENTS;
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
    return ELFHDR_OK;
}

void elfhdr_headers_free(struct elfhdr_headers *h)
{
    free(h->segments);
    h->segments = NULL;
}

int elfhdr_next_note(const uint8_t *notes, size_t size, size_t *at, struct elfhdr_note *note)
{
    if (*at + 12 > size)
        return 0;
    uint32_t namesz, descsz;
    memcpy(&namesz, notes + *at, 4);
    memcpy(&descsz, notes + *at + 4, 4);
    memcpy(&note->type, notes + *at + 8, 4);
    uint64_t name_at = *at + 12, desc_at = name_at + (((uint64_t)namesz + 3) & ~3ull);
    if (desc_at > size || descsz > size - desc_at)
        return -1;
    note->name = (const char *)notes + name_at;
    note->namesz = namesz;
    note->desc = notes + desc_at;
    note->descsz = descsz;
    uint64_t next = desc_at + (((uint64_t)descsz + 3) & ~3ull);
    *at = next < size ? (size_t)next : size;
    return 1;
}
