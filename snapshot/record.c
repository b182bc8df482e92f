/* record.c — each record's encoding, writer and reader side by side (docs/FORMAT.md lists
 * the same fields in the same order). A change to a record changes both functions here and
 * the round-trip test, or the test fails. The writer side allocates nothing: the shim links
 * this file. */
#include "record.h"

#include <string.h>

static void put_cstr(struct lts_writer *w, const char *s)
{
    lts_writer_str(w, s ? s : "", s ? strlen(s) : 0);
}

/* ---- META: str key · u8 type · (uv | str) ------------------------------------------------- */

void lts_put_meta(struct lts_writer *w, const struct lts_meta *m)
{
    put_cstr(w, m->key);
    lts_writer_u8(w, m->is_string ? LT_META_STRING : LT_META_UINT);
    if (m->is_string)
        lts_writer_str(w, m->text ? m->text : "", m->text ? m->text_len : 0);
    else
        lts_writer_uv(w, m->number);
}

void lts_put_meta_uint(struct lts_writer *w, const char *key, uint64_t value)
{
    lts_put_meta(w, &(struct lts_meta){.key = key, .number = value});
}

void lts_put_meta_text(struct lts_writer *w, const char *key, const char *text, size_t len)
{
    lts_put_meta(w, &(struct lts_meta){.key = key, .is_string = 1, .text = text, .text_len = len});
}

bool lts_get_meta(struct lts_cursor *c, struct lts_meta *m)
{
    uint8_t type = 0;
    *m = (struct lts_meta){0};
    if (!lts_get_str(c, &m->key, NULL) || !lts_get_u8(c, &type))
        return false;
    if (type == LT_META_UINT)
        return lts_get_uv(c, &m->number);
    if (type == LT_META_STRING) {
        m->is_string = 1;
        return lts_get_str(c, &m->text, &m->text_len);
    }
    return lts_cursor_fail(c, "unknown value type %u in META section", type);
}

/* ---- COUNTERS: str name · uv value ---------------------------------------------------------- */

void lts_put_counter(struct lts_writer *w, const char *name, uint64_t value)
{
    put_cstr(w, name);
    lts_writer_uv(w, value);
}

bool lts_get_counter(struct lts_cursor *c, struct lts_counter *k)
{
    *k = (struct lts_counter){0};
    return lts_get_str(c, &k->name, NULL) && lts_get_uv(c, &k->value);
}

/* ---- MODULES: str path · uv bias · str build_id · uv n · (uv start · uv size · uv offset ·
 *      uv flags)*n -------------------------------------------------------------------------- */

void lts_put_module(struct lts_writer *w, const struct lts_module *m)
{
    put_cstr(w, m->path);
    lts_writer_uv(w, m->bias);
    lts_writer_str(w, (const char *)m->build_id, m->build_id ? m->build_id_len : 0);
    lts_writer_uv(w, m->nsegments);
    for (uint32_t i = 0; i < m->nsegments; i++) {
        lts_writer_uv(w, m->segments[i].start);
        lts_writer_uv(w, m->segments[i].size);
        lts_writer_uv(w, m->segments[i].offset);
        lts_writer_uv(w, m->segments[i].flags);
    }
}

bool lts_get_module(struct lts_cursor *c, struct lts_module *m)
{
    *m = (struct lts_module){0};
    const char *id = NULL;
    void *room;
    if (!lts_get_str(c, &m->path, NULL) || !lts_get_uv(c, &m->bias) ||
        !lts_get_str(c, &id, &m->build_id_len) ||
        !lts_get_u32_max(c, &m->nsegments, LT_FORMAT_SEGMENTS_MAX, "segment count") ||
        !lts_cursor_alloc(c, m->nsegments * sizeof(struct lts_segment) + 1, &room))
        return false;
    m->build_id = (const uint8_t *)id;
    struct lts_segment *segments = room;
    for (uint32_t i = 0; i < m->nsegments; i++) {
        struct lts_segment seg;
        if (!lts_get_uv(c, &seg.start) || !lts_get_uv(c, &seg.size) ||
            !lts_get_uv(c, &seg.offset) || !lts_get_u32_max(c, &seg.flags, 7, "segment flags"))
            return false;
        if (seg.start + seg.size < seg.start)
            return lts_cursor_fail(c, "segment wraps around the address space in MODULES section");
        if (segments)
            segments[i] = seg;
    }
    m->segments = segments;
    return true;
}

/* ---- MODULE_TIMES: uv loaded_cs · uv unloaded_cs ----------------------------------------- */

void lts_put_module_time(struct lts_writer *w, const struct lts_module_time *t)
{
    lts_writer_uv(w, t->loaded_cs);
    lts_writer_uv(w, t->unloaded_cs);
}

bool lts_get_module_time(struct lts_cursor *c, struct lts_module_time *t)
{
    *t = (struct lts_module_time){0};
    return lts_get_u32_max(c, &t->loaded_cs, UINT32_MAX, "load time") &&
           lts_get_u32_max(c, &t->unloaded_cs, UINT32_MAX, "unload time");
}

/* ---- MAPS: uv start · uv size · str perms(4) · uv offset · uv inode · str path · uv rss ·
 *      uv private_dirty · uv swap · uv anonymous · u8 kind --------------------------------- */

void lts_put_map(struct lts_writer *w, const struct lts_map *m)
{
    lts_writer_uv(w, m->start);
    lts_writer_uv(w, m->size);
    lts_writer_str(w, m->perms, 4);
    lts_writer_uv(w, m->offset);
    lts_writer_uv(w, m->inode);
    put_cstr(w, m->path);
    lts_writer_uv(w, m->rss);
    lts_writer_uv(w, m->private_dirty);
    lts_writer_uv(w, m->swap);
    lts_writer_uv(w, m->anonymous);
    lts_writer_u8(w, m->kind);
}

bool lts_get_map(struct lts_cursor *c, struct lts_map *m)
{
    *m = (struct lts_map){0};
    const uint8_t *perms;
    size_t perms_len = 0;
    if (!lts_get_uv(c, &m->start) || !lts_get_uv(c, &m->size) ||
        !lts_get_str_view(c, &perms, &perms_len))
        return false;
    if (perms_len != 4)
        return lts_cursor_fail(c, "permissions of a mapping are not 4 characters in MAPS section");
    memcpy(m->perms, perms, 4);
    if (!lts_get_uv(c, &m->offset) || !lts_get_uv(c, &m->inode) ||
        !lts_get_str(c, &m->path, NULL) || !lts_get_uv(c, &m->rss) ||
        !lts_get_uv(c, &m->private_dirty) || !lts_get_uv(c, &m->swap) ||
        !lts_get_uv(c, &m->anonymous) || !lts_get_u8(c, &m->kind))
        return false;
    if (m->kind >= LT_MAP_KIND_COUNT)
        return lts_cursor_fail(c, "unknown mapping kind %u in MAPS section", m->kind);
    return true;
}

/* ---- STACKS: uv depth · sv delta*depth (frame i = sum of the first i+1 deltas) ------------ */

void lts_put_stack(struct lts_writer *w, const struct lts_stack *s)
{
    lts_writer_uv(w, s->depth);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < s->depth; i++) {
        /* Neighbouring frames are often close: store differences. */
        lts_writer_sv(w, (int64_t)(s->frames[i] - prev));
        prev = s->frames[i];
    }
}

bool lts_get_stack(struct lts_cursor *c, struct lts_stack *s)
{
    *s = (struct lts_stack){0};
    void *room;
    if (!lts_get_u32_max(c, &s->depth, LT_FORMAT_MAX_DEPTH, "stack depth") ||
        !lts_cursor_alloc(c, s->depth * sizeof(uint64_t) + 1, &room))
        return false;
    uint64_t *frames = room, prev = 0;
    for (uint32_t i = 0; i < s->depth; i++) {
        int64_t delta;
        if (!lts_get_sv(c, &delta))
            return false;
        prev += (uint64_t)delta;
        if (frames)
            frames[i] = prev;
    }
    s->frames = frames;
    return true;
}

/* ---- THREADS: uv idx · uv tid · str name · uv state · uv start_cs · uv exit_cs ·
 *      uv stack_size · uv stack_addr · uv guard_size · uv start_routine · uv creator ·
 *      uv live_blocks · uv live_bytes · uv allocations · uv frees --------------------------- */

void lts_put_thread(struct lts_writer *w, const struct lts_thread *t)
{
    lts_writer_uv(w, t->idx);
    lts_writer_uv(w, t->tid);
    put_cstr(w, t->name);
    lts_writer_uv(w, t->state);
    lts_writer_uv(w, t->start_cs);
    lts_writer_uv(w, t->exit_cs);
    lts_writer_uv(w, t->stack_size);
    lts_writer_uv(w, t->stack_addr);
    lts_writer_uv(w, t->guard_size);
    lts_writer_uv(w, t->start_routine);
    lts_writer_uv(w, t->creator);
    lts_writer_uv(w, t->live_blocks);
    lts_writer_uv(w, t->live_bytes);
    lts_writer_uv(w, t->allocs);
    lts_writer_uv(w, t->frees);
}

bool lts_get_thread(struct lts_cursor *c, struct lts_thread *t)
{
    *t = (struct lts_thread){0};
    return lts_get_u32_max(c, &t->idx, LT_FORMAT_THREADS_MAX - 1, "thread index") &&
           lts_get_uv(c, &t->tid) && lts_get_str(c, &t->name, NULL) &&
           lts_get_u32_max(c, &t->state, LT_THREAD_FLAGS_ALL, "thread state") &&
           lts_get_uv(c, &t->start_cs) && lts_get_uv(c, &t->exit_cs) &&
           lts_get_uv(c, &t->stack_size) && lts_get_uv(c, &t->stack_addr) &&
           lts_get_uv(c, &t->guard_size) && lts_get_uv(c, &t->start_routine) &&
           lts_get_u32_max(c, &t->creator, LT_FORMAT_THREADS_MAX - 1, "creator index") &&
           lts_get_uv(c, &t->live_blocks) && lts_get_uv(c, &t->live_bytes) &&
           lts_get_uv(c, &t->allocs) && lts_get_uv(c, &t->frees);
}

/* ---- BLOCKS: uv addr/8 · uv size · uv stack · uv thread · uv age_cs · u8 kind --------------- */

void lts_put_block(struct lts_writer *w, const struct lts_block *b)
{
    lts_writer_uv(w, b->addr >> 3);
    lts_writer_uv(w, b->size);
    lts_writer_uv(w, b->stack);
    lts_writer_uv(w, b->thread);
    lts_writer_uv(w, b->age_cs);
    lts_writer_u8(w, b->kind);
}

bool lts_get_block(struct lts_cursor *c, struct lts_block *b)
{
    *b = (struct lts_block){0};
    uint64_t addr8;
    if (!lts_get_uv(c, &addr8) || !lts_get_uv(c, &b->size) ||
        !lts_get_u32_max(c, &b->stack, UINT32_MAX, "stack id") ||
        !lts_get_u32_max(c, &b->thread, LT_FORMAT_THREADS_MAX - 1, "thread index") ||
        !lts_get_u32_max(c, &b->age_cs, UINT32_MAX, "age") || !lts_get_u8(c, &b->kind))
        return false;
    if (addr8 >> 61)
        return lts_cursor_fail(c, "block address out of range in BLOCKS section");
    if (b->kind >= LT_KIND_COUNT)
        return lts_cursor_fail(c, "unknown allocation kind %u in BLOCKS section", b->kind);
    b->addr = addr8 << 3;
    return true;
}

/* ---- SAMPLES: uv addr/8 · uv stack · str bytes ----------------------------------------------- */

void lts_put_sample(struct lts_writer *w, const struct lts_sample *s)
{
    lts_writer_uv(w, s->addr >> 3);
    lts_writer_uv(w, s->stack);
    lts_writer_str(w, (const char *)s->bytes, s->len);
}

bool lts_get_sample(struct lts_cursor *c, struct lts_sample *s)
{
    *s = (struct lts_sample){0};
    uint64_t addr8;
    size_t len = 0;
    if (!lts_get_uv(c, &addr8) || !lts_get_u32_max(c, &s->stack, UINT32_MAX, "stack id") ||
        !lts_get_str_view(c, &s->bytes, &len))
        return false;
    if (addr8 >> 61)
        return lts_cursor_fail(c, "sample address out of range in SAMPLES section");
    if (len > LT_FORMAT_SAMPLE_BYTES_MAX)
        return lts_cursor_fail(c, "sample of %zu bytes is larger than leaktag takes", len);
    s->addr = addr8 << 3;
    s->len = (uint32_t)len;
    return true;
}

/* ---- MISUSE: u8 type · uv alloc_stack · uv release_stack · u8 alloc_kind · u8 release_kind ·
 *      uv count -------------------------------------------------------------------------------- */

void lts_put_misuse(struct lts_writer *w, const struct lts_misuse *m)
{
    lts_writer_u8(w, m->type);
    lts_writer_uv(w, m->alloc_stack);
    lts_writer_uv(w, m->release_stack);
    lts_writer_u8(w, m->alloc_kind);
    lts_writer_u8(w, m->release_kind);
    lts_writer_uv(w, m->count);
}

bool lts_get_misuse(struct lts_cursor *c, struct lts_misuse *m)
{
    *m = (struct lts_misuse){0};
    if (!lts_get_u8(c, &m->type) || !lts_get_u32_max(c, &m->alloc_stack, UINT32_MAX, "stack id") ||
        !lts_get_u32_max(c, &m->release_stack, UINT32_MAX, "stack id") ||
        !lts_get_u8(c, &m->alloc_kind) || !lts_get_u8(c, &m->release_kind) ||
        !lts_get_uv(c, &m->count))
        return false;
    if (m->type != LT_MISUSE_MISMATCH && m->type != LT_MISUSE_UNKNOWN_FREE)
        return lts_cursor_fail(c, "unknown misuse type %u in MISUSE section", m->type);
    if (m->alloc_kind > LT_KIND_COUNT || m->release_kind >= LT_RELEASE_COUNT)
        return lts_cursor_fail(c, "unknown allocation or release kind in MISUSE section");
    return true;
}

/* ---- REACH_SCAN: sv status · str why · uv pause, fork, scan ns · uv bytes · uv blocks ·
 *      uv threads · uv retries ------------------------------------------------------------ */

void lts_put_reach_scan(struct lts_writer *w, const struct lts_reach_scan *r)
{
    lts_writer_sv(w, r->status);
    lts_writer_str(w, r->why ? r->why : "", r->why ? strlen(r->why) : 0);
    lts_writer_uv(w, r->pause_ns);
    lts_writer_uv(w, r->fork_ns);
    lts_writer_uv(w, r->scan_ns);
    lts_writer_uv(w, r->bytes_scanned);
    lts_writer_uv(w, r->blocks);
    lts_writer_uv(w, r->threads);
    lts_writer_uv(w, r->retries);
}

bool lts_get_reach_scan(struct lts_cursor *c, struct lts_reach_scan *r)
{
    *r = (struct lts_reach_scan){0};
    return lts_get_sv(c, &r->status) && lts_get_str(c, &r->why, NULL) &&
           lts_get_uv(c, &r->pause_ns) && lts_get_uv(c, &r->fork_ns) &&
           lts_get_uv(c, &r->scan_ns) && lts_get_uv(c, &r->bytes_scanned) &&
           lts_get_uv(c, &r->blocks) && lts_get_u32_max(c, &r->threads, UINT32_MAX, "threads") &&
           lts_get_u32_max(c, &r->retries, UINT32_MAX, "retries");
}

/* ---- REACH_ROOTS: u8 type · uv tid · uv lo · uv hi --------------------------------------- */

void lts_put_reach_root(struct lts_writer *w, const struct lts_reach_root *r)
{
    lts_writer_u8(w, r->type);
    lts_writer_uv(w, r->tid);
    lts_writer_uv(w, r->lo);
    lts_writer_uv(w, r->hi);
}

bool lts_get_reach_root(struct lts_cursor *c, struct lts_reach_root *r)
{
    *r = (struct lts_reach_root){0};
    if (!lts_get_u8(c, &r->type) || !lts_get_uv(c, &r->tid) || !lts_get_uv(c, &r->lo) ||
        !lts_get_uv(c, &r->hi))
        return false;
    if (r->type == 0 || r->type >= LT_ROOT_TYPE_COUNT)
        return lts_cursor_fail(c, "unknown root type %u in REACH_ROOTS section", r->type);
    if (r->hi < r->lo)
        return lts_cursor_fail(c, "root ends before it begins in REACH_ROOTS section");
    return true;
}

/* ---- REACH: uv addr/8 · u8 state | via type << 2 · [uv via · uv via_addr] ------------------ */

void lts_put_reach(struct lts_writer *w, const struct lts_reach *r)
{
    lts_writer_uv(w, r->addr >> 3);
    lts_writer_u8(w, (uint8_t)(r->state | r->via_type << 2));
    if (r->via_type != LT_VIA_NONE) {
        lts_writer_uv(w, r->via);
        lts_writer_uv(w, r->via_addr);
    }
}

bool lts_get_reach(struct lts_cursor *c, struct lts_reach *r)
{
    *r = (struct lts_reach){0};
    uint64_t addr8;
    uint8_t packed;
    if (!lts_get_uv(c, &addr8) || !lts_get_u8(c, &packed))
        return false;
    if (addr8 >> 61)
        return lts_cursor_fail(c, "block address out of range in REACH section");
    r->addr = addr8 << 3;
    r->state = packed & 3;
    r->via_type = packed >> 2;
    if (r->via_type > LT_VIA_ROOT)
        return lts_cursor_fail(c, "unknown reference type %u in REACH section", r->via_type);
    if (r->via_type != LT_VIA_NONE &&
        (!lts_get_u32_max(c, &r->via, UINT32_MAX - 1, "reference") || !lts_get_uv(c, &r->via_addr)))
        return false;
    return true;
}
