/* Unit tests of leaktag-scan's ELF reader: headers of both widths built here byte by byte,
 * every way one can be wrong (not ELF, cut short, an unknown class, program headers of the
 * wrong size, program headers past the end), and the notes walk, whole and damaged. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "elfhdr.h"

struct image {
    const uint8_t *bytes;
    size_t size;
};

static size_t read_image(void *ctx, uint64_t offset, void *buf, size_t len)
{
    const struct image *im = ctx;
    if (offset >= im->size)
        return 0;
    size_t n = im->size - offset < len ? (size_t)(im->size - offset) : len;
    memcpy(buf, im->bytes + offset, n);
    return n;
}

/* An ELF64 header and two program headers (PT_LOAD, PT_NOTE) at 64. */
static size_t elf64(uint8_t *out)
{
    Elf64_Ehdr e = {0};
    memcpy(e.e_ident, ELFMAG, SELFMAG);
    e.e_ident[EI_CLASS] = ELFCLASS64;
    e.e_type = ET_CORE;
    e.e_phoff = sizeof(e);
    e.e_phnum = 2;
    e.e_phentsize = sizeof(Elf64_Phdr);
    Elf64_Phdr p[2] = {{.p_type = PT_LOAD,
                        .p_flags = PF_R | PF_W,
                        .p_offset = 4096,
                        .p_vaddr = 0x400000,
                        .p_filesz = 8192,
                        .p_memsz = 12288},
                       {.p_type = PT_NOTE, .p_offset = 200, .p_filesz = 40}};
    memcpy(out, &e, sizeof(e));
    memcpy(out + sizeof(e), p, sizeof(p));
    return sizeof(e) + sizeof(p);
}

/* The same in ELF32. */
static size_t elf32(uint8_t *out)
{
    Elf32_Ehdr e = {0};
    memcpy(e.e_ident, ELFMAG, SELFMAG);
    e.e_ident[EI_CLASS] = ELFCLASS32;
    e.e_type = ET_DYN;
    e.e_phoff = sizeof(e);
    e.e_phnum = 1;
    e.e_phentsize = sizeof(Elf32_Phdr);
    Elf32_Phdr p = {.p_type = PT_INTERP, .p_offset = 0x34, .p_vaddr = 0x8048034, .p_filesz = 19};
    memcpy(out, &e, sizeof(e));
    memcpy(out + sizeof(e), &p, sizeof(p));
    return sizeof(e) + sizeof(p);
}

static int read_bytes(const uint8_t *bytes, size_t size, unsigned max, struct elfhdr_headers *h,
                      struct lts_error *err)
{
    struct image im = {bytes, size};
    memset(err, 0, sizeof(*err));
    return elfhdr_read(read_image, &im, max, "x.core", h, err);
}

static void test_both_widths(void **state)
{
    (void)state;
    uint8_t b[512];
    struct elfhdr_headers h;
    struct lts_error err;
    size_t n = elf64(b);
    assert_int_equal(read_bytes(b, n, 256, &h, &err), 0);
    assert_true(h.elf && h.wide);
    assert_int_equal(h.type, ET_CORE);
    assert_int_equal(h.phnum, 2);
    assert_int_equal(h.nsegments, 2);
    assert_int_equal(h.segments[0].type, PT_LOAD);
    assert_int_equal(h.segments[0].flags, PF_R | PF_W);
    assert_int_equal(h.segments[0].offset, 4096);
    assert_int_equal(h.segments[0].vaddr, 0x400000);
    assert_int_equal(h.segments[0].filesz, 8192);
    assert_int_equal(h.segments[0].memsz, 12288);
    assert_int_equal(h.segments[1].type, PT_NOTE);
    elfhdr_headers_free(&h);

    /* At most `max` program headers are read; phnum still says how many there are. */
    assert_int_equal(read_bytes(b, n, 1, &h, &err), 0);
    assert_int_equal(h.phnum, 2);
    assert_int_equal(h.nsegments, 1);
    elfhdr_headers_free(&h);

    n = elf32(b);
    assert_int_equal(read_bytes(b, n, 256, &h, &err), 0);
    assert_true(h.elf && !h.wide);
    assert_int_equal(h.type, ET_DYN);
    assert_int_equal(h.nsegments, 1);
    assert_int_equal(h.segments[0].type, PT_INTERP);
    assert_int_equal(h.segments[0].vaddr, 0x8048034);
    elfhdr_headers_free(&h);
}

static void test_refused(void **state)
{
    (void)state;
    uint8_t b[512];
    struct elfhdr_headers h;
    struct lts_error err;

    assert_int_equal(read_bytes((const uint8_t *)"#!/bin/sh\necho hello\n", 21, 256, &h, &err), -1);
    assert_false(h.elf);
    assert_string_equal(err.message, "x.core: not ELF");
    elfhdr_headers_free(&h);
    assert_int_equal(read_bytes(b, 0, 256, &h, &err), -1);
    assert_false(h.elf);
    elfhdr_headers_free(&h);

    /* Every cut inside the ELF header: ELF, but not a complete header. */
    size_t n = elf64(b);
    for (size_t cut = EI_NIDENT; cut < sizeof(Elf64_Ehdr); cut++) {
        assert_int_equal(read_bytes(b, cut, 256, &h, &err), -1);
        assert_true(h.elf);
        assert_string_equal(err.message, "x.core: truncated: no complete ELF header");
        elfhdr_headers_free(&h);
    }
    /* Cut inside the program headers: read, none of them (the caller compares with phnum). */
    for (size_t cut = sizeof(Elf64_Ehdr); cut < n; cut++) {
        assert_int_equal(read_bytes(b, cut, 256, &h, &err), 0);
        assert_int_equal(h.phnum, 2);
        assert_int_equal(h.nsegments, 0);
        elfhdr_headers_free(&h);
    }

    b[EI_CLASS] = 7;
    assert_int_equal(read_bytes(b, n, 256, &h, &err), -1);
    assert_string_equal(err.message, "x.core: neither ELF32 nor ELF64");
    elfhdr_headers_free(&h);

    n = elf64(b);
    Elf64_Ehdr e;
    memcpy(&e, b, sizeof(e));
    e.e_phentsize = sizeof(Elf32_Phdr);
    memcpy(b, &e, sizeof(e));
    assert_int_equal(read_bytes(b, n, 256, &h, &err), -1);
    assert_string_equal(err.message, "x.core: program headers of 32 bytes, not 56");
    elfhdr_headers_free(&h);
}

/* A note: name and description, each padded to 4 bytes. */
static size_t note(uint8_t *out, uint32_t type, const char *name, const void *desc, uint32_t descsz)
{
    uint32_t namesz = (uint32_t)strlen(name) + 1;
    memcpy(out, &namesz, 4);
    memcpy(out + 4, &descsz, 4);
    memcpy(out + 8, &type, 4);
    memset(out + 12, 0, ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u));
    memcpy(out + 12, name, namesz);
    memcpy(out + 12 + ((namesz + 3) & ~3u), desc, descsz);
    return 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u);
}

static void test_notes(void **state)
{
    (void)state;
    uint8_t b[256];
    const uint8_t id[20] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
    size_t n = note(b, NT_PRSTATUS, "CORE", "abcde", 5);
    size_t second = n;
    n += note(b + n, NT_GNU_BUILD_ID, "GNU", id, sizeof(id));

    struct elfhdr_notes walk = {b, n};
    struct elfhdr_note got;
    assert_true(elfhdr_next_note(&walk, &got));
    assert_int_equal(got.type, NT_PRSTATUS);
    assert_int_equal(got.namesz, 5);
    assert_string_equal(got.name, "CORE");
    assert_int_equal(got.descsz, 5);
    assert_memory_equal(got.desc, "abcde", 5);
    assert_int_equal(walk.at, second);
    assert_true(elfhdr_next_note(&walk, &got));
    assert_int_equal(got.type, NT_GNU_BUILD_ID);
    assert_memory_equal(got.desc, id, sizeof(id));
    assert_false(elfhdr_next_note(&walk, &got));
    assert_false(walk.damaged);

    /* Cut anywhere inside the second note: the first is read, the second damaged (or, cut
     * inside its 12-byte head, simply the end). */
    for (size_t cut = second; cut < n; cut++) {
        walk = (struct elfhdr_notes){b, cut};
        assert_true(elfhdr_next_note(&walk, &got));
        assert_false(elfhdr_next_note(&walk, &got));
        assert_int_equal(walk.damaged, cut >= second + 12);
        assert_int_equal(walk.at, second);
    }

    /* A description size near 2^32 must not wrap the bounds check. */
    uint32_t huge = UINT32_MAX - 2;
    memcpy(b + second + 4, &huge, 4);
    walk = (struct elfhdr_notes){b, n};
    assert_true(elfhdr_next_note(&walk, &got));
    assert_false(elfhdr_next_note(&walk, &got));
    assert_true(walk.damaged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_widths),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_notes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
