/* elfhdr.h — an ELF file's header and program headers, 32- or 64-bit, read through a callback:
 * from a file (a core, an executable) or from a live process's memory (a module's header as
 * mapped). One reader for what leaktag-scan needs of ELF. */
#ifndef SCAN_ELFHDR_H
#define SCAN_ELFHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../snapshot/error.h"

struct elfhdr_segment {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
};

struct elfhdr_headers {
    bool elf;                        /* the ELF magic is there: the file claims to be ELF */
    bool wide;                       /* ELFCLASS64 */
    unsigned type;                   /* e_type: ET_CORE, ET_DYN... */
    uint64_t phoff;                  /* where the program headers are, */
    unsigned phnum, phentsize;       /* how many, of what size */
    struct elfhdr_segment *segments; /* the first nsegments of them */
    unsigned nsegments;              /* 0 when they are cut short: a caller that needs
                                        them all compares with phnum */
};

/* Reads up to len bytes at offset into buf; returns how many it read. */
typedef size_t (*elfhdr_read_fn)(void *ctx, uint64_t offset, void *buf, size_t len);

/* The header and at most `max` program headers (more are not read; phnum says how many
 * there are). 0, or -1 and err says what is wrong, named `name` ("/bin/x: not ELF"); h is
 * filled as far as it got either way (h->elf tells "not ELF" from a damaged ELF file), and
 * must be elfhdr_headers_free'd. */
int elfhdr_read(elfhdr_read_fn read, void *ctx, unsigned max, const char *name,
                struct elfhdr_headers *h, struct lts_error *err);
void elfhdr_headers_free(struct elfhdr_headers *h);

/* One note of a PT_NOTE segment's bytes. */
struct elfhdr_note {
    uint32_t type;
    const char *name; /* namesz bytes, its NUL included */
    size_t namesz;
    const uint8_t *desc;
    size_t descsz;
};

/* The notes of notes[0..size), one at a time:
 *     struct elfhdr_notes it = {notes, size};
 *     while (elfhdr_next_note(&it, &note)) ...
 *     if (it.damaged) ...   a note at it.at runs past the end: the walk stopped there */
struct elfhdr_notes {
    const uint8_t *notes;
    size_t size;
    size_t at;    /* where the next note starts */
    bool damaged; /* the note at `at` runs past the end */
};
bool elfhdr_next_note(struct elfhdr_notes *it, struct elfhdr_note *note);

#endif
