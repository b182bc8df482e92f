/* render_pprof.c — --format pprof: the newest snapshot as a gzipped profile.proto
 * (github.com/google/pprof), the heap profile format of jemalloc, tcmalloc and Go, read by
 * `go tool pprof` and by continuous-profiling services. One sample per stack and thread
 * family, with the live objects and bytes (estimates in a sampled snapshot) and, when the
 * snapshot has a reachability scan, the lost bytes; a `thread` label; one location per
 * recorded address, its inlined chain as several lines; mappings from the modules' executable
 * segments with their build-ids. --fold and --min-age apply; --top and --min-bytes do not (a
 * profile has every stack). Encoded by protobuf.c, compressed by zlib. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "format.h"
#include "hashmap.h"
#include "protobuf.h"
#include "render.h"

/* profile.proto's field numbers */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_TIME_NANOS = 9,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1,
    VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1,
    SAMPLE_VALUE = 2,
    SAMPLE_LABEL = 3,
    LABEL_KEY = 1,
    LABEL_STR = 2,
    MAPPING_ID = 1,
    MAPPING_START = 2,
    MAPPING_LIMIT = 3,
    MAPPING_OFFSET = 4,
    MAPPING_FILENAME = 5,
    MAPPING_BUILD_ID = 6,
    MAPPING_HAS_FUNCTIONS = 7,
    MAPPING_HAS_FILENAMES = 8,
    MAPPING_HAS_LINE_NUMBERS = 9,
    MAPPING_HAS_INLINE_FRAMES = 10,
    LOCATION_ID = 1,
    LOCATION_MAPPING_ID = 2,
    LOCATION_ADDRESS = 3,
    LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    LINE_LINE = 2,
    FUNCTION_ID = 1,
    FUNCTION_NAME = 2,
    FUNCTION_SYSTEM_NAME = 3,
    FUNCTION_FILENAME = 4,
};

struct mapping {
    uint64_t start, limit, offset;
    const struct lts_module *module;
    bool unsymbolized; /* a location in it has no function name */
};

struct profile {
    const struct analysis *a;
    struct pb out, scratch, inner;
    /* the string table: index by content; texts the profile made are kept in `owned` */
    struct hashmap strings;
    const char **texts;
    size_t *lens, ntexts, captexts;
    char **owned;
    size_t nowned, capowned;
    struct hashmap locations; /* recorded address -> location id */
    struct hashmap functions; /* "name\x01file" (owned) -> function id */
    size_t nlocations, nfunctions;
    struct mapping *mappings;
    size_t nmappings;
    bool failed;
};

/* Keeps a text the profile made until it is written; NULL (and failed) when out of memory. */
static char *keep(struct profile *p, char *text)
{
    if (text && p->nowned == p->capowned) {
        size_t cap = p->capowned ? 2 * p->capowned : 64;
        char **grown = realloc(p->owned, cap * sizeof(*grown));
        if (grown) {
            p->owned = grown;
            p->capowned = cap;
        }
    }
    if (!text || p->nowned == p->capowned) {
        free(text);
        p->failed = true;
        return NULL;
    }
    return p->owned[p->nowned++] = text;
}

/* The index of a string in the table, added if new; the text must outlive the profile. */
static int64_t str(struct profile *p, const char *text)
{
    if (!text || p->failed)
        return 0;
    size_t n = strlen(text);
    bool inserted;
    struct hashmap_slot *slot = hashmap_bytes(&p->strings, text, n, &inserted);
    if (!slot) {
        p->failed = true;
        return 0;
    }
    if (!inserted)
        return (int64_t)slot->value;
    if (p->ntexts == p->captexts) {
        size_t cap = p->captexts ? 2 * p->captexts : 256;
        const char **texts = realloc(p->texts, cap * sizeof(*texts));
        size_t *lens = texts ? realloc(p->lens, cap * sizeof(*lens)) : NULL;
        if (texts)
            p->texts = texts;
        if (!lens) {
            p->failed = true;
            return 0;
        }
        p->lens = lens;
        p->captexts = cap;
    }
    slot->value = p->ntexts;
    p->texts[p->ntexts] = text;
    p->lens[p->ntexts] = n;
    return (int64_t)p->ntexts++;
}

static void value_type(struct profile *p, uint32_t field, const char *type, const char *unit)
{
    pb_reset(&p->scratch);
    pb_int(&p->scratch, VALUE_TYPE_TYPE, str(p, type));
    pb_int(&p->scratch, VALUE_TYPE_UNIT, str(p, unit));
    pb_message(&p->out, field, &p->scratch);
}

/* One mapping per executable segment of each module: where code addresses fall. */
static void collect_mappings(struct profile *p)
{
    const struct lts_snapshot *s = p->a->snap;
    size_t n = 0;
    for (size_t i = 0; i < s->nmodules; i++)
        for (uint32_t k = 0; k < s->modules[i].nsegments; k++)
            n += (s->modules[i].segments[k].flags & 1) != 0; /* PF_X */
    if (!(p->mappings = calloc(n + 1, sizeof(*p->mappings)))) {
        p->failed = true;
        return;
    }
    for (size_t i = 0; i < s->nmodules; i++)
        for (uint32_t k = 0; k < s->modules[i].nsegments; k++) {
            const struct lts_segment *seg = &s->modules[i].segments[k];
            if (seg->flags & 1)
                p->mappings[p->nmappings++] = (struct mapping){seg->start, seg->start + seg->size,
                                                               seg->offset, &s->modules[i], false};
        }
}

static uint64_t mapping_of(const struct profile *p, uint64_t address)
{
    for (size_t i = 0; i < p->nmappings; i++)
        if (address >= p->mappings[i].start && address < p->mappings[i].limit)
            return i + 1;
    return 0;
}

static uint64_t function_id(struct profile *p, const char *name, const char *file)
{
    size_t nl = strlen(name), fl = file ? strlen(file) : 0;
    char *key = malloc(nl + fl + 2);
    if (!key) {
        p->failed = true;
        return 0;
    }
    memcpy(key, name, nl);
    key[nl] = '\x01';
    memcpy(key + nl + 1, file ? file : "", fl + 1);
    bool inserted;
    struct hashmap_slot *slot = hashmap_bytes(&p->functions, key, nl + fl + 1, &inserted);
    if (!slot || !inserted) {
        free(key);
        if (!slot)
            p->failed = true;
        return slot ? slot->value : 0;
    }
    if (!keep(p, key))
        return 0;
    slot->value = ++p->nfunctions;
    pb_reset(&p->scratch);
    pb_uint(&p->scratch, FUNCTION_ID, slot->value);
    pb_int(&p->scratch, FUNCTION_NAME, str(p, name));
    pb_int(&p->scratch, FUNCTION_SYSTEM_NAME, str(p, name));
    pb_int(&p->scratch, FUNCTION_FILENAME, str(p, file));
    pb_message(&p->out, PROFILE_FUNCTION, &p->scratch);
    return slot->value;
}

/* The location of the recorded address frames[0..n) come from (an inlined chain, the real
 * function last, as profile.proto's Location.line), written the first time it is met. */
static uint64_t location_id(struct profile *p, const struct frame *frames, size_t n)
{
    uint64_t address = frames[0].sym ? frames[0].sym->address : 0;
    bool inserted;
    struct hashmap_slot *slot = hashmap_number(&p->locations, address, &inserted);
    if (!slot) {
        p->failed = true;
        return 0;
    }
    if (!inserted)
        return slot->value;
    uint64_t id = slot->value = ++p->nlocations;
    uint64_t mapping = mapping_of(p, address);
    uint64_t fids[64];
    size_t lines = n < 64 ? n : 64;
    for (size_t i = 0; i < lines; i++) /* function_id writes into scratch: before inner */
        fids[i] = function_id(p, frames[i].name, frames[i].sym ? frames[i].sym->file : NULL);
    pb_reset(&p->inner);
    pb_uint(&p->inner, LOCATION_ID, id);
    pb_uint(&p->inner, LOCATION_MAPPING_ID, mapping);
    pb_uint(&p->inner, LOCATION_ADDRESS, address);
    for (size_t i = 0; i < lines; i++) {
        pb_reset(&p->scratch);
        pb_uint(&p->scratch, LINE_FUNCTION_ID, fids[i]);
        pb_int(&p->scratch, LINE_LINE, frames[i].sym ? frames[i].sym->line : 0);
        pb_message(&p->inner, LOCATION_LINE, &p->scratch);
        if (mapping && (!frames[i].sym || !frames[i].sym->function))
            p->mappings[mapping - 1].unsymbolized = true;
    }
    pb_message(&p->out, PROFILE_LOCATION, &p->inner);
    return id;
}

/* Per stack and thread family: objects, bytes, lost bytes. */
struct tally {
    uint32_t stack;
    const char *family;
    double objects, bytes;
    uint64_t lost;
};

static int by_stack(const void *x, const void *y)
{
    const struct tally *a = x, *b = y;
    if (a->stack != b->stack)
        return a->stack < b->stack ? -1 : 1;
    return strcmp(a->family, b->family);
}

/* Each thread record's family as a number (threads of one family share it), and one more
 * for blocks of no known thread; NULL when memory ran out. */
static uint32_t *family_numbers(const struct analysis *a)
{
    const struct lts_snapshot *s = a->snap;
    uint32_t *number = malloc((s->nthreads + 1) * sizeof(*number));
    struct hashmap seen = HASHMAP_INIT;
    uint32_t next = 0;
    for (size_t ti = 0; number && ti < s->nthreads; ti++) {
        bool inserted;
        struct hashmap_slot *slot = hashmap_bytes(&seen, a->families[ti], strlen(a->families[ti]),
                                                  &inserted);
        if (!slot) {
            free(number);
            number = NULL;
            break;
        }
        if (inserted)
            slot->value = next++;
        number[ti] = (uint32_t)slot->value;
    }
    if (number)
        number[s->nthreads] = next; /* "(unknown thread)" */
    hashmap_free(&seen);
    return number;
}

static struct tally *tally_blocks(const struct model *m, size_t *n)
{
    const struct analysis *a = model_newest(m);
    const struct lts_snapshot *s = a->snap;
    struct hashmap index = HASHMAP_INIT;
    struct tally *t = NULL;
    size_t count = 0, cap = 0;
    bool scan = group_has_scan(s), failed = false;
    uint32_t *family = family_numbers(a); /* one sample per stack and thread family */
    if (!family)
        return NULL;
    for (size_t i = 0; !failed && i < s->nblocks; i++) {
        const struct lts_block *b = &s->blocks[i];
        if (b->age_cs < m->opt.group.min_age_cs)
            continue;
        const struct lts_thread *th = lts_thread(s, b->thread);
        size_t ti = th ? (size_t)(th - s->threads) : s->nthreads;
        bool inserted;
        struct hashmap_slot *slot = hashmap_number(&index, (uint64_t)b->stack << 32 | family[ti],
                                                   &inserted);
        if (!slot) {
            failed = true;
            break;
        }
        if (inserted) {
            if (count == cap) {
                cap = cap ? 2 * cap : 256;
                struct tally *grown = realloc(t, cap * sizeof(*grown));
                if (!grown) {
                    failed = true;
                    break;
                }
                t = grown;
            }
            slot->value = count;
            t[count++] = (struct tally){b->stack, th ? a->families[ti] : "(unknown thread)", 0, 0,
                                        0};
        }
        struct tally *e = &t[slot->value];
        double w = group_block_weight(b->size, a->sample_interval);
        e->objects += w;
        e->bytes += w * (double)b->size;
        if (scan) {
            if (reach_state_lost(group_reach_state(s, b->addr)))
                e->lost += b->size;
        }
    }
    hashmap_free(&index);
    free(family);
    if (failed) {
        free(t);
        return NULL;
    }
    if (count)
        qsort(t, count, sizeof(*t), by_stack); /* the same profile for the same snapshot */
    *n = count;
    return t ? t : calloc(1, sizeof(*t));
}

static void write_samples(struct profile *p, const struct model *m, bool scan)
{
    size_t n;
    struct tally *t = tally_blocks(m, &n);
    if (!t) {
        p->failed = true;
        return;
    }
    uint64_t *ids = NULL;
    size_t capids = 0;
    int64_t thread_key = str(p, "thread");
    for (size_t i = 0; i < n && !p->failed; i++) {
        const struct stack_frames *sf = frames_of(p->a->frames, t[i].stack);
        if (capids < sf->n + 1) {
            capids = sf->n + 1;
            uint64_t *grown = realloc(ids, capids * sizeof(*ids));
            if (!grown) {
                p->failed = true;
                break;
            }
            ids = grown;
        }
        size_t nids = 0;
        for (uint32_t f = 0; f < sf->n;) { /* a recorded frame: its inlined chain, then it */
            uint32_t end = f;
            while (end + 1 < sf->n && sf->frames[end].sym && sf->frames[end].sym->inlined)
                end++;
            ids[nids++] = location_id(p, &sf->frames[f], end + 1 - f);
            f = end + 1;
        }
        uint64_t values[3] = {(uint64_t)llround(t[i].objects), (uint64_t)llround(t[i].bytes),
                              t[i].lost};
        int64_t family = str(p, t[i].family);
        pb_reset(&p->inner);
        pb_packed(&p->inner, SAMPLE_LOCATION_ID, ids, nids);
        pb_packed(&p->inner, SAMPLE_VALUE, values, scan ? 3 : 2);
        pb_reset(&p->scratch);
        pb_int(&p->scratch, LABEL_KEY, thread_key);
        pb_int(&p->scratch, LABEL_STR, family);
        pb_message(&p->inner, SAMPLE_LABEL, &p->scratch);
        pb_message(&p->out, PROFILE_SAMPLE, &p->inner);
    }
    free(ids);
    free(t);
}

static void write_mappings(struct profile *p)
{
    for (size_t i = 0; i < p->nmappings; i++) {
        const struct mapping *mp = &p->mappings[i];
        char *build_id = malloc(2 * mp->module->build_id_len + 1);
        if (!keep(p, build_id))
            return;
        for (size_t k = 0; k < mp->module->build_id_len; k++)
            snprintf(build_id + 2 * k, 3, "%02x", mp->module->build_id[k]);
        build_id[2 * mp->module->build_id_len] = 0;
        pb_reset(&p->scratch);
        pb_uint(&p->scratch, MAPPING_ID, i + 1);
        pb_uint(&p->scratch, MAPPING_START, mp->start);
        pb_uint(&p->scratch, MAPPING_LIMIT, mp->limit);
        pb_uint(&p->scratch, MAPPING_OFFSET, mp->offset);
        pb_int(&p->scratch, MAPPING_FILENAME, str(p, mp->module->path));
        pb_int(&p->scratch, MAPPING_BUILD_ID, str(p, build_id));
        /* With a name for every location pprof does not symbolize again; one without
         * lets it try the binary it finds by build-id. */
        pb_uint(&p->scratch, MAPPING_HAS_FUNCTIONS, !mp->unsymbolized);
        pb_uint(&p->scratch, MAPPING_HAS_FILENAMES, !mp->unsymbolized);
        pb_uint(&p->scratch, MAPPING_HAS_LINE_NUMBERS, !mp->unsymbolized);
        pb_uint(&p->scratch, MAPPING_HAS_INLINE_FRAMES, !mp->unsymbolized);
        pb_message(&p->out, PROFILE_MAPPING, &p->scratch);
    }
}

static void write_header(struct profile *p, bool scan)
{
    const struct lts_snapshot *s = p->a->snap;
    value_type(p, PROFILE_SAMPLE_TYPE, "inuse_objects", "count");
    value_type(p, PROFILE_SAMPLE_TYPE, "inuse_space", "bytes");
    if (scan)
        value_type(p, PROFILE_SAMPLE_TYPE, "lost_space", "bytes");
    pb_int(&p->out, PROFILE_DEFAULT_SAMPLE_TYPE, str(p, "inuse_space"));
    pb_int(&p->out, PROFILE_TIME_NANOS, (int64_t)s->time_unix_ns);
    value_type(p, PROFILE_PERIOD_TYPE, "space", "bytes");
    pb_int(&p->out, PROFILE_PERIOD, (int64_t)p->a->sample_interval);
    char *comment = malloc(512);
    if (keep(p, comment)) {
        snprintf(comment, 512, "leaktag snapshot %" PRIu64 " of %s (pid %" PRIu64 "), reason: %s%s",
                 s->seq, s->exe, s->pid, s->reason,
                 p->a->sample_interval ? "; values are estimates from a sampled snapshot" : "");
        pb_int(&p->out, PROFILE_COMMENT, str(p, comment));
    }
}

static int gzip_to(FILE *out, const uint8_t *data, size_t n, struct lts_error *err)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) /* gzip */
        return lts_fail(err, "zlib could not start");
    uint8_t chunk[1 << 16];
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n; /* profiles stay far under 4 GiB */
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        rc = deflate(&z, Z_FINISH);
        size_t have = sizeof(chunk) - z.avail_out;
        if (have && fwrite(chunk, 1, have, out) != have)
            rc = Z_ERRNO;
    } while (rc == Z_OK);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : lts_fail(err, "writing the profile failed");
}

int render_pprof(FILE *out, const struct model *m, struct lts_error *err)
{
    struct profile p = {.a = model_newest(m)};
    bool scan = group_has_scan(p.a->snap);
    str(&p, ""); /* string_table[0] */
    collect_mappings(&p);
    write_header(&p, scan);
    write_samples(&p, m, scan);
    write_mappings(&p); /* after the samples: which mappings have names for all */
    for (size_t i = 0; i < p.ntexts; i++)
        pb_bytes(&p.out, PROFILE_STRING_TABLE, p.texts[i], p.lens[i]);
    int rc = p.failed || p.out.failed || p.scratch.failed || p.inner.failed
                 ? lts_fail(err, "out of memory writing the profile")
                 : gzip_to(out, p.out.buf, p.out.len, err);
    for (size_t i = 0; i < p.nowned; i++)
        free(p.owned[i]);
    free(p.owned);
    free(p.texts);
    free(p.lens);
    free(p.mappings);
    hashmap_free(&p.strings);
    hashmap_free(&p.locations);
    hashmap_free(&p.functions);
    pb_free(&p.out);
    pb_free(&p.scratch);
    pb_free(&p.inner);
    return rc;
}
