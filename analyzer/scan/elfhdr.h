/* elfhdr.h — an ELF file's header and program headers, 32- or 64-bit, read through a callback:
 * from a file (a core, an executable) or from a live process's memory (a module's header as
 * mapped). One reader for what leaktag-scan needs of ELF. */
#ifndef SCAN_ELFHDR_H
#define SCAN_ELFHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_segment {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
};

struct elf_headers {
    bool wide;              /* ELFCLASS64 */
    unsigned type;          /* e_type: ET_CORE, ET_DYN... */
    uint64_t phoff;         /* where the program headers are, */
    unsigned phnum, phentsize; /* how many, of what size */
    struct elf_segment *segments; /* the first nsegments of them, when ELF_OK */
    unsigned nsegments;
};

enum elf_error {
    ELF_OK,
    ELF_NOT_ELF,        /* no ELF magic, or nothing to read */
    ELF_NOT_32_OR_64,
    ELF_SHORT_HEADER,   /* the ELF header is cut short */
    ELF_BAD_PHENTSIZE,  /* program headers not of this class's size */
    ELF_SHORT_SEGMENTS, /* the program headers are cut short */
    ELF_NO_MEMORY,
};

/* Reads up to len bytes at offset into buf; returns how many it read. */
typedef size_t (*elf_read_fn)(void *ctx, uint64_t offset, void *buf, size_t len);

/* The header and at most `max` program headers (more are not read; phnum says how many
 * there are). h is filled as far as it got, also on an error; elf_headers_free it. */
enum elf_error elf_read_headers(elf_read_fn read, void *ctx, unsigned max, struct elf_headers *h);
void elf_headers_free(struct elf_headers *h);

/* One note of a PT_NOTE segment's bytes. */
struct elf_note {
    uint32_t type;
    const char *name; /* namesz bytes, its NUL included */
    size_t namesz;
    const uint8_t *desc;
    size_t descsz;
};

/* The note at *at of notes[0..size): 1, and *at past it; 0 at the end; -1 when it runs past
 * the end (*at is where it starts). */
int elf_next_note(const uint8_t *notes, size_t size, size_t *at, struct elf_note *note);

#endif
