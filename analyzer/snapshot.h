/* snapshot.h — reads a leaktag snapshot file (docs/FORMAT.md) into memory.
 * Every length, count, offset and cross-reference is checked before use: a truncated or
 * corrupt file gives one error message with the offset, never a crash. A library of its own
 * (libleaktag-snapshot), used by leaktag-report, the tests and the fuzzer. */
#ifndef LTS_SNAPSHOT_H
#define LTS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct lts_arena_chunk;

struct lts_error {
    char message[256]; /* "truncated BLOCKS section", ... */
    uint64_t offset;   /* byte offset in the file where it went wrong */
    int has_offset;    /* 0 for errors that are not about the content (cannot open, ...) */
};

struct lts_meta {
    const char *key;
    int is_string;
    uint64_t number;
    const char *text; /* NUL-terminated copy; may contain NULs before (cmdline) */
    size_t text_len;
};

struct lts_counter {
    const char *name;
    uint64_t value;
};

struct lts_segment {
    uint64_t start, size, offset;
    uint32_t flags;
};

struct lts_module {
    const char *path;
    uint64_t bias;
    const uint8_t *build_id;
    size_t build_id_len;
    uint32_t nsegments;
    struct lts_segment *segments;
};

struct lts_map {
    uint64_t start, size, offset, inode;
    uint64_t rss, private_dirty, swap, anonymous;
    char perms[5];
    const char *path;
    uint8_t kind; /* enum lt_map_kind */
};

struct lts_stack {
    uint32_t depth;
    const uint64_t *frames; /* return addresses, frame 0 = the allocation's caller */
};

struct lts_thread {
    uint32_t idx;
    uint64_t tid;
    const char *name;
    uint32_t state; /* LT_THREAD_FLAG_* */
    uint64_t start_cs, exit_cs;
    uint64_t stack_size, stack_addr, guard_size, start_routine;
    uint32_t creator;
    uint64_t live_blocks, live_bytes, allocs, frees;
};

struct lts_block {
    uint64_t addr, size;
    uint32_t stack, thread;
    uint32_t age_cs;
    uint8_t kind; /* enum lt_kind */
};

struct lts_sample {
    uint64_t addr;
    uint32_t stack;
    uint32_t len;
    const uint8_t *bytes;
};

struct lts_misuse {
    uint8_t type; /* enum lt_misuse_type */
    uint32_t alloc_stack, release_stack;
    uint8_t alloc_kind, release_kind;
    uint64_t count;
};

struct lts_snapshot {
    uint32_t version;
    /* Frequently used META entries, 0 or "" when absent. */
    uint64_t pid, seq, time_unix_ns, now_cs, clock_origin_unix_ns, rss_bytes, vm_size_bytes;
    const char *exe, *cmdline, *reason, *options;
    size_t cmdline_len;

    struct lts_meta *meta;
    size_t nmeta;
    struct lts_counter *counters;
    size_t ncounters;
    struct lts_module *modules;
    size_t nmodules;
    struct lts_map *maps;
    size_t nmaps;
    struct lts_stack *stacks;
    size_t nstacks;
    struct lts_thread *threads;
    size_t nthreads;
    struct lts_block *blocks;
    size_t nblocks;
    struct lts_sample *samples;
    size_t nsamples;
    struct lts_misuse *misuse;
    size_t nmisuse;

    struct lts_arena_chunk *arena; /* everything above lives in here: freed by lts_close */
};

/* Parses a snapshot held in memory. Returns 0, or -1 with *err filled. */
int lts_parse(const uint8_t *data, size_t size, struct lts_snapshot **out, struct lts_error *err);

/* Reads and parses a file. Returns 0, or -1 with *err filled (I/O errors included). */
int lts_open(const char *path, struct lts_snapshot **out, struct lts_error *err);

void lts_close(struct lts_snapshot *s);

/* Lookups. */
uint64_t lts_meta_number(const struct lts_snapshot *s, const char *key, uint64_t fallback);
const char *lts_meta_text(const struct lts_snapshot *s, const char *key);
uint64_t lts_counter(const struct lts_snapshot *s, const char *name, uint64_t fallback);
/* Thread by registry index, or NULL. */
const struct lts_thread *lts_thread(const struct lts_snapshot *s, uint32_t idx);

#endif
