/* reader.c — the snapshot reader. Sections are first located and checksummed, then parsed
 * in dependency order (stacks before the blocks that name them). Each list section is walked
 * twice with its record decoder (record.c): once to count and validate, once to fill an
 * exactly sized array, so no count read from the file ever sizes an allocation. All memory
 * comes from one arena.
 *
 * A fuzzing build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) skips the checksums, so that
 * mutations reach the parsers. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "crc32.h"
#include "format.h"
#include "samples.h"

static const char *section_name(uint32_t type)
{
    static const char *const names[LT_SECTION_TYPES] = {
        "END",          "META",       "COUNTERS",    "MODULES", "MAPS",
        "STACKS",       "THREADS",    "BLOCKS",      "SAMPLES", "MISUSE",
        "MODULE_TIMES", "REACH_SCAN", "REACH_ROOTS", "REACH",   "SAMPLES_ZSTD"};
    return type < LT_SECTION_TYPES ? names[type] : "unknown";
}

struct located {
    const uint8_t *payload;
    uint64_t length;
    bool present;
};

struct parse {
    struct lts_cursor c;
    struct lts_snapshot *s;
    uint64_t last_reach_addr;
};

static void *arena_alloc(void *ctx, size_t n)
{
    return lts_arena_alloc(ctx, n);
}

/* ---- what one record cannot check alone: references into other sections ------------------- */

static bool check_block(struct parse *ps, const void *record)
{
    const struct lts_block *b = record;
    if (b->stack >= ps->s->nstacks)
        return lts_cursor_fail(&ps->c, "block refers to stack %u, but there are %zu stacks",
                               b->stack, ps->s->nstacks);
    return true;
}

static bool check_sample(struct parse *ps, const void *record)
{
    const struct lts_sample *sm = record;
    if (sm->stack >= ps->s->nstacks)
        return lts_cursor_fail(&ps->c, "sample refers to stack %u, but there are %zu stacks",
                               sm->stack, ps->s->nstacks);
    return true;
}

static bool check_reach_scan(struct parse *ps, const void *record)
{
    (void)record;
    if (ps->s->nreach_scan > 0)
        return lts_cursor_fail(&ps->c, "more than one REACH_SCAN record");
    return true;
}

static bool check_reach(struct parse *ps, const void *record)
{
    const struct lts_reach *r = record;
    if (ps->s->nreach > 0 && r->addr <= ps->last_reach_addr)
        return lts_cursor_fail(&ps->c, "REACH records out of address order");
    ps->last_reach_addr = r->addr;
    if (r->via_type == LT_VIA_ROOT && r->via >= ps->s->nreach_roots)
        return lts_cursor_fail(&ps->c, "REACH record refers to root %u, but there are %zu roots",
                               r->via, ps->s->nreach_roots);
    return true;
}

static bool check_misuse(struct parse *ps, const void *record)
{
    const struct lts_misuse *m = record;
    if (m->alloc_stack >= ps->s->nstacks || m->release_stack >= ps->s->nstacks)
        return lts_cursor_fail(&ps->c, "misuse record refers to a stack that does not exist");
    return true;
}

static bool check_module_time(struct parse *ps, const void *record)
{
    (void)record;
    if (ps->s->nmodule_times >= ps->s->nmodules)
        return lts_cursor_fail(&ps->c, "more MODULE_TIMES records than modules");
    return true;
}

static bool check_stack_count(struct parse *ps, const void *record)
{
    (void)record;
    if (ps->s->nstacks >= UINT32_MAX - 1)
        return lts_cursor_fail(&ps->c, "too many stacks in STACKS section");
    return true;
}

/* One list section: its decoder, the size of its records, where they go. */
struct list {
    uint32_t type;
    bool (*decode)(struct lts_cursor *c, void *record);
    bool (*check)(struct parse *ps, const void *record); /* NULL: nothing to cross-check */
    size_t size;
    void **array;
    size_t *count;
};

#define DECODER(fn) ((bool (*)(struct lts_cursor *, void *))(fn))

/* Walks the section twice around an exactly sized allocation. The count under way is kept in
 * *count during both walks, so that a check can see how many records came before. */
static bool parse_list(struct parse *ps, const struct located *sec, const struct list *l)
{
    union {
        struct lts_meta meta;
        struct lts_counter counter;
        struct lts_module module;
        struct lts_module_time module_time;
        struct lts_map map;
        struct lts_stack stack;
        struct lts_thread thread;
        struct lts_block block;
        struct lts_sample sample;
        struct lts_misuse misuse;
        struct lts_reach_scan reach_scan;
        struct lts_reach_root reach_root;
        struct lts_reach reach;
    } record;
    *l->count = 0;
    *l->array = NULL;
    if (!sec->present)
        return true;
    size_t n = 0;
    for (int fill = 0; fill < 2; fill++) {
        struct lts_cursor *c = &ps->c;
        c->p = sec->payload;
        c->end = sec->payload + sec->length;
        c->section = section_name(l->type);
        c->alloc = fill ? arena_alloc : NULL;
        c->alloc_ctx = &ps->s->arena;
        if (fill && !(*l->array = lts_arena_alloc(&ps->s->arena, n * l->size + 1)))
            return lts_cursor_fail(c, "out of memory for %zu records", n);
        for (*l->count = 0; c->p < c->end; (*l->count)++) {
            if (!l->decode(c, &record) || (l->check && !l->check(ps, &record)))
                return false;
            if (fill)
                memcpy((char *)*l->array + *l->count * l->size, &record, l->size);
        }
        n = *l->count;
    }
    return true;
}

/* A thread may appear only once. */
static bool threads_unique(struct parse *ps, const struct located *sec)
{
    const struct lts_snapshot *s = ps->s;
    uint32_t *seen = calloc(LT_FORMAT_THREADS_MAX / 32, sizeof(uint32_t));
    if (!seen)
        return lts_cursor_fail(&ps->c, "out of memory");
    bool ok = true;
    for (size_t i = 0; ok && i < s->nthreads; i++) {
        uint32_t idx = s->threads[i].idx;
        if (seen[idx / 32] & (1u << (idx % 32))) {
            ps->c.p = sec->payload;
            ok = lts_cursor_fail(&ps->c, "thread %u listed twice in THREADS section", idx);
        }
        seen[idx / 32] |= 1u << (idx % 32);
    }
    free(seen);
    return ok;
}

static void pick_meta(struct lts_snapshot *s)
{
    s->pid = lts_meta_number(s, "pid", 0);
    s->seq = lts_meta_number(s, "seq", 0);
    s->time_unix_ns = lts_meta_number(s, "time_unix_ns", 0);
    s->now_cs = lts_meta_number(s, "now_cs", 0);
    s->clock_origin_unix_ns = lts_meta_number(s, "clock_origin_unix_ns", 0);
    s->rss_bytes = lts_meta_number(s, "rss_bytes", 0);
    s->vm_size_bytes = lts_meta_number(s, "vm_size_bytes", 0);
    const char *t;
    s->exe = (t = lts_meta_text(s, "exe")) ? t : "";
    s->reason = (t = lts_meta_text(s, "reason")) ? t : "";
    s->options = (t = lts_meta_text(s, "options")) ? t : "";
    s->cmdline = "";
    for (size_t i = 0; i < s->nmeta; i++)
        if (s->meta[i].is_string && !strcmp(s->meta[i].key, "cmdline")) {
            s->cmdline = s->meta[i].text;
            s->cmdline_len = s->meta[i].text_len;
        }
}

/* The census's records, read once to index and check them: each is kept without its bytes,
 * in an array that grows with what was read (no count from the file sizes it), then copied
 * into the arena at its exact size. */
struct census_index {
    struct parse *ps;
    struct lts_sample *samples;
    size_t n, cap;
};

static bool index_sample(void *ctx, const struct lts_sample *sm, const uint8_t *bytes)
{
    (void)bytes;
    struct census_index *ix = ctx;
    if (!check_sample(ix->ps, sm))
        return false;
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 1024;
        struct lts_sample *grown = realloc(ix->samples, cap * sizeof(*grown));
        if (!grown)
            return lts_cursor_fail(&ix->ps->c, "out of memory for %zu samples", ix->n);
        ix->samples = grown;
        ix->cap = cap;
    }
    ix->samples[ix->n++] = *sm;
    return true;
}

static bool parse_census(struct parse *ps, const struct located *z)
{
    struct lts_snapshot *s = ps->s;
    struct lts_cursor *c = &ps->c;
    c->p = z->payload;
    c->end = z->payload + z->length;
    c->section = "SAMPLES_ZSTD";
    struct census_index ix = {ps, NULL, 0, 0};
    bool ok = lts_census_walk(z->payload, (size_t)z->length, c, index_sample, &ix);
    if (ok && !(s->samples = lts_arena_alloc(&s->arena, ix.n * sizeof(*ix.samples) + 1)))
        ok = lts_cursor_fail(c, "out of memory for %zu samples", ix.n);
    if (ok) {
        if (ix.n)
            memcpy(s->samples, ix.samples, ix.n * sizeof(*ix.samples));
        s->nsamples = ix.n;
        s->census = z->payload;
        s->census_length = (size_t)z->length;
    }
    free(ix.samples);
    return ok;
}

int lts_parse(const uint8_t *data, size_t size, struct lts_snapshot **out, struct lts_error *err)
{
    memset(err, 0, sizeof(*err));
    *out = NULL;
    struct parse ps = {
        .c = {.p = data, .end = data + size, .base = data, .err = err, .section = "file"}};
    struct lts_cursor *c = &ps.c;
#define REFUSE(...)                      \
    do {                                 \
        lts_cursor_fail(c, __VA_ARGS__); \
        return -1;                       \
    } while (0)
    if (size == 0)
        REFUSE("empty file");
    if (size < LT_FILE_HEADER_SIZE)
        REFUSE("too short for a leaktag snapshot (%zu bytes)", size);
    if (memcmp(data, LT_FORMAT_MAGIC, LT_FORMAT_MAGIC_SIZE))
        REFUSE("not a leaktag snapshot (wrong magic)");
    uint32_t version;
    memcpy(&version, data + 8, 4);
    if (version != LT_FORMAT_VERSION) {
        c->p = data + 8;
        lts_cursor_fail(c, "snapshot format version %u; this reader understands version %u",
                        version, LT_FORMAT_VERSION);
        return -1;
    }

    /* Locate and checksum every section; END must close the file. */
    struct located sec[LT_SECTION_TYPES] = {0};
    c->p = data + LT_FILE_HEADER_SIZE;
    for (bool ended = false; !ended;) {
        if ((size_t)(c->end - c->p) < LT_SECTION_HEADER_SIZE)
            REFUSE(c->p == c->end ? "file ends before its END section"
                                  : "truncated section header");
        uint32_t type, crc;
        uint64_t length;
        memcpy(&type, c->p, 4);
        memcpy(&crc, c->p + 4, 4);
        memcpy(&length, c->p + 8, 8);
        if (type >= LT_SECTION_TYPES_LIMIT)
            REFUSE("section type %u, which no snapshot has (a damaged section header)", type);
        if (length > (uint64_t)(c->end - c->p) - LT_SECTION_HEADER_SIZE)
            REFUSE("%s section claims %llu bytes, the file has %llu left", section_name(type),
                   (unsigned long long)length,
                   (unsigned long long)(c->end - c->p - LT_SECTION_HEADER_SIZE));
        const uint8_t *payload = c->p + LT_SECTION_HEADER_SIZE;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        /* (A fuzzing build skips this: nearly every mutation would fail here, and the
         * parsers below must survive what a matching checksum lets through.) */
        if (lts_crc32(0, payload, (size_t)length) != crc)
            REFUSE("checksum mismatch in %s section", section_name(type));
#else
        (void)crc;
#endif
        if (type < LT_SECTION_TYPES) {
            if (sec[type].present)
                REFUSE("second %s section", section_name(type));
            sec[type] = (struct located){payload, length, true};
        } /* unknown types are skipped: a later version may add sections */
        if (type == LT_SECTION_END) {
            if (length != 0)
                REFUSE("END section is not empty");
            ended = true;
        }
        c->p = payload + length;
    }
    if (c->p != c->end)
        REFUSE("%llu bytes after the END section", (unsigned long long)(c->end - c->p));
    static const uint32_t required[] = {LT_SECTION_META, LT_SECTION_STACKS, LT_SECTION_THREADS,
                                        LT_SECTION_BLOCKS, LT_SECTION_COUNTERS};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!sec[required[i]].present)
            REFUSE("no %s section", section_name(required[i]));

    struct lts_snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        REFUSE("out of memory");
    s->version = version;
    ps.s = s;
    if (sec[LT_SECTION_SAMPLES_ZSTD].present && sec[LT_SECTION_SAMPLES].present) {
        c->p = sec[LT_SECTION_SAMPLES_ZSTD].payload;
        lts_cursor_fail(c, "both SAMPLES and SAMPLES_ZSTD sections");
        lts_close(s);
        return -1;
    }
    /* In dependency order: the checks of a later list read the counts of earlier ones. */
    const struct list lists[] = {
        {LT_SECTION_META, DECODER(lts_get_meta), NULL, sizeof(*s->meta), (void **)&s->meta,
         &s->nmeta},
        {LT_SECTION_COUNTERS, DECODER(lts_get_counter), NULL, sizeof(*s->counters),
         (void **)&s->counters, &s->ncounters},
        {LT_SECTION_MODULES, DECODER(lts_get_module), NULL, sizeof(*s->modules),
         (void **)&s->modules, &s->nmodules},
        {LT_SECTION_MODULE_TIMES, DECODER(lts_get_module_time), check_module_time,
         sizeof(*s->module_times), (void **)&s->module_times, &s->nmodule_times},
        {LT_SECTION_MAPS, DECODER(lts_get_map), NULL, sizeof(*s->maps), (void **)&s->maps,
         &s->nmaps},
        {LT_SECTION_STACKS, DECODER(lts_get_stack), check_stack_count, sizeof(*s->stacks),
         (void **)&s->stacks, &s->nstacks},
        {LT_SECTION_THREADS, DECODER(lts_get_thread), NULL, sizeof(*s->threads),
         (void **)&s->threads, &s->nthreads},
        {LT_SECTION_BLOCKS, DECODER(lts_get_block), check_block, sizeof(*s->blocks),
         (void **)&s->blocks, &s->nblocks},
        {LT_SECTION_SAMPLES, DECODER(lts_get_sample), check_sample, sizeof(*s->samples),
         (void **)&s->samples, &s->nsamples},
        {LT_SECTION_MISUSE, DECODER(lts_get_misuse), check_misuse, sizeof(*s->misuse),
         (void **)&s->misuse, &s->nmisuse},
        {LT_SECTION_REACH_SCAN, DECODER(lts_get_reach_scan), check_reach_scan,
         sizeof(*s->reach_scan), (void **)&s->reach_scan, &s->nreach_scan},
        {LT_SECTION_REACH_ROOTS, DECODER(lts_get_reach_root), NULL, sizeof(*s->reach_roots),
         (void **)&s->reach_roots, &s->nreach_roots},
        {LT_SECTION_REACH, DECODER(lts_get_reach), check_reach, sizeof(*s->reach),
         (void **)&s->reach, &s->nreach},
    };
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof(lists) / sizeof(lists[0]); i++) {
        ok = parse_list(&ps, &sec[lists[i].type], &lists[i]);
        /* A census's samples come as one zstd frame, read as a stream (samples.h); what is
         * wrong inside it is named by where the frame is in the file. */
        if (ok && lists[i].type == LT_SECTION_SAMPLES && sec[LT_SECTION_SAMPLES_ZSTD].present &&
            !(ok = parse_census(&ps, &sec[LT_SECTION_SAMPLES_ZSTD])))
            err->offset = (uint64_t)(sec[LT_SECTION_SAMPLES_ZSTD].payload - data);
    }
    if (ok)
        ok = threads_unique(&ps, &sec[LT_SECTION_THREADS]);
    if (ok && s->nmodule_times && s->nmodule_times != s->nmodules) {
        ps.c.p = sec[LT_SECTION_MODULE_TIMES].payload;
        ok = lts_cursor_fail(&ps.c, "%zu MODULE_TIMES records for %zu modules", s->nmodule_times,
                             s->nmodules);
    }
    for (size_t i = 0; ok && i < s->nreach; i++) {
        if (s->reach[i].via_type == LT_VIA_BLOCK && s->reach[i].via >= s->nreach) {
            ps.c.p = sec[LT_SECTION_REACH].payload;
            ok = lts_cursor_fail(&ps.c, "REACH record %zu refers to record %u of %zu", i,
                                 s->reach[i].via, s->nreach);
        }
    }
    if (ok && s->nreach && (!s->nreach_scan || s->reach_scan[0].status != 0)) {
        ps.c.p = sec[LT_SECTION_REACH].payload;
        ok = lts_cursor_fail(&ps.c, "REACH records without a successful REACH_SCAN");
    }
    for (size_t i = 0; ok && i < s->nmodule_times; i++) {
        s->modules[i].loaded_cs = s->module_times[i].loaded_cs;
        s->modules[i].unloaded_cs = s->module_times[i].unloaded_cs;
    }
    if (!ok) {
        lts_close(s);
        return -1;
    }
    pick_meta(s);
    *out = s;
    return 0;
#undef REFUSE
}

/* Walks the section headers with pread, before the file is read: a file whose sections do
 * not tile it (a header and then gigabytes of zeros) is refused at once, with the message
 * lts_parse would give. Only the framing is checked here; a file with more sections than
 * any leaktag writes is left to lts_parse. True when refused. */
static bool refuse_framing(int fd, uint64_t size, struct lts_error *err)
{
    uint64_t at = LT_FILE_HEADER_SIZE;
    for (int sections = 0; sections < 1000 && at + LT_SECTION_HEADER_SIZE <= size; sections++) {
        uint8_t header[LT_SECTION_HEADER_SIZE];
        if (pread(fd, header, sizeof(header), (off_t)at) != (ssize_t)sizeof(header))
            return false; /* lts_parse reports it */
        uint32_t type;
        uint64_t length;
        memcpy(&type, header, 4);
        memcpy(&length, header + 8, 8);
        if (length > size - at - LT_SECTION_HEADER_SIZE)
            return false; /* lts_parse names the section and the sizes */
        at += LT_SECTION_HEADER_SIZE + length;
        if (type == LT_SECTION_END) {
            if (at == size)
                return false;
            lts_fail(err, "%llu bytes after the END section", (unsigned long long)(size - at));
            err->has_offset = 1;
            err->offset = at;
            return true;
        }
    }
    return false;
}

/* The parsed snapshot points into the file image (sample bytes), so the image lives in the
 * arena too. What is not a regular file is refused before anything is read (a FIFO would
 * block), and so is a file whose header is not a snapshot's, before the rest is read. */
int lts_open(const char *path, struct lts_snapshot **out, struct lts_error *err)
{
    memset(err, 0, sizeof(*err));
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return lts_fail(err, "%s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lts_fail(err, "%s", S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    }
    uint8_t header[LT_FILE_HEADER_SIZE];
    ssize_t got = pread(fd, header, sizeof(header), 0);
    if (got == (ssize_t)sizeof(header) && memcmp(header, LT_FORMAT_MAGIC, LT_FORMAT_MAGIC_SIZE)) {
        close(fd);
        lts_fail(err, "not a leaktag snapshot (wrong magic)");
        err->has_offset = 1; /* at offset 0, as lts_parse would say */
        return -1;
    }
    if (refuse_framing(fd, (uint64_t)st.st_size, err)) {
        close(fd);
        return -1;
    }
    struct lts_arena_chunk *arena = NULL;
    uint8_t *data = st.st_size ? lts_arena_alloc(&arena, (size_t)st.st_size) : NULL;
    if (st.st_size && !data) {
        close(fd);
        return lts_fail(err, "out of memory reading %lld bytes", (long long)st.st_size);
    }
    size_t have = 0;
    while (have < (size_t)st.st_size) {
        ssize_t n = pread(fd, data + have, (size_t)st.st_size - have, (off_t)have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lts_fail(err, "read failed: %s",
                     n < 0 ? strerror(errno) : "file shrank while being read");
            close(fd);
            lts_arena_free(arena);
            return -1;
        }
        have += (size_t)n;
    }
    close(fd);
    int rc = lts_parse(data, have, out, err);
    if (rc != 0) {
        lts_arena_free(arena);
        return rc;
    }
    lts_arena_merge(&(*out)->arena, &arena); /* the image lives as long as the snapshot */
    return 0;
}

void lts_close(struct lts_snapshot *s)
{
    if (!s)
        return;
    lts_arena_free(s->arena);
    free(s);
}

uint64_t lts_meta_number(const struct lts_snapshot *s, const char *key, uint64_t fallback)
{
    for (size_t i = 0; i < s->nmeta; i++)
        if (!s->meta[i].is_string && !strcmp(s->meta[i].key, key))
            return s->meta[i].number;
    return fallback;
}

const char *lts_meta_text(const struct lts_snapshot *s, const char *key)
{
    for (size_t i = 0; i < s->nmeta; i++)
        if (s->meta[i].is_string && !strcmp(s->meta[i].key, key))
            return s->meta[i].text;
    return NULL;
}

uint64_t lts_counter(const struct lts_snapshot *s, const char *name, uint64_t fallback)
{
    for (size_t i = 0; i < s->ncounters; i++)
        if (!strcmp(s->counters[i].name, name))
            return s->counters[i].value;
    return fallback;
}

size_t lts_reach_index(const struct lts_snapshot *s, uint64_t addr)
{
    size_t a = 0, b = s->nreach;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (s->reach[m].addr < addr)
            a = m + 1;
        else
            b = m;
    }
    return a < s->nreach && s->reach[a].addr == addr ? a : SIZE_MAX;
}

const struct lts_thread *lts_thread(const struct lts_snapshot *s, uint32_t idx)
{
    size_t lo = 0, hi = s->nthreads;
    /* Threads are written in index order; fall back to a scan if a file says otherwise. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->threads[mid].idx == idx)
            return &s->threads[mid];
        if (s->threads[mid].idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].idx == idx)
            return &s->threads[i];
    return NULL;
}

/* ---- the samples' bytes, one sample at a time (a census: a window of its frame at a time) */

struct walk {
    const struct lts_snapshot *s;
    struct lts_cursor *c;
    size_t next;
    lts_sample_fn fn;
    void *ctx;
    int stopped;
};

static bool each_record(void *ctx, const struct lts_sample *sm, const uint8_t *bytes)
{
    struct walk *w = ctx;
    const struct lts_sample *indexed = w->next < w->s->nsamples ? &w->s->samples[w->next] : NULL;
    if (!indexed || indexed->addr != sm->addr || indexed->stack != sm->stack ||
        indexed->len != sm->len)
        return lts_cursor_fail(w->c, "%s section differs from what was read first", w->c->section);
    w->stopped = w->fn(w->ctx, w->next++, indexed, bytes);
    return w->stopped == 0;
}

int lts_samples_each(const struct lts_snapshot *s, lts_sample_fn fn, void *ctx,
                     struct lts_error *err)
{
    memset(err, 0, sizeof(*err));
    if (!s->census) {
        for (size_t i = 0; i < s->nsamples; i++) {
            int rc = fn(ctx, i, &s->samples[i], s->samples[i].bytes);
            if (rc)
                return rc;
        }
        return 0;
    }
    struct lts_cursor c = {.p = s->census,
                           .end = s->census + s->census_length,
                           .base = s->census,
                           .section = "SAMPLES_ZSTD",
                           .err = err};
    struct walk w = {s, &c, 0, fn, ctx, 0};
    if (lts_census_walk(s->census, s->census_length, &c, each_record, &w))
        return w.next == s->nsamples
                   ? 0
                   : lts_fail(err, "SAMPLES_ZSTD section differs from what was read first");
    if (w.stopped)
        return w.stopped;
    err->has_offset = 0; /* an offset inside the decompressed frame means nothing in the file */
    return -1;
}
