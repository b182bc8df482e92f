/* scan_fixture.c — see scan_fixture.h. The target's private part is a larger block whose
 * first member is target.h's struct target_private: target_close frees it as its own, after
 * the release callback has freed the buffers behind the mappings. */
#include "scan_fixture.h"

#include <stdlib.h>
#include <string.h>

struct region {
    uint64_t start, end;
    uint8_t *bytes;
};

struct fixture {
    struct target_private priv; /* first: target_close frees the whole block through it */
    struct region *regions;
    size_t nregions;
    size_t map_cap;
    size_t reads;
};

static struct fixture *fixture_of(const struct target *t)
{
    return (struct fixture *)t->priv;
}

static const struct region *region_at(const struct fixture *f, uint64_t addr)
{
    for (size_t i = 0; i < f->nregions; i++)
        if (addr >= f->regions[i].start && addr < f->regions[i].end)
            return &f->regions[i];
    return NULL;
}

/* As a back end reads: as far as the memory goes from addr, across adjacent regions. */
static size_t fixture_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct fixture *f = fixture_of(t);
    f->reads++;
    size_t done = 0;
    while (done < len) {
        const struct region *r = region_at(f, addr + done);
        if (!r)
            break;
        uint64_t room = r->end - (addr + done);
        size_t n = room < len - done ? (size_t)room : len - done;
        memcpy((uint8_t *)buf + done, r->bytes + (addr + done - r->start), n);
        done += n;
    }
    return done;
}

static void fixture_release(struct target *t)
{
    struct fixture *f = fixture_of(t);
    for (size_t i = 0; i < f->nregions; i++)
        free(f->regions[i].bytes);
    free(f->regions);
    f->regions = NULL;
    f->nregions = 0;
}

struct target *fixture_target(unsigned pointer_bytes)
{
    struct target *t = target_new("fixture");
    struct fixture *f = calloc(1, sizeof(*f));
    if (!t || !f) {
        free(f);
        target_close(t);
        return NULL;
    }
    f->priv = *t->priv;
    free(t->priv);
    t->priv = &f->priv;
    t->priv->read = fixture_read;
    t->priv->release = fixture_release;
    t->pointer_bytes = pointer_bytes;
    t->address_space = target_address_space(pointer_bytes);
    return t;
}

uint8_t *fixture_map(struct target *t, uint64_t start, uint64_t size, const char *perms,
                     const char *path, enum target_map_kind kind, bool backed)
{
    struct fixture *f = fixture_of(t);
    /* (rss: the bytes behind it, as a core holds its segments' first filesz bytes) */
    struct target_map m = {
        .start = start, .end = start + size, .rss = backed ? size : 0, .kind = kind};
    memcpy(m.perms, perms, 4);
    m.path = path ? strdup(path) : NULL;
    if (target_push_map(t, &f->map_cap, &m) < 0)
        abort();
    t->vm_size += size;
    if (!backed)
        return NULL;
    struct region *n = realloc(f->regions, (f->nregions + 1) * sizeof(*n));
    uint8_t *bytes = calloc(1, (size_t)size);
    if (!n || !bytes)
        abort();
    f->regions = n;
    f->regions[f->nregions++] = (struct region){start, start + size, bytes};
    return bytes;
}

void fixture_sort(struct target *t)
{
    target_sort_maps(t);
}

uint8_t *fixture_at(struct target *t, uint64_t addr)
{
    const struct region *r = region_at(fixture_of(t), addr);
    if (!r)
        abort(); /* a test writing where it mapped nothing */
    return r->bytes + (addr - r->start);
}

void fixture_put(struct target *t, uint64_t addr, uint64_t value)
{
    if (t->pointer_bytes == 8) {
        memcpy(fixture_at(t, addr), &value, 8);
    } else {
        uint32_t v = (uint32_t)value;
        memcpy(fixture_at(t, addr), &v, 4);
    }
}

uint64_t fixture_get(struct target *t, uint64_t addr)
{
    uint64_t v = 0;
    memcpy(&v, fixture_at(t, addr), t->pointer_bytes);
    return v;
}

struct target_thread *fixture_thread(struct target *t, int tid, uint64_t sp)
{
    struct target_thread *n = realloc(t->threads, (t->nthreads + 1) * sizeof(*n));
    if (!n)
        abort();
    t->threads = n;
    struct target_thread *th = &t->threads[t->nthreads++];
    *th = (struct target_thread){.tid = tid, .sp = sp, .map = SIZE_MAX};
    return th;
}

size_t fixture_reads(const struct target *t)
{
    return fixture_of(t)->reads;
}

uint64_t fixture_chunk(struct target *t, uint64_t *p, uint64_t size, unsigned flags, uint8_t fill)
{
    uint64_t at = *p;
    fixture_put(t, at + 8, size | flags);
    memset(fixture_at(t, at + 16), fill, size - 8);
    *p += size;
    return at;
}

void fixture_arena(struct target *t, uint64_t a, uint64_t next, uint64_t top, uint64_t system_mem)
{
    for (unsigned i = 1; i < 128; i++) {
        uint64_t bin = a + GLIBC_ST(bins) + (uint64_t)(i - 1) * 16 - 16; /* bin_at(a, i) */
        fixture_put(t, bin + 16, bin);
        fixture_put(t, bin + 24, bin);
    }
    fixture_put(t, a + GLIBC_ST(top), top);
    fixture_put(t, a + GLIBC_ST(next), next);
    fixture_put(t, a + GLIBC_ST(attached_threads), 1);
    fixture_put(t, a + GLIBC_ST(system_mem), system_mem);
    fixture_put(t, a + GLIBC_ST(max_system_mem), system_mem);
}
