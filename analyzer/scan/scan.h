/* scan.h — one run of leaktag-scan, as the renderers see it: the target's looks (maps, and
 * the heap census at each --interval), the content of the size classes shown, the thread
 * families. scan_run does the reading; scan_text.c, scan_json.c and scan_html.c only print. */
#ifndef SCAN_SCAN_H
#define SCAN_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "content.h"
#include "error.h"
#include "mallheap.h"
#include "reachability.h"
#include "target.h"

struct scan_options {
    const char *what; /* pid or core file */
    const char *exe;  /* --exe */
    double interval;  /* --interval seconds, 0: one look */
    unsigned count;   /* --count looks */
    bool freeze;
    bool reach;               /* --reach: the verdict */
    bool lost;                /* --lost: the content of lost chunks only */
    const char *grep_pattern; /* --grep */
    struct content_regex *grep;
    size_t top;            /* --top size classes (and regions) shown with their content */
    uint64_t size;         /* --size: only this usable size's content (0: the top ones) */
    const char *dump_path; /* --dump */
    size_t samples;        /* hexdumps per class */
    enum { SCAN_TEXT, SCAN_JSON, SCAN_HTML } format;
    bool color;
};

/* A mapping at one look, for growth: keyed by its start. */
struct scan_region {
    uint64_t start, end, rss, swapped;
    enum target_map_kind kind;
    int tid;
    char perms[5];
    char *path;
};

struct scan_look {
    double at; /* seconds since the first look */
    struct scan_region *regions;
    size_t nregions;
    uint64_t rss, vm_size;
    struct heap_class *classes; /* a copy of the census's, by usable size */
    size_t nclasses;
    uint64_t inuse_bytes, inuse_chunks;
};

/* The content of one size class's in-use chunks, or of one region (no glibc heap). */
struct scan_sample {
    uint64_t address;
    size_t len;    /* bytes kept */
    uint64_t size; /* the chunk's usable size, or the region's */
    uint8_t *bytes;
};

struct scan_content {
    uint64_t usable;     /* the class's usable size; 0 for a region */
    uint64_t start, end; /* a region's */
    uint64_t buffers;    /* chunks (or windows of a region) read */
    uint64_t bytes;
    uint64_t unread; /* bytes that could not be read */
    int64_t growth;  /* chunks more at the last look than at the first */
    struct content_histogram *strings;
    struct content_histogram *shapes;                  /* the strings with their numbers as '#' */
    struct content_fields *fields;                     /* the word at each offset of the chunks */
    struct content_histogram *matches, *match_buffers; /* --grep */
    uint64_t grep_matched;
    struct scan_sample *samples;
    size_t nsamples;
};

/* The last look's mappings of one kind, together. */
struct scan_kind_total {
    uint64_t maps, size, rss, swapped;
};

/* A mapping that grew between the first look and the last (matched by its start). */
struct scan_growth {
    const struct scan_region *region; /* in the last look */
    int64_t rss;                      /* resident bytes more than at the first look */
};

struct scan_family {
    char name[40];
    char start[64]; /* the function its threads started in, "" when unknown */
    size_t threads;
    uint64_t stack_each;   /* the most common reservation */
    uint64_t reserved;     /* all of theirs */
    size_t unknown_stacks; /* threads whose stack was not found */
};

struct scan {
    struct scan_options *opt;
    struct target *t;
    struct heap_census heap;
    struct reachability reach; /* --reach */
    struct scan_look *looks;
    size_t nlooks;
    struct scan_kind_total kinds[TARGET_MAP_SPECIAL + 1];
    struct scan_growth *grew; /* largest growth first; with several looks */
    size_t ngrew;
    struct scan_content *contents;
    size_t ncontents;
    struct scan_modules *modules; /* names for the threads' start routines */
    struct scan_family *families; /* most reserved first */
    size_t nfamilies;
    uint64_t stacks_reserved;
    double walk_seconds;    /* the last look's heap walk and content pass */
    double stopped_seconds; /* --freeze: how long the target was stopped, in all */
    double total_seconds;
    uint64_t dumped_chunks, dumped_bytes;
};

/* Is `what` a process id (else a core file's path)? */
bool scan_is_pid(const char *what);

/* Looks at the target (opt->count times, opt->interval apart), walks its heap, reads the
 * content. Returns 0, or -1 with err (the target exited, out of memory, --dump failed...). */
int scan_run(struct scan *s, struct scan_options *opt, struct lts_error *err);
void scan_free(struct scan *s);

/* The class's chunks at the first and the last look (0 if absent then). */
uint64_t scan_class_chunks(const struct scan_look *look, uint64_t usable);

/* What a mapping is, in words: "heap", "stack of thread 1234", "anonymous", a path. */
const char *scan_kind_name(enum target_map_kind kind);

/* A mapping in words, into buf: "[heap] (malloc's main arena)", "stack of thread 1234", its
 * path, or its kind. */
const char *scan_region_name(char *buf, size_t size, const struct scan_region *r);

void scan_render_text(FILE *out, const struct scan *s);
void scan_render_json(FILE *out, const struct scan *s);
void scan_render_html(FILE *out, const struct scan *s);

#endif
