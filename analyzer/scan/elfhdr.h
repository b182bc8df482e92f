/* elfhdr.h — an ELF file's header and program headers, 32- or 64-bit, read through a callback:
 * from a file (a core, an executable) or from a live process's memory (a module's header as
 * mapped). One reader for what leaktag-scan needs of ELF. */
#ifndef SCAN_ELFHDR_H
#define SCAN_ELFHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfhdr_segment {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
};

struct elfhdr_headers {
    bool wide;                       /* ELFCLASS64 */
    unsigned type;                   /* e_type: ET_CORE, ET_DYN... */
    uint64_t phoff;                  /* where the program headers are, */
    unsigned phnum, phentsize;       /* how many, of what size */
    struct elfhdr_segment *segments; /* the first nsegments of them, when ELFHDR_OK */
    unsigned nsegments;
};

enum elfhdr_error {
    ELFHDR_OK,
    ELFHDR_NOT_ELF, /* no ELF magic, or nothing to read */
    ELFHDR_NOT_32_OR_64,
    ELFHDR_SHORT_HEADER,   /* the ELF header is cut short */
    ELFHDR_BAD_PHENTSIZE,  /* program headers not of this class's size */
    ELFHDR_SHORT_SEGMENTS, /* the program headers are cut short */
    ELFHDR_NO_MEMORY,
};

/* Reads up to len bytes at offset into buf; returns how many it read. */
typedef size_t (*elfhdr_read_fn)(void *ctx, uint64_t offset, void *buf, size_t len);

/* The header and at most `max` program headers (more are not read; phnum says how many
 * there are). h is filled as far as it got, also on an error; elfhdr_headers_free it. */
enum elfhdr_error elfhdr_read(elfhdr_read_fn read, void *ctx, unsigned max,
                              struct elfhdr_headers *h);
void elfhdr_headers_free(struct elfhdr_headers *h);

/* One note of a PT_NOTE segment's bytes. */
struct elfhdr_note {
    uint32_t type;
    const char *name; /* namesz bytes, its NUL included */
    size_t namesz;
    const uint8_t *desc;
    size_t descsz;
};

/* The note at *at of notes[0..size): 1, and *at past it; 0 at the end; -1 when it runs past
 * the end (*at is where it starts). */
int elfhdr_next_note(const uint8_t *notes, size_t size, size_t *at, struct elfhdr_note *note);

#endif
