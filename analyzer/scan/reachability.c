/* reachability.c — the verdict without the shim (see reachability.h).
 *
 * The blocks: every in-use chunk of the census's walk (tcache and fastbin chunks are free,
 * a tcache itself is malloc's), sorted by address. The roots, by reach.h's rules: each
 * thread's registers and its stack from its stack pointer, every other writable mapping
 * except the arenas' heaps, less the pages of the chunks in it. glibc's arena in libc's
 * writable segment points at free chunks' headers, which are the last word of the chunk
 * before: not a reference (as in the shim). The target's memory is read through a small
 * cache of 16 KiB windows: the mark reads a chunk at a time, and neighbours are usually next.
 *
 * A chain is kept as addresses while the target is still, and put in words afterwards,
 * when the modules' symbol tables are open. */
#include "reachability.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "sort.h"

#define WINDOW_SHIFT 14
#define WINDOW (1u << WINDOW_SHIFT)
#define WINDOWS 64
#define MAX_ROOTS 65536

/* ---- reading the target ------------------------------------------------------------------ */

struct reader {
    struct target *t;
    uint64_t base[WINDOWS]; /* window address + 1 (0: empty) */
    size_t have[WINDOWS];
    uint8_t *buf; /* WINDOWS x WINDOW */
};

static size_t read_cached(void *ctx, uint64_t addr, void *out, size_t len)
{
    struct reader *rd = ctx;
    size_t done = 0;
    while (done < len) {
        uint64_t at = addr + done, base = at & ~(uint64_t)(WINDOW - 1);
        size_t slot = (size_t)(base >> WINDOW_SHIFT) % WINDOWS;
        if (rd->base[slot] != base + 1) {
            rd->have[slot] = target_read(rd->t, base, rd->buf + slot * WINDOW, WINDOW);
            rd->base[slot] = base + 1;
        }
        size_t in = (size_t)(at - base);
        if (in >= rd->have[slot]) {
            /* the window's start is unreadable (a mapping begins inside it) or its end: read
             * from here on, uncached */
            done += target_read(rd->t, at, (uint8_t *)out + done, len - done);
            break;
        }
        size_t n = rd->have[slot] - in < len - done ? rd->have[slot] - in : len - done;
        memcpy((uint8_t *)out + done, rd->buf + slot * WINDOW + in, n);
        done += n;
    }
    return done;
}

/* ---- the blocks ---------------------------------------------------------------------------- */

/* The chunks, straight into the mark's two arrays: sized from the census (the walk finds
 * the same chunks), grown if a live heap changed in between. */
struct blocks {
    uint64_t *start, *size;
    size_t n, cap;
    bool oom;
};

static void add_chunk(uint64_t address, uint64_t usable, void *ctx)
{
    struct blocks *b = ctx;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        uint64_t *start = b->oom ? NULL : realloc(b->start, (cap + 1) * sizeof(*start));
        if (start)
            b->start = start;
        uint64_t *size = start ? realloc(b->size, (cap + 1) * sizeof(*size)) : NULL;
        if (!size) {
            b->oom = true;
            return;
        }
        b->size = size;
        b->cap = cap;
    }
    b->start[b->n] = address;
    b->size[b->n++] = usable;
}

/* ---- the mark ------------------------------------------------------------------------------ */

struct marking {
    struct target *t;
    struct lt_reach r;
    struct lt_reach_roots roots;
    struct reader reader;
    struct lt_reach_range libc[16]; /* libc's writable segments: glibc's arena */
    size_t nlibc;
};

/* A root's interior pointer at the last word of a chunk, from libc's writable segment: the
 * arena's pointer to the free chunk that follows (its header), not a reference. */
static bool arena_pointer(void *ctx, uint64_t where, uint64_t value, size_t block)
{
    const struct marking *mk = ctx;
    bool in_libc = false;
    for (size_t i = 0; i < mk->nlibc && !in_libc; i++)
        in_libc = mk->libc[i].lo <= where && where < mk->libc[i].hi;
    return in_libc && mk->r.size[block] >= 8 && value == mk->r.start[block] + mk->r.size[block] - 8;
}

/* What reach.h's rules read of a mapping: its permissions, and a path as /proc/PID/maps
 * would show it (a core names only files). */
static const char *path_for_rules(const struct target_map *m)
{
    switch (m->kind) {
    case TARGET_MAP_FILE: return m->path ? m->path : "";
    case TARGET_MAP_HEAP: return "[heap]";
    case TARGET_MAP_SPECIAL: return "[vdso]";
    case TARGET_MAP_STACK: return "[stack]";
    default: return "";
    }
}

static void mark_roots(struct marking *mk, struct lt_reach_stack *stacks)
{
    struct target *t = mk->t;
    for (size_t i = 0; i < t->nthreads; i++) {
        const struct target_thread *th = &t->threads[i];
        if (th->nregs)
            lt_reach_registers(&mk->roots, th->tid, th->regs, th->nregs);
        if (th->sp)
            stacks[mk->roots.nstacks++] = (struct lt_reach_stack){th->tid, th->sp,
                                                                  LT_ROOT_TYPE_STACK};
    }
    for (size_t i = 0; i < t->nmaps; i++) {
        const struct target_map *m = &t->maps[i];
        /* an arena's heap is the allocator's whole: its free chunks hold stale pointers */
        if (m->kind == TARGET_MAP_ARENA || m->kind == TARGET_MAP_GUARD ||
            !lt_reach_mapping_may_root(m->perms, path_for_rules(m)))
            continue;
        /* a core holds a segment's first rss bytes and no more (gcore's are whole; a damaged
         * core's may claim terabytes it does not hold): the rest has no words to scan */
        uint64_t end = t->is_core && m->rss < m->end - m->start ? m->start + m->rss : m->end;
        lt_reach_mapping(&mk->roots, m->start, end);
    }
}

/* ---- the results --------------------------------------------------------------------------- */

const struct reach_class *reachability_class(const struct reachability *rc, uint64_t usable)
{
    size_t a = 0, b = rc->nclasses;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (rc->classes[m].usable < usable)
            a = m + 1;
        else
            b = m;
    }
    return a < rc->nclasses && rc->classes[a].usable == usable ? &rc->classes[a] : NULL;
}

bool reachability_lost(const struct reachability *rc, uint64_t addr)
{
    size_t a = 0, b = rc->nlost;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (rc->lost[m] < addr)
            a = m + 1;
        else
            b = m;
    }
    return a < rc->nlost && rc->lost[a] == addr;
}

const char *reachability_category(enum lt_reach_verdict v)
{
    static const char *const names[LT_VERDICT_COUNT] = {
        [LT_VERDICT_DEFINITELY_LOST] = "definitely lost",
        [LT_VERDICT_INDIRECTLY_LOST] = "indirectly lost",
        [LT_VERDICT_POSSIBLY_LOST] = "possibly lost",
        [LT_VERDICT_REACHABLE] = "reachable",
    };
    return v < LT_VERDICT_COUNT ? names[v] : "?";
}

size_t reachability_retained(const struct reachability *rc, const struct reach_class **out)
{
    size_t n = 0;
    for (size_t i = 0; i < rc->nclasses; i++) {
        const struct reach_class *k = &rc->classes[i];
        if (!k->chain || n == REACH_RETAINED_CLASSES)
            continue;
        size_t at = n++;
        for (; at > 0 && out[at - 1]->state[LT_VERDICT_REACHABLE].bytes <
                             k->state[LT_VERDICT_REACHABLE].bytes;
             at--)
            out[at] = out[at - 1];
        out[at] = k;
    }
    return n;
}

static bool ranks_before(const struct reach_class *a, const struct reach_class *b)
{
    uint64_t la = reachability_lost_in(a).bytes, lb = reachability_lost_in(b).bytes;
    if (la != lb)
        return la > lb;
    uint64_t pa = a->state[LT_VERDICT_POSSIBLY_LOST].bytes,
             pb = b->state[LT_VERDICT_POSSIBLY_LOST].bytes;
    if (pa != pb)
        return pa > pb;
    return a->state[LT_VERDICT_REACHABLE].bytes > b->state[LT_VERDICT_REACHABLE].bytes;
}

size_t reachability_ranked(const struct reachability *rc, const struct reach_class **out,
                           size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < rc->nclasses; i++) {
        const struct reach_class *k = &rc->classes[i];
        if (n == max && (!n || !ranks_before(k, out[n - 1])))
            continue;
        size_t at = n < max ? n++ : n - 1;
        for (; at > 0 && ranks_before(k, out[at - 1]); at--)
            out[at] = out[at - 1];
        out[at] = k;
    }
    return n;
}

struct reach_count reachability_lost_in(const struct reach_class *k)
{
    const struct reach_count *d = &k->state[LT_VERDICT_DEFINITELY_LOST],
                             *i = &k->state[LT_VERDICT_INDIRECTLY_LOST];
    return (struct reach_count){d->chunks + i->chunks, d->bytes + i->bytes};
}

static int by_value(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int tally(struct reachability *rc, const struct lt_reach *r)
{
    /* the classes: the distinct usable sizes, a few hundred among millions of chunks */
    struct hashmap sizes = HASHMAP_INIT;
    for (size_t i = 0; i < r->n; i++)
        if (!hashmap_number(&sizes, r->size[i], NULL)) {
            hashmap_free(&sizes);
            return -1;
        }
    uint64_t *distinct = malloc((sizes.count + 1) * sizeof(*distinct));
    rc->classes = calloc(sizes.count + 1, sizeof(*rc->classes));
    if (!distinct || !rc->classes) {
        free(distinct);
        hashmap_free(&sizes);
        return -1;
    }
    size_t nclasses = 0;
    hashmap_each(&sizes, slot) distinct[nclasses++] = slot->number;
    hashmap_free(&sizes);
    qsort(distinct, nclasses, sizeof(*distinct), by_value);
    for (size_t i = 0; i < nclasses; i++)
        rc->classes[i].usable = distinct[i];
    free(distinct);
    rc->nclasses = nclasses;
    struct reach_class *k = NULL;
    for (size_t i = 0; i < r->n; i++) {
        uint8_t s = r->state[i];
        if (!k || k->usable != r->size[i]) /* neighbours are often alike */
            k = (struct reach_class *)reachability_class(rc, r->size[i]);
        k->state[s].chunks++;
        k->state[s].bytes += r->size[i];
        rc->total[s].chunks++;
        rc->total[s].bytes += r->size[i];
        rc->nlost += s == LT_VERDICT_DEFINITELY_LOST || s == LT_VERDICT_INDIRECTLY_LOST;
    }
    rc->lost = malloc((rc->nlost + 1) * sizeof(*rc->lost));
    if (!rc->lost)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->state[i] == LT_VERDICT_DEFINITELY_LOST || r->state[i] == LT_VERDICT_INDIRECTLY_LOST)
            rc->lost[n++] = r->start[i];
    return 0;
}

static const struct target_thread *thread_of(const struct target *t, int tid)
{
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].tid == tid)
            return &t->threads[i];
    return NULL;
}

/* For a root word at `where` in a thread's stack: a code address in the frame that holds
 * it — the nearest return address below it (a word pointing into code, as the call that
 * made the next frame left it), or the thread's instruction pointer when none is below. A
 * guess, as any reading of a stack without its unwind tables is; read while the target is
 * still, named later. */
static uint64_t frame_pc(struct target *t, int tid, uint64_t where)
{
    const struct target_thread *th = thread_of(t, tid);
    if (!th || !th->sp)
        return 0;
    for (uint64_t at = where - 8; at >= th->sp && at < where && where - at <= 65536; at -= 8) {
        uint64_t word;
        if (!target_read_word(t, at, &word))
            continue;
        const struct target_map *map = target_map_at(t, word);
        if (map && map->perms[2] == 'x')
            return word - 1; /* inside the call, not after it */
    }
    return th->nregs > 16 ? th->regs[16] : 0; /* rip */
}

#define FS_BASE 21            /* in x86-64's user_regs_struct */
#define DESCRIPTOR 2304       /* glibc's struct pthread, about */
#define STATIC_TLS (64 << 10) /* below the thread pointer, at most */

/* Is the root word in a thread's static TLS (below its thread pointer, with no return
 * address between: no frame) or its descriptor (struct pthread, at the thread pointer)? */
static void find_tls(struct target *t, struct reach_chain *ch)
{
    uint64_t w = ch->root_word;
    for (size_t i = 0; i < t->nthreads && w; i++) {
        const struct target_thread *th = &t->threads[i];
        uint64_t tp = th->nregs > FS_BASE ? th->regs[FS_BASE] : 0;
        if (!tp || w + STATIC_TLS < tp || w >= tp + DESCRIPTOR)
            continue;
        bool frame = false;
        for (uint64_t at = w + 8; at < tp && !frame; at += 8) {
            uint64_t word;
            const struct target_map *map;
            frame = target_read_word(t, at, &word) && (map = target_map_at(t, word)) &&
                    map->perms[2] == 'x';
        }
        if (frame)
            continue;
        ch->tls_tid = th->tid;
        ch->from_tp = (int64_t)(w - tp);
        return;
    }
}

/* One chain for each of the classes with most reachable bytes: to its first chunk reached
 * by start pointers all the way. */
static int keep_chains(struct reachability *rc, struct target *t, const struct lt_reach *r,
                       const struct lt_reach_root *roots)
{
    uint32_t *path = malloc((r->n + 1) * sizeof(*path));
    if (!path)
        return -1;
    for (size_t picked = 0; picked < REACH_RETAINED_CLASSES; picked++) {
        struct reach_class *best = NULL;
        for (size_t i = 0; i < rc->nclasses; i++) {
            struct reach_class *k = &rc->classes[i];
            uint64_t bytes = k->state[LT_VERDICT_REACHABLE].bytes;
            if (!k->chain && bytes && (!best || bytes > best->state[LT_VERDICT_REACHABLE].bytes))
                best = k;
        }
        if (!best)
            break;
        if (!(best->chain = calloc(1, sizeof(*best->chain)))) {
            free(path);
            return -1;
        }
        for (size_t i = 0; i < r->n; i++) {
            uint32_t root;
            size_t len;
            if (r->size[i] != best->usable || r->state[i] != LT_VERDICT_REACHABLE ||
                !(len = lt_reach_chain(r, (uint32_t)i, path, r->n, &root)))
                continue;
            struct reach_chain *ch = best->chain;
            ch->root = roots[root];
            ch->root_word = r->via_addr[path[0]];
            find_tls(t, ch);
            if (ch->root.kind == LT_ROOT_TYPE_STACK && !ch->tls_tid)
                ch->frame_pc = frame_pc(t, ch->root.tid, ch->root_word);
            ch->hops = len;
            for (size_t k = 0; k < len; k++) {
                /* the first half, then the end: where it is held, and what it holds */
                size_t head = REACH_CHAIN_KEPT / 2, tail = REACH_CHAIN_KEPT - head;
                size_t slot = SIZE_MAX;
                if (len <= REACH_CHAIN_KEPT || k < head)
                    slot = k;
                else if (k >= len - tail)
                    slot = head + k - (len - tail);
                if (slot == SIZE_MAX)
                    continue;
                ch->chunk[slot] = r->start[path[k]];
                ch->usable[slot] = r->size[path[k]];
                ch->word[slot] = k + 1 < len ? r->via_addr[path[k + 1]] : 0;
                ch->nkept = slot + 1;
            }
            break;
        }
    }
    free(path);
    return 0;
}

int reachability_take(struct target *t, const struct heap_census *c, struct reachability *out,
                      struct lts_error *err)
{
    memset(out, 0, sizeof(*out));
    double start = target_now();
    if (!c->glibc) {
        snprintf(out->why, sizeof(out->why),
                 "the heap is not glibc's, whose chunks the verdict reads: %.250s", c->why);
        return 0;
    }
    if (t->pointer_bytes != 8) {
        snprintf(out->why, sizeof(out->why),
                 "the verdict reads 8-byte words: %s is a 32-bit process", t->source);
        return 0;
    }
    if (!t->is_core && !t->priv->nfrozen) {
        snprintf(out->why, sizeof(out->why),
                 "a running process's heap changes under the mark "
                 "(--freeze stops it)");
        return 0;
    }
    struct blocks b = {.cap = c->inuse_chunks + c->mmapped_chunks + 1024};
    b.start = malloc((b.cap + 1) * sizeof(*b.start));
    b.size = malloc((b.cap + 1) * sizeof(*b.size));
    b.oom = !b.start || !b.size;
    if (!b.oom)
        heap_each_inuse(t, c, add_chunk, &b);
    struct marking mk = {.t = t, .reader = {.t = t, .buf = malloc(WINDOWS * WINDOW)}};
    size_t n = b.n;
    int rc = -1;
    struct lt_reach_stack *stacks = calloc(t->nthreads + 1, sizeof(*stacks));
    struct lt_reach_root *roots = calloc(MAX_ROOTS, sizeof(*roots));
    uint64_t *start_of = b.start, *size_of = b.size;
    if (b.oom || !mk.reader.buf || !stacks || !roots)
        goto done;
    bool sorted = true; /* each span's chunks come in address order, the spans mostly too */
    for (size_t i = 1; i < n && sorted; i++)
        sorted = start_of[i - 1] < start_of[i];
    if (!sorted) {
        lt_sort_u64(start_of, size_of, n);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) /* two spans never share a chunk, but be sure */
            if (!kept || start_of[i] != start_of[kept - 1]) {
                start_of[kept] = start_of[i];
                size_of[kept++] = size_of[i];
            }
        n = kept;
    }
    size_t slots = lt_reach_index_slots(start_of, size_of, n);
    mk.r = (struct lt_reach){
        .n = n,
        .start = start_of,
        .size = size_of,
        .read = read_cached,
        .read_ctx = &mk.reader,
        .ignore_interior = arena_pointer,
        .ignore_ctx = &mk,
        .state = malloc(n + 1),
        .via = malloc((n + 1) * sizeof(uint32_t)),
        .via_addr = malloc((n + 1) * sizeof(uint64_t)),
        .index_page = malloc(slots * sizeof(uint64_t)),
        .index_first = malloc(slots * sizeof(uint32_t)),
        .index_mask = slots - 1,
        .stack = malloc((2 * n + 1) * sizeof(uint32_t)),
    };
    if (!mk.r.state || !mk.r.via || !mk.r.via_addr || !mk.r.index_page || !mk.r.index_first ||
        !mk.r.stack)
        goto done;
    for (size_t i = 0; i < t->nmaps && mk.nlibc < 16; i++)
        if (heap_libc_path(t->maps[i].path) && t->maps[i].perms[1] == 'w')
            mk.libc[mk.nlibc++] = (struct lt_reach_range){t->maps[i].start, t->maps[i].end};
    mk.roots = (struct lt_reach_roots){
        .r = &mk.r, .glibc = true, .stacks = stacks, .roots = roots, .max_roots = MAX_ROOTS};
    lt_reach_begin(&mk.r);
    mark_roots(&mk, stacks);
    lt_reach_end(&mk.r);
    out->taken = true;
    out->blocks = n;
    out->roots = mk.roots.nroots;
    out->bytes_scanned = mk.r.bytes_scanned;
    if (tally(out, &mk.r) < 0 || keep_chains(out, t, &mk.r, roots) < 0)
        goto done;
    if (c->invalid_chunks)
        snprintf(out->caveat, sizeof(out->caveat),
                 "%" PRIu64 " chunks failed the walk's checks and were skipped: what only they "
                 "point at is counted lost",
                 c->invalid_chunks);
    else if (c->unchecked_small)
        snprintf(out->caveat, sizeof(out->caveat),
                 "%" PRIu64 " small chunks could not be told in use or free in a cache: those "
                 "counted lost may be free",
                 c->unchecked_small);
    rc = 0;
done:
    if (rc < 0)
        lts_fail(err, "out of memory (the verdict on %zu chunks)", n);
    out->seconds = target_now() - start;
    free(mk.reader.buf);
    free(stacks);
    free(roots);
    free(start_of);
    free(size_of);
    free(mk.r.state);
    free(mk.r.via);
    free(mk.r.via_addr);
    free(mk.r.index_page);
    free(mk.r.index_first);
    free(mk.r.stack);
    return rc;
}

/* ---- in words ------------------------------------------------------------------------------- */

static void root_words(char *buf, size_t size, struct target *t, struct scan_modules *m,
                       const struct reach_chain *ch)
{
    const struct lt_reach_root *root = &ch->root;
    const struct target_thread *th = thread_of(t, ch->tls_tid ? ch->tls_tid : root->tid);
    const char *name = th && th->name[0] ? th->name : "?";
    if (ch->tls_tid) {
        if (ch->from_tp >= 0)
            snprintf(buf, size, "the thread descriptor of thread %s (tid %d), +0x%" PRIx64, name,
                     ch->tls_tid, (uint64_t)ch->from_tp);
        else
            snprintf(buf, size,
                     "the thread-local storage of thread %s (tid %d), %" PRId64
                     " bytes below its thread pointer",
                     name, ch->tls_tid, -ch->from_tp);
        return;
    }
    switch (root->kind) {
    case LT_ROOT_TYPE_REGISTERS:
        snprintf(buf, size, "a register of thread %s (tid %d)", name, root->tid);
        return;
    case LT_ROOT_TYPE_STACK: {
        const char *frame = modules_function(m, ch->frame_pc);
        uint64_t sp = th ? th->sp : root->lo;
        bool below = ch->root_word < sp; /* in the red zone the ABI leaves below it */
        snprintf(buf, size,
                 "the stack of thread %s (tid %d), %" PRIu64 " bytes %s its stack "
                 "pointer%s%s",
                 name, root->tid, below ? sp - ch->root_word : ch->root_word - sp,
                 below ? "below" : "above", frame ? ", in the frame of " : "", frame ? frame : "");
        return;
    }
    default: {
        const char *module = NULL, *symbol = NULL;
        uint64_t offset = 0;
        if (modules_data(m, ch->root_word, &module, &symbol, &offset)) {
            if (symbol)
                snprintf(buf, size, "global %s+0x%" PRIx64 " (%s)", symbol, offset, module);
            else
                snprintf(buf, size, "data of %s at 0x%" PRIx64, module, ch->root_word);
            return;
        }
        const struct target_map *map = target_map_at(t, ch->root_word);
        const char *what = "an anonymous mapping (mmap'd memory or an allocator's own)";
        if (map && map->kind == TARGET_MAP_MMAPPED)
            what = "a mapping beside malloc's mmapped chunk (mmap'd memory)";
        else if (map && (map->kind == TARGET_MAP_STACK || map->kind == TARGET_MAP_THREAD_STACK))
            what = "a thread's stack, its stack pointer unknown";
        else if (map && map->path)
            what = map->path;
        snprintf(buf, size, "%s at 0x%" PRIx64 "-0x%" PRIx64 ", word 0x%" PRIx64, what, root->lo,
                 root->hi, ch->root_word);
    }
    }
}

int reachability_describe(struct reachability *rc, struct target *t, struct scan_modules *m)
{
    for (size_t i = 0; i < rc->nclasses; i++) {
        struct reach_class *k = &rc->classes[i];
        const struct reach_chain *ch = k->chain;
        if (!ch)
            continue;
        size_t steps = 1 + ch->nkept + (ch->hops > ch->nkept);
        if (!(k->retained_by = calloc(steps, sizeof(*k->retained_by))))
            return -1;
        char buf[512];
        root_words(buf, sizeof(buf), t, m, ch);
        if (!(k->retained_by[k->nsteps++] = strdup(buf)))
            return -1;
        for (size_t s = 0; s < ch->nkept; s++) {
            if (ch->hops > ch->nkept && s == REACH_CHAIN_KEPT / 2) {
                snprintf(buf, sizeof(buf), "... %zu chunks more ...", ch->hops - ch->nkept);
                if (!(k->retained_by[k->nsteps++] = strdup(buf)))
                    return -1;
            }
            if (s + 1 == ch->nkept)
                snprintf(buf, sizeof(buf), "chunk 0x%" PRIx64 " (usable %" PRIu64 ") of this class",
                         ch->chunk[s], ch->usable[s]);
            else
                snprintf(buf, sizeof(buf),
                         "chunk 0x%" PRIx64 " (usable %" PRIu64 "), at +0x%" PRIx64, ch->chunk[s],
                         ch->usable[s], ch->word[s] - ch->chunk[s]);
            if (!(k->retained_by[k->nsteps++] = strdup(buf)))
                return -1;
        }
    }
    return 0;
}

void reachability_free(struct reachability *rc)
{
    for (size_t i = 0; i < rc->nclasses; i++) {
        for (size_t s = 0; s < rc->classes[i].nsteps; s++)
            free(rc->classes[i].retained_by[s]);
        free(rc->classes[i].retained_by);
        free(rc->classes[i].chain);
    }
    free(rc->classes);
    free(rc->lost);
    memset(rc, 0, sizeof(*rc));
}
