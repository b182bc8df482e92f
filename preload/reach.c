/* reach.c — the mark (see reach.h). Phase one follows references from the roots: a start
 * pointer from a root or a reachable block makes a block reachable, any other reference
 * possibly lost; a block is (re)scanned each time its state rises. Phase two takes the
 * blocks still unreached in address order: each one not yet claimed heads a lost structure,
 * and every unreached block its contents lead to (by any pointer) becomes indirectly lost,
 * a former head included.
 *
 * It follows valgrind's mc_leakcheck.c. Each block keeps the first reference that reached it
 * (via: a root or a block, and the word's address), so that a chain from a root can be shown
 * (analyzer/retention.c). */
#include "reach.h"

#include <string.h>

#include "sort.h"

#define PAGE_SHIFT 12
#define WORD 8u
#define CHUNK 4096u /* bytes read at a time */

static uint64_t page_hash(uint64_t page)
{
    page *= 0x9E3779B97F4A7C15ull;
    return page ^ (page >> 29);
}

static uint64_t block_end(const struct lt_reach *r, size_t i)
{
    /* A zero-size block is found by its start only. */
    return r->start[i] + (r->size[i] ? r->size[i] : 1);
}

size_t lt_reach_index_slots(const uint64_t *start, const uint64_t *size, size_t n)
{
    size_t pages = 0;
    uint64_t last = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t first = start[i] >> PAGE_SHIFT;
        uint64_t end = (start[i] + (size[i] ? size[i] : 1) - 1) >> PAGE_SHIFT;
        if (end < first) /* a block past the end of the space (a damaged core) */
            end = first;
        pages += end - first + 1 - (first == last);
        last = end;
    }
    size_t slots = 16;
    while (slots < 2 * pages && slots <= SIZE_MAX / 4) /* (no caller has so many) */
        slots <<= 1;
    return slots;
}

/* The first block overlapping each page: blocks are sorted and disjoint, so a page's first
 * block is the first one seen for it. */
static void build_index(struct lt_reach *r)
{
    memset(r->index_page, 0, (r->index_mask + 1) * sizeof(*r->index_page));
    r->lowest = r->n ? r->start[0] : 1;
    r->highest = r->lowest;
    for (size_t i = 0; i < r->n; i++)
        if (block_end(r, i) > r->highest)
            r->highest = block_end(r, i);
    for (size_t i = 0; i < r->n; i++) {
        uint64_t first = r->start[i] >> PAGE_SHIFT;
        uint64_t last = (block_end(r, i) - 1) >> PAGE_SHIFT;
        if (last < first) /* as lt_reach_index_slots counts it */
            last = first;
        for (uint64_t page = first; page <= last; page++) {
            size_t slot = page_hash(page) & r->index_mask;
            while (r->index_page[slot] && r->index_page[slot] != page + 1)
                slot = (slot + 1) & r->index_mask;
            if (!r->index_page[slot]) {
                r->index_page[slot] = page + 1;
                r->index_first[slot] = (uint32_t)i;
            }
        }
    }
}

long lt_reach_find(const struct lt_reach *r, uint64_t addr)
{
    /* Most words are no pointer into the heap at all: small numbers, text, flags. */
    if (addr - r->lowest >= r->highest - r->lowest)
        return -1;
    uint64_t page = addr >> PAGE_SHIFT;
    size_t slot = page_hash(page) & r->index_mask;
    for (;;) {
        uint64_t key = r->index_page[slot];
        if (key == page + 1)
            break;
        if (!key)
            return -1;
        slot = (slot + 1) & r->index_mask;
    }
    /* From the page's first block on: a few blocks share a page, a big one spans many. */
    for (size_t i = r->index_first[slot]; i < r->n && r->start[i] <= addr; i++)
        if (addr < block_end(r, i))
            return (long)i;
    return -1;
}

static void push(struct lt_reach *r, uint32_t i)
{
    r->stack[r->stack_len++] = i;
}

/* Phase one's reference: word at `where` (in block `from`, or a root) holds `value`. */
static void refer(struct lt_reach *r, uint64_t value, uint64_t where, uint32_t from,
                  bool from_definite)
{
    long found = lt_reach_find(r, value);
    if (found < 0)
        return;
    uint32_t i = (uint32_t)found;
    if (value != r->start[i] && (from & LT_REACH_VIA_ROOT) && r->ignore_interior &&
        r->ignore_interior(r->ignore_ctx, where, value, i))
        return;
    r->references++;
    uint8_t now = r->state[i];
    if (now == LT_VERDICT_REACHABLE)
        return;
    uint8_t via_this = value == r->start[i] && from_definite ? LT_VERDICT_REACHABLE
                                                             : LT_VERDICT_POSSIBLY_LOST;
    if (via_this <= now)
        return;
    r->state[i] = via_this;
    r->via[i] = from;
    r->via_addr[i] = where;
    push(r, i);
}

/* Phase two's reference, inside the structure headed by `head`. */
static void claim(struct lt_reach *r, uint64_t value, uint64_t where, uint32_t from, uint32_t head)
{
    long found = lt_reach_find(r, value);
    if (found < 0)
        return;
    uint32_t i = (uint32_t)found;
    r->references++;
    if (r->state[i] != LT_VERDICT_DEFINITELY_LOST || i == head)
        return;
    /* (A head of an earlier structure joins this one; its members keep their via.) */
    r->state[i] = LT_VERDICT_INDIRECTLY_LOST;
    r->via[i] = from;
    r->via_addr[i] = where;
    push(r, i);
}

/* Every aligned word inside [lo, hi), read CHUNK bytes at a time. */
static void scan(struct lt_reach *r, uint64_t lo, uint64_t hi, uint32_t from, bool definite,
                 bool phase_two, uint32_t head)
{
    uint64_t buf[CHUNK / WORD];
    uint64_t at = (lo + WORD - 1) & ~(uint64_t)(WORD - 1);
    /* (written so that nothing wraps: a core may hold a range at the top of the space) */
    while (at >= lo && at < hi && hi - at >= WORD) {
        size_t want = hi - at < CHUNK ? (size_t)((hi - at) & ~(uint64_t)(WORD - 1)) : CHUNK;
        size_t got = r->read(r->read_ctx, at, buf, want) & ~(size_t)(WORD - 1);
        r->bytes_scanned += got;
        uint64_t lowest = r->lowest, span = r->highest - r->lowest;
        for (size_t k = 0; k < got / WORD; k++) {
            if (buf[k] - lowest >= span)
                continue; /* the common case, decided here without a call */
            if (phase_two)
                claim(r, buf[k], at + k * WORD, from, head);
            else
                refer(r, buf[k], at + k * WORD, from, definite);
        }
        if (got < want) {
            /* unreadable from here: skip to the next page (none past the last) */
            uint64_t next = ((at + got) | ((1u << PAGE_SHIFT) - 1)) + 1;
            if (next <= at)
                break;
            at = next;
            continue;
        }
        at += got;
    }
}

static void drain(struct lt_reach *r, bool phase_two, uint32_t head)
{
    while (r->stack_len) {
        uint32_t i = r->stack[--r->stack_len];
        scan(r, r->start[i], r->start[i] + r->size[i], i, r->state[i] == LT_VERDICT_REACHABLE,
             phase_two, head);
    }
}

void lt_reach_begin(struct lt_reach *r)
{
    memset(r->state, LT_VERDICT_DEFINITELY_LOST, r->n);
    for (size_t i = 0; i < r->n; i++) {
        r->via[i] = LT_REACH_VIA_NONE;
        r->via_addr[i] = 0;
    }
    r->stack_len = 0;
    r->bytes_scanned = r->references = 0;
    build_index(r);
}

void lt_reach_root_range(struct lt_reach *r, uint64_t lo, uint64_t hi, uint32_t root)
{
    scan(r, lo, hi, LT_REACH_VIA_ROOT | root, true, false, 0);
    drain(r, false, 0);
}

void lt_reach_root_word(struct lt_reach *r, uint64_t value, uint32_t root)
{
    refer(r, value, 0, LT_REACH_VIA_ROOT | root, true);
    drain(r, false, 0);
}

void lt_reach_end(struct lt_reach *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->state[i] != LT_VERDICT_DEFINITELY_LOST)
            continue; /* reached, or claimed by an earlier structure */
        push(r, (uint32_t)i);
        drain(r, true, (uint32_t)i);
    }
}

size_t lt_reach_chain(const struct lt_reach *r, uint32_t i, uint32_t *out, size_t max,
                      uint32_t *root)
{
    /* A block's via was reached before it: following them ends at a root within n steps. */
    size_t len = 0;
    uint32_t at = i;
    while (at < r->n && len <= r->n) {
        len++;
        at = r->via[at];
    }
    if (at == LT_REACH_VIA_NONE || !(at & LT_REACH_VIA_ROOT) || len > r->n)
        return 0;
    *root = at & ~LT_REACH_VIA_ROOT;
    if (len <= max) {
        at = i;
        for (size_t k = len; k-- > 0; at = r->via[at])
            out[k] = at;
    }
    return len;
}

/* ---- the roots ------------------------------------------------------------------------------ */

#define RED_ZONE 128u
#define GLIBC_HEAP_MAX (64ull << 20) /* a non-main arena's heaps are aligned to this */
#define GLIBC_NON_MAIN_ARENA 4u
#define GLIBC_IS_MMAPPED 2u
#define PAGE_DOWN(x) ((x) & ~4095ull)
#define PAGE_UP(x) (((x) + 4095) & ~4095ull)

bool lt_reach_mapping_may_root(const char *perms, const char *path)
{
    if (perms[0] != 'r' || perms[1] != 'w')
        return false;
    if (path[0] == '[' && strcmp(path, "[stack]") && strncmp(path, "[anon", 5))
        return false; /* [heap], and the kernel's: [vvar], [vdso], [vsyscall] */
    if (!strncmp(path, "/dev/", 5) && strcmp(path, "/dev/zero") && strncmp(path, "/dev/shm/", 9))
        return false; /* a device: reading it may have effects */
    return true;
}

static void add_root(struct lt_reach_roots *roots, uint32_t kind, int32_t tid, uint64_t lo,
                     uint64_t hi)
{
    if (hi <= lo || !roots->max_roots)
        return;
    uint32_t id = roots->nroots < roots->max_roots ? roots->nroots++ : roots->max_roots - 1;
    roots->roots[id] = (struct lt_reach_root){kind, tid, lo, hi};
    if (kind != LT_ROOT_TYPE_REGISTERS)
        lt_reach_root_range(roots->r, lo, hi, id);
}

void lt_reach_registers(struct lt_reach_roots *roots, int32_t tid, const uint64_t *words, size_t n)
{
    if (!roots->max_roots)
        return;
    add_root(roots, LT_ROOT_TYPE_REGISTERS, tid, 0, 1);
    uint32_t id = roots->nroots - 1;
    for (size_t k = 0; k < n; k++)
        lt_reach_root_word(roots->r, words[k], id);
}

/* [lo, hi) less the skipped memory. */
static void add_unskipped(struct lt_reach_roots *roots, uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < roots->nskip && lo < hi; i++) {
        const struct lt_reach_range *s = &roots->skip[i];
        if (s->hi <= lo || s->lo >= hi)
            continue;
        if (s->lo > lo)
            add_root(roots, LT_ROOT_TYPE_MAPPING, 0, lo, s->lo);
        lo = s->hi > lo ? s->hi : lo;
    }
    if (lo < hi)
        add_root(roots, LT_ROOT_TYPE_MAPPING, 0, lo, hi);
}

/* The allocator's memory around block i: its pages, or for glibc a non-main arena's whole
 * heap (free chunks there hold stale pointers), told by the chunk's header. */
static struct lt_reach_range allocator_range(const struct lt_reach_roots *roots, size_t i)
{
    const struct lt_reach *r = roots->r;
    uint64_t addr = r->start[i], size = r->size[i] ? r->size[i] : 1;
    struct lt_reach_range range = {PAGE_DOWN(addr), PAGE_UP(addr + size)};
    uint64_t chunk_size;
    if (roots->glibc && r->read(r->read_ctx, addr - 8, &chunk_size, 8) == 8 &&
        (chunk_size & GLIBC_NON_MAIN_ARENA) && !(chunk_size & GLIBC_IS_MMAPPED)) {
        range.lo = addr & ~(GLIBC_HEAP_MAX - 1);
        range.hi = range.lo + GLIBC_HEAP_MAX;
    }
    return range;
}

void lt_reach_mapping(struct lt_reach_roots *roots, uint64_t lo, uint64_t hi)
{
    bool stack = false;
    for (size_t i = 0; i < roots->nstacks; i++) {
        const struct lt_reach_stack *s = &roots->stacks[i];
        if (s->sp < lo || s->sp >= hi)
            continue;
        stack = true;
        uint64_t from = s->sp;
        if (s->kind == LT_ROOT_TYPE_STACK)
            from = s->sp - lo > RED_ZONE ? s->sp - RED_ZONE : lo;
        add_root(roots, s->kind, s->tid, from, hi);
    }
    if (stack)
        return;
    const struct lt_reach *r = roots->r;
    size_t i = lt_sorted_lower_bound(r->start, r->n, lo);
    if (i > 0)
        i--; /* a block that starts below lo may reach into it */
    for (; i < r->n && r->start[i] < hi && lo < hi; i++) {
        struct lt_reach_range a = allocator_range(roots, i);
        if (a.hi <= lo)
            continue;
        if (a.lo > lo)
            add_unskipped(roots, lo, a.lo < hi ? a.lo : hi);
        lo = a.hi;
        if (a.hi - a.lo == GLIBC_HEAP_MAX) /* the arena's other blocks are inside it */
            i = lt_sorted_lower_bound(r->start, r->n, a.hi) - 1;
    }
    if (lo < hi)
        add_unskipped(roots, lo, hi);
}
