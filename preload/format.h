/* format.h — the snapshot file format (docs/FORMAT.md), shared by the writer in the shim and
 * the reader in the analyzer. Constants only: numbers here are on disk, never renumber. */
#ifndef LT_FORMAT_H
#define LT_FORMAT_H

#include <stdint.h>

#define LT_FORMAT_MAGIC "LEAKTAG\0"
#define LT_FORMAT_MAGIC_SIZE 8
#define LT_FORMAT_VERSION 1u

/* File = 16-byte header (magic, u32 version, u32 flags) + sections. Each section has a
 * 16-byte header: u32 type, u32 CRC-32 of the payload, u64 payload length. The last section
 * is END; a file without it is incomplete. A payload is a sequence of records that fills it
 * exactly. Integers in records are LEB128 ("uv"), signed ones zigzag-encoded LEB128 ("sv"),
 * strings are uv length + bytes. Fields a reader does not know come after the known ones of
 * a record only in a new format version. */
#define LT_FILE_HEADER_SIZE 16
#define LT_SECTION_HEADER_SIZE 16

enum lt_section {
    LT_SECTION_END = 0,
    LT_SECTION_META = 1,     /* key/value pairs: process, snapshot, options */
    LT_SECTION_COUNTERS = 2, /* name/value pairs */
    LT_SECTION_MODULES = 3,  /* loaded ELF objects with build-ids, for symbolization */
    LT_SECTION_MAPS = 4,     /* the address space, per mapping, like pmap -x */
    LT_SECTION_STACKS = 5,   /* the stack table, ids 0..count-1 in order */
    LT_SECTION_THREADS = 6,  /* the thread registry with per-thread live totals */
    LT_SECTION_BLOCKS = 7,   /* every live block */
    LT_SECTION_SAMPLES = 8,  /* the first bytes of some blocks per stack */
    LT_SECTION_MISUSE = 9,   /* mismatched releases and unknown frees, by site */
};

enum lt_meta_type { LT_META_UINT = 0, LT_META_STRING = 1 };

/* Kinds of mappings in LT_SECTION_MAPS. */
enum lt_map_kind {
    LT_MAP_OTHER = 0,
    LT_MAP_HEAP = 1,         /* [heap] (brk) */
    LT_MAP_MAIN_STACK = 2,   /* [stack] */
    LT_MAP_THREAD_STACK = 3, /* a pthread stack (known from the thread registry) */
    LT_MAP_ANON = 4,         /* anonymous: malloc arenas, large blocks, mmap */
    LT_MAP_FILE = 5,         /* file-backed: binaries, libraries, mapped files */
    LT_MAP_SPECIAL = 6,      /* [vdso], [vvar], [vsyscall] */
    LT_MAP_GUARD = 7,        /* no access: stack guards, reservations */
    LT_MAP_KIND_COUNT
};

/* Thread state bits in LT_SECTION_THREADS (same as the registry's). */
#define LT_THREAD_FLAG_ALIVE 1u
#define LT_THREAD_FLAG_EXITED 2u
#define LT_THREAD_FLAG_INTERNAL 4u

#endif
