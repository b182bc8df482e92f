/* format.h — the snapshot file format (docs/FORMAT.md): every number that is on disk lives
 * here and nowhere else. The shim's composer and the analyzer's reader both take them from
 * this file; where the shim's runtime keeps a value of its own that must agree (thread state
 * bits, limits), the shim asserts it at compile time. Constants only: never renumber. */
#ifndef LTS_FORMAT_H
#define LTS_FORMAT_H

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

/* Limits a reader enforces and a writer never exceeds. */
#define LT_FORMAT_MAX_DEPTH 64                 /* frames per stack */
#define LT_FORMAT_THREADS_MAX (1u << 20)       /* thread indexes are below this */
#define LT_FORMAT_SAMPLE_BYTES_MAX (16u << 20) /* bytes of one block sample */
#define LT_FORMAT_SEGMENTS_MAX 64u             /* PT_LOAD segments of one module */

enum lt_section {
    LT_SECTION_END = 0,
    LT_SECTION_META = 1,          /* key/value pairs: process, snapshot, options */
    LT_SECTION_COUNTERS = 2,      /* name/value pairs */
    LT_SECTION_MODULES = 3,       /* loaded ELF objects with build-ids, for symbolization */
    LT_SECTION_MAPS = 4,          /* the address space, per mapping, like pmap -x */
    LT_SECTION_STACKS = 5,        /* the stack table, ids 0..count-1 in order */
    LT_SECTION_THREADS = 6,       /* the thread registry with per-thread live totals */
    LT_SECTION_BLOCKS = 7,        /* every live block */
    LT_SECTION_SAMPLES = 8,       /* the first bytes of some blocks per stack */
    LT_SECTION_MISUSE = 9,        /* mismatched releases and unknown frees, by site */
    LT_SECTION_MODULE_TIMES = 10, /* when each module was seen loaded and gone */
    LT_SECTION_REACH_SCAN = 11,   /* the reachability scan: figures, or why there is none */
    LT_SECTION_REACH_ROOTS = 12,  /* the roots it scanned */
    LT_SECTION_REACH = 13,        /* each scanned block's state and first reference */
    LT_SECTION_SAMPLES_ZSTD = 14, /* SAMPLES' records as one zstd frame (a census) */
    LT_SECTION_TYPES              /* types from here on are unknown to this version: skipped */
};
/* Sections a later version adds take types below this; a type at or above it is a damaged
 * header (a flipped byte would otherwise drop an optional section without a word). */
#define LT_SECTION_TYPES_LIMIT 64u

/* States in LT_SECTION_REACH: valgrind memcheck's loss records. */
enum lt_reach_verdict {
    LT_VERDICT_DEFINITELY_LOST = 0,
    LT_VERDICT_INDIRECTLY_LOST = 1,
    LT_VERDICT_POSSIBLY_LOST = 2,
    LT_VERDICT_REACHABLE = 3,
    LT_VERDICT_COUNT
};

/* How a block of LT_SECTION_REACH was first reached. */
enum lt_reach_via { LT_VIA_NONE = 0, LT_VIA_BLOCK = 1, LT_VIA_ROOT = 2 };

/* Kinds of LT_SECTION_REACH_ROOTS records. */
enum lt_root_type {
    LT_ROOT_TYPE_REGISTERS = 1, /* a stopped thread's registers (lo, hi unused) */
    LT_ROOT_TYPE_STACK = 2,     /* a thread's stack from its stack pointer up */
    LT_ROOT_TYPE_MAPPING = 3,   /* a writable mapping holding no block */
    LT_ROOT_TYPE_CALLER = 4,    /* the stack of the thread that took the snapshot */
    LT_ROOT_TYPE_COUNT
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

/* Thread state bits in LT_SECTION_THREADS. */
#define LT_THREAD_FLAG_ALIVE 1u
#define LT_THREAD_FLAG_EXITED 2u
#define LT_THREAD_FLAG_INTERNAL 4u /* leaktag's own thread */
#define LT_THREAD_FLAGS_ALL 7u

/* Which function allocated a block (BLOCKS, MISUSE). */
enum lt_kind {
    LT_KIND_MALLOC = 0,
    LT_KIND_CALLOC = 1,
    LT_KIND_REALLOC = 2,
    LT_KIND_REALLOCARRAY = 3,
    LT_KIND_POSIX_MEMALIGN = 4,
    LT_KIND_ALIGNED_ALLOC = 5,
    LT_KIND_MEMALIGN = 6,
    LT_KIND_VALLOC = 7,
    LT_KIND_PVALLOC = 8,
    LT_KIND_NEW = 9,
    LT_KIND_NEW_ARRAY = 10,
    LT_KIND_NEW_ALIGNED = 11,
    LT_KIND_NEW_ARRAY_ALIGNED = 12,
    LT_KIND_COUNT /* also "no allocation": the alloc_kind of an unknown free */
};

/* Which function released it (MISUSE). */
enum lt_release {
    LT_RELEASE_FREE = 0, /* free, and realloc of the old block */
    LT_RELEASE_DELETE = 1,
    LT_RELEASE_DELETE_ARRAY = 2,
    LT_RELEASE_DELETE_ALIGNED = 3,
    LT_RELEASE_DELETE_ARRAY_ALIGNED = 4,
    LT_RELEASE_COUNT
};

/* Records of LT_SECTION_MISUSE. */
enum lt_misuse_type { LT_MISUSE_MISMATCH = 1, LT_MISUSE_UNKNOWN_FREE = 2 };

#endif
