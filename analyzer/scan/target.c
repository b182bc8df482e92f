/* target.c — what a target is whichever back end found it (target_live.c, target_core.c):
 * its mappings in address order, each thread's stack, reads through the back end, the end.
 * Nothing here touches the process. */
#include "target.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int target_hand_out(struct target *t, int filled, struct target **out)
{
    if (filled < 0) {
        target_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

struct target *target_new(const char *source)
{
    struct target *t = calloc(1, sizeof(*t));
    if (t)
        t->priv = calloc(1, sizeof(*t->priv));
    if (t && t->priv)
        t->source = strdup(source);
    if (!t || !t->priv || !t->source) {
        if (t)
            free(t->priv);
        free(t);
        return NULL;
    }
    t->priv->mem_fd = -1;
    t->priv->pagemap_fd = -1;
    t->priv->core_fd = -1;
    return t;
}

double target_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- small helpers ------------------------------------------------------------------------ */

/* elfhdr_read_fn over a file descriptor. */
size_t target_read_fd(void *ctx, uint64_t offset, void *buf, size_t len)
{
    ssize_t n = pread(*(const int *)ctx, buf, len, (off_t)offset);
    return n > 0 ? (size_t)n : 0;
}

uint64_t target_address_space(unsigned pointer_bytes)
{
    if (pointer_bytes == 8)
        return 1ull << 47;
    struct utsname u; /* a 32-bit process has all of 4 GiB under a 64-bit kernel */
    if (uname(&u) == 0 && (!strcmp(u.machine, "x86_64") || !strcmp(u.machine, "aarch64")))
        return 4ull << 30;
    return 3ull << 30;
}

static int compare_maps(const void *a, const void *b)
{
    const struct target_map *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

void target_sort_maps(struct target *t)
{
    qsort(t->maps, t->nmaps, sizeof(*t->maps), compare_maps);
}

void target_free_maps(struct target *t)
{
    for (size_t i = 0; i < t->nmaps; i++)
        free(t->maps[i].path);
    free(t->maps);
    t->maps = NULL;
    t->nmaps = 0;
}

int target_push_map(struct target *t, size_t *cap, const struct target_map *m)
{
    if (t->nmaps == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct target_map *n = realloc(t->maps, ncap * sizeof(*n));
        if (!n)
            return -1;
        t->maps = n;
        *cap = ncap;
    }
    t->maps[t->nmaps++] = *m;
    return 0;
}

struct target_map *target_map_at(struct target *t, uint64_t addr)
{
    size_t lo = 0, hi = t->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (addr < t->maps[mid].start)
            hi = mid;
        else if (addr >= t->maps[mid].end)
            lo = mid + 1;
        else
            return &t->maps[mid];
    }
    return NULL;
}

uint64_t target_stack_reserved(const struct target *t, const struct target_map *m)
{
    uint64_t bytes = m->end - m->start;
    /* the guard: inaccessible, or read-only in a gcore core, which writes it out as such */
    if (m->kind != TARGET_MAP_STACK && m > t->maps && m[-1].end == m->start &&
        m[-1].perms[1] != 'w' && !m[-1].path)
        bytes += m[-1].end - m[-1].start;
    return bytes;
}

/* Each thread's stack: the mapping its stack pointer is in, with the inaccessible guard
 * mapped just below it (glibc's for a pthread stack). */
void target_place_stacks(struct target *t)
{
    for (size_t i = 0; i < t->nthreads; i++) {
        struct target_thread *th = &t->threads[i];
        th->map = SIZE_MAX;
        th->stack_reserved = 0;
        struct target_map *m = th->sp ? target_map_at(t, th->sp) : NULL;
        for (size_t k = 0; !m && th->tid == t->pid && k < t->nmaps; k++) /* on a CPU */
            if (t->maps[k].kind == TARGET_MAP_STACK)
                m = &t->maps[k];
        if (!m)
            continue;
        th->map = (size_t)(m - t->maps);
        if (m->kind == TARGET_MAP_STACK || (m->path && !strcmp(m->path, "[stack]")))
            m->kind = TARGET_MAP_STACK;
        else
            m->kind = TARGET_MAP_THREAD_STACK;
        th->stack_reserved = target_stack_reserved(t, m);
        m->tid = th->tid;
    }
}

size_t target_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    if (t->gone || !t->priv->read)
        return 0;
    return t->priv->read(t, addr, buf, len);
}

bool target_read_word(struct target *t, uint64_t addr, uint64_t *value)
{
    if (t->pointer_bytes == 8)
        return target_read(t, addr, value, 8) == 8;
    uint32_t v;
    if (target_read(t, addr, &v, 4) != 4)
        return false;
    *value = v;
    return true;
}

void target_close(struct target *t)
{
    if (!t)
        return;
    if (t->priv) {
        if (t->priv->release)
            t->priv->release(t);
        if (t->priv->mem_fd >= 0)
            close(t->priv->mem_fd);
        if (t->priv->pagemap_fd >= 0)
            close(t->priv->pagemap_fd);
        if (t->priv->core_fd >= 0)
            close(t->priv->core_fd);
        free(t->priv->segments);
        free(t->priv);
    }
    target_free_maps(t);
    free(t->threads);
    free(t->exe);
    free(t->source);
    free(t);
}
