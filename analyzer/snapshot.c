/* snapshot.c — the snapshot reader. Sections are first located and checksummed, then parsed
 * in dependency order (stacks before the blocks that name them). Each list section is walked
 * twice: once to count and validate, once to fill an exactly sized array, so no count read
 * from the file ever sizes an allocation. All memory comes from one arena. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "crc32.h"
#include "format.h"
#include "kind.h"
#include "misuse.h"
#include "options.h"
#include "threads.h"

/* ---- cursor ---------------------------------------------------------------------------------- */

struct cursor {
    const uint8_t *p, *end, *base;
    const char *section;
    struct lts_error *err;
    bool failed;
};

static bool failf(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool failf(struct cursor *c, const char *fmt, ...)
{
    if (c->failed)
        return false;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    c->err->offset = (uint64_t)(c->p - c->base);
    c->err->has_offset = 1;
    return false;
}

static bool get_uv(struct cursor *c, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            return failf(c, "truncated %s section", c->section);
        uint8_t b = *c->p++;
        if (shift == 63 && b > 1)
            return failf(c, "number too large in %s section", c->section);
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return failf(c, "number too long in %s section", c->section);
}

static bool get_sv(struct cursor *c, int64_t *v)
{
    uint64_t u = 0;
    if (!get_uv(c, &u))
        return false;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return true;
}

static bool get_u8(struct cursor *c, uint8_t *v)
{
    if (c->p >= c->end)
        return failf(c, "truncated %s section", c->section);
    *v = *c->p++;
    return true;
}

static bool get_u32_max(struct cursor *c, uint32_t *v, uint64_t max, const char *what)
{
    uint64_t u;
    if (!get_uv(c, &u))
        return false;
    if (u > max)
        return failf(c, "%s %llu out of range in %s section", what, (unsigned long long)u,
                     c->section);
    *v = (uint32_t)u;
    return true;
}

/* A string field: bounds-checked, then copied NUL-terminated into the arena (when `arena`). */
static bool get_str(struct cursor *c, struct lts_arena_chunk **arena, const char **out, size_t *len_out)
{
    uint64_t len;
    if (!get_uv(c, &len))
        return false;
    if (len > (uint64_t)(c->end - c->p))
        return failf(c, "string longer than its %s section", c->section);
    const uint8_t *start = c->p;
    c->p += len;
    if (len_out)
        *len_out = (size_t)len;
    if (!arena) {
        if (out)
            *out = NULL;
        return true;
    }
    char *copy = lts_arena_alloc(arena, (size_t)len + 1);
    if (!copy)
        return failf(c, "out of memory");
    memcpy(copy, start, (size_t)len);
    copy[len] = '\0';
    *out = copy;
    return true;
}

/* ---- sections --------------------------------------------------------------------------------- */

static const char *section_name(uint32_t type)
{
    static const char *const names[] = {"END", "META", "COUNTERS", "MODULES", "MAPS",
                                        "STACKS", "THREADS", "BLOCKS", "SAMPLES", "MISUSE"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

#define SECTION_TYPES 10

struct located {
    const uint8_t *payload;
    uint64_t length;
    bool present;
};

struct parse {
    struct cursor c;
    struct lts_snapshot *s;
    const uint8_t *base;
};

static void cursor_for(struct parse *ps, const struct located *sec, uint32_t type)
{
    ps->c.p = sec->payload;
    ps->c.end = sec->payload + sec->length;
    ps->c.section = section_name(type);
}

/* Each parser below is called twice: with `fill` false it only validates and counts, with
 * `fill` true it stores into the array sized by the first pass. */

static bool parse_meta(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    struct lts_arena_chunk **arena = fill ? &ps->s->arena : NULL;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_meta m = {0};
        uint8_t type = 0;
        if (!get_str(c, arena, &m.key, NULL) || !get_u8(c, &type))
            return false;
        if (type == LT_META_UINT) {
            if (!get_uv(c, &m.number))
                return false;
        } else if (type == LT_META_STRING) {
            m.is_string = 1;
            if (!get_str(c, arena, &m.text, &m.text_len))
                return false;
        } else {
            return failf(c, "unknown value type %u in META section", type);
        }
        if (fill)
            ps->s->meta[*n] = m;
    }
    return true;
}

static bool parse_counters(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_counter k = {0};
        if (!get_str(c, fill ? &ps->s->arena : NULL, &k.name, NULL) || !get_uv(c, &k.value))
            return false;
        if (fill)
            ps->s->counters[*n] = k;
    }
    return true;
}

static bool parse_modules(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    struct lts_arena_chunk **arena = fill ? &ps->s->arena : NULL;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_module m = {0};
        size_t id_len;
        const char *id;
        if (!get_str(c, arena, &m.path, NULL) || !get_uv(c, &m.bias) ||
            !get_str(c, arena, &id, &id_len) || !get_u32_max(c, &m.nsegments, 64, "segment count"))
            return false;
        m.build_id = (const uint8_t *)id;
        m.build_id_len = id_len;
        if (fill && !(m.segments = lts_arena_alloc(arena, m.nsegments * sizeof(*m.segments) + 1)))
            return failf(c, "out of memory");
        for (uint32_t i = 0; i < m.nsegments; i++) {
            struct lts_segment seg;
            if (!get_uv(c, &seg.start) || !get_uv(c, &seg.size) || !get_uv(c, &seg.offset) ||
                !get_u32_max(c, &seg.flags, 7, "segment flags"))
                return false;
            if (seg.start + seg.size < seg.start)
                return failf(c, "segment wraps around the address space in MODULES section");
            if (fill)
                m.segments[i] = seg;
        }
        if (fill)
            ps->s->modules[*n] = m;
    }
    return true;
}

static bool parse_maps(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    struct lts_arena_chunk **arena = fill ? &ps->s->arena : NULL;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_map m = {0};
        const char *perms;
        size_t perms_len = 0;
        uint8_t kind = 0;
        if (!get_uv(c, &m.start) || !get_uv(c, &m.size) || !get_str(c, NULL, &perms, &perms_len))
            return false;
        if (perms_len != 4)
            return failf(c, "permissions of a mapping are not 4 characters in MAPS section");
        memcpy(m.perms, c->p - 4, 4);
        if (!get_uv(c, &m.offset) || !get_uv(c, &m.inode) || !get_str(c, arena, &m.path, NULL) ||
            !get_uv(c, &m.rss) || !get_uv(c, &m.private_dirty) || !get_uv(c, &m.swap) ||
            !get_uv(c, &m.anonymous) || !get_u8(c, &kind))
            return false;
        if (kind >= LT_MAP_KIND_COUNT)
            return failf(c, "unknown mapping kind %u in MAPS section", kind);
        m.kind = kind;
        if (fill)
            ps->s->maps[*n] = m;
    }
    return true;
}

static bool parse_stacks(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_stack st = {0};
        if (!get_u32_max(c, &st.depth, LT_MAX_DEPTH, "stack depth"))
            return false;
        uint64_t *frames = NULL;
        if (fill && !(frames = lts_arena_alloc(&ps->s->arena, st.depth * sizeof(uint64_t) + 1)))
            return failf(c, "out of memory");
        uint64_t prev = 0;
        for (uint32_t i = 0; i < st.depth; i++) {
            int64_t delta;
            if (!get_sv(c, &delta))
                return false;
            prev += (uint64_t)delta;
            if (fill)
                frames[i] = prev;
        }
        st.frames = frames;
        if (fill)
            ps->s->stacks[*n] = st;
        if (*n >= UINT32_MAX - 1)
            return failf(c, "too many stacks in STACKS section");
    }
    return true;
}

static bool parse_threads(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_thread t = {0};
        if (!get_u32_max(c, &t.idx, LT_THREADS_MAX - 1, "thread index") || !get_uv(c, &t.tid) ||
            !get_str(c, fill ? &ps->s->arena : NULL, &t.name, NULL) ||
            !get_u32_max(c, &t.state, 7, "thread state") || !get_uv(c, &t.start_cs) ||
            !get_uv(c, &t.exit_cs) || !get_uv(c, &t.stack_size) || !get_uv(c, &t.stack_addr) ||
            !get_uv(c, &t.guard_size) || !get_uv(c, &t.start_routine) ||
            !get_u32_max(c, &t.creator, LT_THREADS_MAX - 1, "creator index") ||
            !get_uv(c, &t.live_blocks) || !get_uv(c, &t.live_bytes) || !get_uv(c, &t.allocs) ||
            !get_uv(c, &t.frees))
            return false;
        if (fill)
            ps->s->threads[*n] = t;
    }
    return true;
}

static bool parse_blocks(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    size_t nstacks = ps->s->nstacks;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_block b = {0};
        uint64_t addr8;
        if (!get_uv(c, &addr8) || !get_uv(c, &b.size) ||
            !get_u32_max(c, &b.stack, UINT32_MAX, "stack id") ||
            !get_u32_max(c, &b.thread, LT_THREADS_MAX - 1, "thread index") ||
            !get_u32_max(c, &b.age_cs, UINT32_MAX, "age") || !get_u8(c, &b.kind))
            return false;
        if (addr8 >> 61)
            return failf(c, "block address out of range in BLOCKS section");
        if (b.stack >= nstacks)
            return failf(c, "block refers to stack %u, but there are %zu stacks", b.stack,
                         nstacks);
        if (b.kind >= LT_KIND_COUNT)
            return failf(c, "unknown allocation kind %u in BLOCKS section", b.kind);
        b.addr = addr8 << 3;
        if (fill)
            ps->s->blocks[*n] = b;
    }
    return true;
}

static bool parse_samples(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_sample sm = {0};
        uint64_t addr8;
        size_t len = 0;
        const char *unused;
        if (!get_uv(c, &addr8) || !get_u32_max(c, &sm.stack, UINT32_MAX, "stack id") ||
            !get_str(c, NULL, &unused, &len))
            return false;
        if (addr8 >> 61)
            return failf(c, "sample address out of range in SAMPLES section");
        if (sm.stack >= ps->s->nstacks)
            return failf(c, "sample refers to stack %u, but there are %zu stacks", sm.stack,
                         ps->s->nstacks);
        if (len > 65536)
            return failf(c, "sample of %zu bytes is larger than leaktag takes", len);
        sm.addr = addr8 << 3;
        sm.len = (uint32_t)len;
        sm.bytes = c->p - len; /* points into the file image, which the snapshot keeps */
        if (fill)
            ps->s->samples[*n] = sm;
    }
    return true;
}

static bool parse_misuse(struct parse *ps, bool fill, size_t *n)
{
    struct cursor *c = &ps->c;
    for (*n = 0; c->p < c->end; (*n)++) {
        struct lts_misuse m = {0};
        if (!get_u8(c, &m.type) || !get_u32_max(c, &m.alloc_stack, UINT32_MAX, "stack id") ||
            !get_u32_max(c, &m.release_stack, UINT32_MAX, "stack id") ||
            !get_u8(c, &m.alloc_kind) || !get_u8(c, &m.release_kind) || !get_uv(c, &m.count))
            return false;
        if (m.type != LT_MISUSE_MISMATCH && m.type != LT_MISUSE_UNKNOWN_FREE)
            return failf(c, "unknown misuse type %u in MISUSE section", m.type);
        if (m.alloc_stack >= ps->s->nstacks || m.release_stack >= ps->s->nstacks)
            return failf(c, "misuse record refers to a stack that does not exist");
        if (m.alloc_kind > LT_KIND_COUNT || m.release_kind >= LT_RELEASE_COUNT)
            return failf(c, "unknown allocation or release kind in MISUSE section");
        if (fill)
            ps->s->misuse[*n] = m;
    }
    return true;
}

typedef bool (*section_parser)(struct parse *ps, bool fill, size_t *n);

/* Runs a parser twice around an exactly sized allocation. */
static bool parse_list(struct parse *ps, const struct located *sec, uint32_t type,
                       section_parser fn, size_t elem, void **array, size_t *count)
{
    *count = 0;
    *array = NULL;
    if (!sec->present)
        return true;
    size_t n;
    cursor_for(ps, sec, type);
    if (!fn(ps, false, &n))
        return false;
    if (!(*array = lts_arena_alloc(&ps->s->arena, n * elem + 1)))
        return failf(&ps->c, "out of memory for %zu records", n);
    cursor_for(ps, sec, type);
    if (!fn(ps, true, count))
        return false;
    return true;
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

int lts_parse(const uint8_t *data, size_t size, struct lts_snapshot **out, struct lts_error *err)
{
    memset(err, 0, sizeof(*err));
    *out = NULL;
    struct parse ps = {.c = {.p = data, .end = data + size, .base = data, .err = err,
                             .section = "file"},
                       .base = data};
    struct cursor *c = &ps.c;
    if (size == 0) {
        failf(c, "empty file");
        return -1;
    }
    if (size < LT_FILE_HEADER_SIZE) {
        failf(c, "too short for a leaktag snapshot (%zu bytes)", size);
        return -1;
    }
    if (memcmp(data, LT_FORMAT_MAGIC, LT_FORMAT_MAGIC_SIZE)) {
        failf(c, "not a leaktag snapshot (wrong magic)");
        return -1;
    }
    uint32_t version;
    memcpy(&version, data + 8, 4);
    if (version != LT_FORMAT_VERSION) {
        c->p = data + 8;
        failf(c, "snapshot format version %u; this reader understands version %u", version,
              LT_FORMAT_VERSION);
        return -1;
    }

    /* Locate and checksum every section; END must close the file. */
    struct located sec[SECTION_TYPES] = {0};
    c->p = data + LT_FILE_HEADER_SIZE;
    bool ended = false;
    while (!ended) {
        if ((size_t)(c->end - c->p) < LT_SECTION_HEADER_SIZE) {
            failf(c, c->p == c->end ? "file ends before its END section"
                                    : "truncated section header");
            return -1;
        }
        uint32_t type, crc;
        uint64_t length;
        memcpy(&type, c->p, 4);
        memcpy(&crc, c->p + 4, 4);
        memcpy(&length, c->p + 8, 8);
        if (length > (uint64_t)(c->end - c->p) - LT_SECTION_HEADER_SIZE) {
            failf(c, "%s section claims %llu bytes, the file has %llu left", section_name(type),
                  (unsigned long long)length,
                  (unsigned long long)(c->end - c->p - LT_SECTION_HEADER_SIZE));
            return -1;
        }
        const uint8_t *payload = c->p + LT_SECTION_HEADER_SIZE;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        /* (A fuzzing build skips this: nearly every mutation would fail here, and the
         * parsers below must survive what a matching checksum lets through.) */
        if (lt_crc32(0, payload, (size_t)length) != crc) {
            failf(c, "checksum mismatch in %s section", section_name(type));
            return -1;
        }
#else
        (void)crc;
#endif
        if (type < SECTION_TYPES) {
            if (sec[type].present) {
                failf(c, "second %s section", section_name(type));
                return -1;
            }
            sec[type] = (struct located){payload, length, true};
        } /* unknown types are skipped: a later version may add sections */
        if (type == LT_SECTION_END) {
            if (length != 0) {
                failf(c, "END section is not empty");
                return -1;
            }
            ended = true;
        }
        c->p = payload + length;
    }
    if (c->p != c->end) {
        failf(c, "%llu bytes after the END section", (unsigned long long)(c->end - c->p));
        return -1;
    }
    static const uint32_t required[] = {LT_SECTION_META, LT_SECTION_STACKS, LT_SECTION_THREADS,
                                        LT_SECTION_BLOCKS, LT_SECTION_COUNTERS};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!sec[required[i]].present) {
            failf(c, "no %s section", section_name(required[i]));
            return -1;
        }
    }

    struct lts_snapshot *s = calloc(1, sizeof(*s));
    if (!s) {
        failf(c, "out of memory");
        return -1;
    }
    s->version = version;
    ps.s = s;
    bool ok =
        parse_list(&ps, &sec[LT_SECTION_META], LT_SECTION_META, parse_meta, sizeof(*s->meta),
                   (void **)&s->meta, &s->nmeta) &&
        parse_list(&ps, &sec[LT_SECTION_COUNTERS], LT_SECTION_COUNTERS, parse_counters,
                   sizeof(*s->counters), (void **)&s->counters, &s->ncounters) &&
        parse_list(&ps, &sec[LT_SECTION_MODULES], LT_SECTION_MODULES, parse_modules,
                   sizeof(*s->modules), (void **)&s->modules, &s->nmodules) &&
        parse_list(&ps, &sec[LT_SECTION_MAPS], LT_SECTION_MAPS, parse_maps, sizeof(*s->maps),
                   (void **)&s->maps, &s->nmaps) &&
        parse_list(&ps, &sec[LT_SECTION_STACKS], LT_SECTION_STACKS, parse_stacks,
                   sizeof(*s->stacks), (void **)&s->stacks, &s->nstacks) &&
        parse_list(&ps, &sec[LT_SECTION_THREADS], LT_SECTION_THREADS, parse_threads,
                   sizeof(*s->threads), (void **)&s->threads, &s->nthreads) &&
        parse_list(&ps, &sec[LT_SECTION_BLOCKS], LT_SECTION_BLOCKS, parse_blocks,
                   sizeof(*s->blocks), (void **)&s->blocks, &s->nblocks) &&
        parse_list(&ps, &sec[LT_SECTION_SAMPLES], LT_SECTION_SAMPLES, parse_samples,
                   sizeof(*s->samples), (void **)&s->samples, &s->nsamples) &&
        parse_list(&ps, &sec[LT_SECTION_MISUSE], LT_SECTION_MISUSE, parse_misuse,
                   sizeof(*s->misuse), (void **)&s->misuse, &s->nmisuse);
    if (ok) {
        /* A thread may appear only once. */
        uint32_t *seen = calloc(LT_THREADS_MAX / 32, sizeof(uint32_t));
        for (size_t i = 0; ok && seen && i < s->nthreads; i++) {
            uint32_t idx = s->threads[i].idx;
            if (seen[idx / 32] & (1u << (idx % 32))) {
                c->p = sec[LT_SECTION_THREADS].payload;
                ok = failf(c, "thread %u listed twice in THREADS section", idx);
            }
            seen[idx / 32] |= 1u << (idx % 32);
        }
        if (!seen)
            ok = failf(c, "out of memory");
        free(seen);
    }
    if (!ok) {
        lts_close(s);
        return -1;
    }
    pick_meta(s);
    *out = s;
    return 0;
}

/* The parsed snapshot points into the file image (sample bytes), so the image lives in the
 * arena too. */
int lts_open(const char *path, struct lts_snapshot **out, struct lts_error *err)
{
    memset(err, 0, sizeof(*err));
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err->message, sizeof(err->message), "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err->message, sizeof(err->message), "%s",
                 S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return -1;
    }
    struct lts_arena_chunk *arena = NULL;
    uint8_t *data = st.st_size ? lts_arena_alloc(&arena, (size_t)st.st_size) : NULL;
    if (st.st_size && !data) {
        snprintf(err->message, sizeof(err->message), "out of memory reading %lld bytes",
                 (long long)st.st_size);
        close(fd);
        return -1;
    }
    size_t have = 0;
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, data + have, (size_t)st.st_size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err->message, sizeof(err->message), "read failed: %s",
                     n < 0 ? strerror(errno) : "file shrank while being read");
            err->offset = have;
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
