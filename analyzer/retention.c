/* retention.c — chains of references from the reachability scan (see retention.h).
 *
 * A global at the root is named by its module's symbol table (sym_data). */
#include "retention.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"

static int by_address(const void *x, const void *y)
{
    const struct lts_block *a = *(const struct lts_block *const *)x;
    const struct lts_block *b = *(const struct lts_block *const *)y;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

const struct lts_block **retention_index(const struct lts_snapshot *s)
{
    const struct lts_block **index = malloc((s->nblocks + 1) * sizeof(*index));
    if (!index)
        return NULL;
    for (size_t i = 0; i < s->nblocks; i++)
        index[i] = &s->blocks[i];
    qsort(index, s->nblocks, sizeof(*index), by_address);
    return index;
}

static const struct lts_block *block_at(const struct lts_snapshot *s,
                                        const struct lts_block **index, uint64_t addr)
{
    size_t a = 0, b = s->nblocks;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (index[m]->addr < addr)
            a = m + 1;
        else
            b = m;
    }
    return a < s->nblocks && index[a]->addr == addr ? index[a] : NULL;
}

int retention_trace(const struct lts_snapshot *s, const struct lts_block **index, uint64_t addr,
                    struct retention *out)
{
    memset(out, 0, sizeof(*out));
    size_t at = lts_reach_index(s, addr);
    if (at == SIZE_MAX || s->reach[at].state != LT_VERDICT_REACHABLE)
        return -1;
    /* Up from the example to the root; a damaged file may hold a cycle: bounded. */
    size_t cap = s->nreach < 4096 ? s->nreach + 1 : 4096, n = 0;
    struct retention_link *up = malloc(cap * sizeof(*up));
    if (!up)
        return -1;
    uint64_t word = 0; /* where the link below was referenced from, inside this one */
    while (n < cap) {
        const struct lts_reach *r = &s->reach[at];
        up[n++] = (struct retention_link){r->addr, block_at(s, index, r->addr), word};
        word = r->via_addr;
        if (r->via_type == LT_VIA_ROOT) {
            out->root = &s->reach_roots[r->via];
            out->root_word = r->via_addr;
            break;
        }
        if (r->via_type != LT_VIA_BLOCK)
            break;
        at = r->via;
    }
    /* Root side first; a long chain keeps its ends. */
    out->hops = n;
    size_t keep = n < RETENTION_LINKS ? n : RETENTION_LINKS;
    for (size_t k = 0; k < keep; k++) {
        size_t from_root = k < keep / 2 ? k : n - keep + k; /* index counted from the root */
        out->links[k] = up[n - 1 - from_root];
    }
    out->nlinks = keep;
    free(up);
    return out->root ? 0 : -1;
}

static const struct lts_thread *thread_by_tid(const struct lts_snapshot *s, uint64_t tid)
{
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].tid == tid)
            return &s->threads[i];
    return NULL;
}

void retention_root_name(const struct lts_snapshot *s, struct symbolizer *sym,
                         const struct retention *r, char *buf, size_t size)
{
    const struct lts_reach_root *root = r->root;
    if (!root) {
        snprintf(buf, size, "(no root recorded)");
        return;
    }
    const struct lts_thread *t = thread_by_tid(s, root->tid);
    const char *name = t && t->name && t->name[0] ? t->name : "?";
    switch (root->type) {
    case LT_ROOT_TYPE_REGISTERS:
        snprintf(buf, size, "a register of thread %s (tid %" PRIu64 ")", name, root->tid);
        return;
    case LT_ROOT_TYPE_STACK:
        snprintf(buf, size,
                 "the stack of thread %s (tid %" PRIu64 "), %" PRIu64
                 " bytes above its stack pointer",
                 name, root->tid, r->root_word - root->lo);
        return;
    case LT_ROOT_TYPE_CALLER:
        snprintf(buf, size, "the stack of thread %s (tid %" PRIu64 "), which took the snapshot",
                 name, root->tid);
        return;
    default: {
        const char *module = NULL, *symbol = NULL;
        uint64_t offset = 0;
        if (sym && sym_data(sym, r->root_word, &module, &symbol, &offset)) {
            if (symbol)
                snprintf(buf, size, "global %s+0x%" PRIx64 " (%s)", symbol, offset, module);
            else
                snprintf(buf, size, "data of %s at 0x%" PRIx64, module, r->root_word);
        } else {
            /* no module: what the snapshot's MAPS say the mapping is */
            const struct lts_map *map = NULL;
            for (size_t i = 0; i < s->nmaps && !map; i++)
                if (s->maps[i].start <= r->root_word &&
                    r->root_word < s->maps[i].start + s->maps[i].size)
                    map = &s->maps[i];
            const char *what = "an anonymous mapping (mmap'd memory or an allocator's own)";
            if (map && map->kind == LT_MAP_MAIN_STACK)
                what = "the main thread's stack ([stack], not stopped: a snapshot taken in its "
                       "signal handler)";
            else if (map && map->kind == LT_MAP_THREAD_STACK)
                what = "a thread's stack (one not stopped)";
            else if (map && map->path && map->path[0])
                what = map->path;
            snprintf(buf, size, "%s at 0x%" PRIx64 "-0x%" PRIx64 ", word 0x%" PRIx64, what,
                     root->lo, root->hi, r->root_word);
        }
    }
    }
}
