/* record.h — the records of each section, as the writer takes them and the reader returns
 * them, and their encodings: for every record one lts_put_* (writer side) and one lts_get_*
 * (reader side), next to each other in record.c, so that the two cannot drift apart
 * (tests/snapshot/test_roundtrip.c writes every record and reads it back). A decoder checks
 * the ranges one record can check by itself; references between sections (a block's stack
 * id) are the reader's to check. */
#ifndef LTS_RECORD_H
#define LTS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cursor.h"
#include "format.h"
#include "writer.h"

/* META */
struct lts_meta {
    const char *key;
    int is_string;
    uint64_t number;
    const char *text; /* NUL-terminated copy; may contain NULs before (cmdline) */
    size_t text_len;
};

/* COUNTERS */
struct lts_counter {
    const char *name;
    uint64_t value;
};

/* MODULES */
struct lts_segment {
    uint64_t start, size, offset; /* runtime address, bytes, file offset */
    uint32_t flags;               /* PF_R | PF_W | PF_X */
};

struct lts_module {
    const char *path;
    uint64_t bias;
    const uint8_t *build_id;
    size_t build_id_len;
    uint32_t nsegments;
    const struct lts_segment *segments;
    /* From MODULE_TIMES (0 and 0 without it: loaded all along). */
    uint32_t loaded_cs, unloaded_cs; /* unloaded_cs 0: still loaded */
};

/* MODULE_TIMES: one per MODULES record, in the same order */
struct lts_module_time {
    uint32_t loaded_cs, unloaded_cs;
};

/* MAPS */
struct lts_map {
    uint64_t start, size, offset, inode;
    uint64_t rss, private_dirty, swap, anonymous;
    char perms[5];
    const char *path;
    uint8_t kind; /* enum lt_map_kind */
};

/* STACKS */
struct lts_stack {
    uint32_t depth;
    const uint64_t *frames; /* return addresses, frame 0 = the allocation's caller */
};

/* THREADS */
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

/* BLOCKS */
struct lts_block {
    uint64_t addr, size; /* addr is 8-aligned: stored divided by 8 */
    uint32_t stack, thread;
    uint32_t age_cs;
    uint8_t kind; /* enum lt_kind */
};

/* SAMPLES */
struct lts_sample {
    uint64_t addr; /* 8-aligned, like a block's */
    uint32_t stack;
    uint32_t len;
    const uint8_t *bytes; /* reader: points into the file image */
};

/* MISUSE */
struct lts_misuse {
    uint8_t type; /* enum lt_misuse_type */
    uint32_t alloc_stack, release_stack;
    uint8_t alloc_kind, release_kind;
    uint64_t count;
};

/* REACH_SCAN: one record. status 0: the scan ran and REACH holds its states; else why. */
struct lts_reach_scan {
    int64_t status;
    const char *why; /* reader: arena copy, "" when status is 0 */
    uint64_t pause_ns, fork_ns, scan_ns, bytes_scanned, blocks;
    uint32_t threads, retries;
};

/* REACH_ROOTS */
struct lts_reach_root {
    uint8_t type; /* enum lt_root_type */
    uint64_t tid;
    uint64_t lo, hi;
};

/* REACH: in increasing address order. */
struct lts_reach {
    uint64_t addr;     /* 8-aligned */
    uint8_t state;     /* enum lt_reach_verdict */
    uint8_t via_type;  /* enum lt_reach_via */
    uint32_t via;      /* index of a REACH record, or of a root */
    uint64_t via_addr; /* where the reference was (0 for a register) */
};

void lts_put_meta(struct lts_writer *w, const struct lts_meta *m);
void lts_put_meta_uint(struct lts_writer *w, const char *key, uint64_t value);
void lts_put_meta_text(struct lts_writer *w, const char *key, const char *text, size_t len);
void lts_put_counter(struct lts_writer *w, const char *name, uint64_t value);
void lts_put_module(struct lts_writer *w, const struct lts_module *m);
void lts_put_module_time(struct lts_writer *w, const struct lts_module_time *t);
void lts_put_map(struct lts_writer *w, const struct lts_map *m);
void lts_put_stack(struct lts_writer *w, const struct lts_stack *s);
void lts_put_thread(struct lts_writer *w, const struct lts_thread *t);
void lts_put_block(struct lts_writer *w, const struct lts_block *b);
void lts_put_sample(struct lts_writer *w, const struct lts_sample *s);
void lts_put_misuse(struct lts_writer *w, const struct lts_misuse *m);
void lts_put_reach_scan(struct lts_writer *w, const struct lts_reach_scan *r);
void lts_put_reach_root(struct lts_writer *w, const struct lts_reach_root *r);
void lts_put_reach(struct lts_writer *w, const struct lts_reach *r);

bool lts_get_meta(struct lts_cursor *c, struct lts_meta *m);
bool lts_get_counter(struct lts_cursor *c, struct lts_counter *k);
bool lts_get_module(struct lts_cursor *c, struct lts_module *m);
bool lts_get_module_time(struct lts_cursor *c, struct lts_module_time *t);
bool lts_get_map(struct lts_cursor *c, struct lts_map *m);
bool lts_get_stack(struct lts_cursor *c, struct lts_stack *s);
bool lts_get_thread(struct lts_cursor *c, struct lts_thread *t);
bool lts_get_block(struct lts_cursor *c, struct lts_block *b);
bool lts_get_sample(struct lts_cursor *c, struct lts_sample *s);
bool lts_get_misuse(struct lts_cursor *c, struct lts_misuse *m);
bool lts_get_reach_scan(struct lts_cursor *c, struct lts_reach_scan *r);
bool lts_get_reach_root(struct lts_cursor *c, struct lts_reach_root *r);
bool lts_get_reach(struct lts_cursor *c, struct lts_reach *r);

#endif
