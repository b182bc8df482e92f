/* modules.c — the registry of loaded ELF objects: a rescan walks dl_iterate_phdr (the loader's
 * lock, held while copying only) and records new objects with their build-id notes, read
 * from memory (the PT_NOTE segments are mapped, nothing is opened on disk), and marks the
 * ones that are gone. Listing it never needs the loader's lock, which another thread may
 * hold for as long as it likes (inside a dl_iterate_phdr callback). Never calls malloc.
 *
 * Rescans come at snapshots, every second from leaktag's thread, and around dlclose; a dlopen
 * only notes its time, since its wrapper must be a tail call (the loader takes its caller's
 * return address for RUNPATH). RTLD_DEEPBIND is reported once. The code range of one object is
 * looked up for the unwinder (leaktag's own) and for the snapshot signal's handler (ld.so,
 * found from AT_BASE). */
#include "modules.h"

#include <elf.h>
#include <sys/auxv.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "clock.h"
#include "log.h"
#include "mem.h"

struct copy {
    struct lt_module m;
    char path[512];
    unsigned char build_id[64];
    bool seen; /* at the rescan under way */
};

static void find_build_id(struct lt_module *m, const ElfW(Phdr) * ph, uint64_t bias)
{
    const unsigned char *p = (const unsigned char *)(uintptr_t)(bias + ph->p_vaddr);
    const unsigned char *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
        size_t name = (n->n_namesz + 3) & ~3u, desc = (n->n_descsz + 3) & ~3u;
        const unsigned char *body = p + sizeof(*n);
        if (body + name + desc > end)
            return;
        if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(body, "GNU", 4)) {
            m->build_id = body + name;
            m->build_id_size = n->n_descsz;
            return;
        }
        p = body + name + desc;
    }
}

/* ---- the registry ---------------------------------------------------------------------- */

#define MODULES_MAX LT_MODULES_MAX

/* Every module seen loaded at a rescan, kept after it is gone (old frames still point into
 * it). Append-only; an entry that comes back at the same address with the same file is
 * reused. Mapped on the first rescan, touched one entry at a time. A rescan copies the
 * loader's list out first (the loader's lock: another thread may hold it as long as it
 * likes) and takes the registry's lock only to merge, so listing the registry never waits
 * for the loader. */
static struct copy *registry, *found;
static size_t registered, room; /* entries in use, and mapped, in registry and found */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rescan_lock = PTHREAD_MUTEX_INITIALIZER; /* one rescan at a time */
static char exe_path[4096];

struct walk {
    struct copy *list;
    size_t count, max;
    bool full;
};

static int visit(struct dl_phdr_info *info, size_t size, void *raw)
{
    (void)size;
    struct walk *w = raw;
    if (w->count == w->max) {
        w->full = true;
        return 1;
    }
    const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : exe_path;
    struct copy *c = &w->list[w->count++];
    memset(c, 0, sizeof(*c));
    size_t len = lt_min(strlen(path), sizeof(c->path) - 1);
    memcpy(c->path, path, len);
    c->m.path = c->path;
    c->m.bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && c->m.segments < lt_array_size(c->m.segment)) {
            c->m.segment[c->m.segments].start = info->dlpi_addr + ph->p_vaddr;
            c->m.segment[c->m.segments].end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            c->m.segment[c->m.segments].offset = ph->p_offset;
            c->m.segment[c->m.segments].flags = ph->p_flags;
            c->m.segments++;
        } else if (ph->p_type == PT_NOTE && !c->m.build_id) {
            find_build_id(&c->m, ph, info->dlpi_addr);
        }
    }
    c->m.build_id_size = lt_min(c->m.build_id_size, sizeof(c->build_id));
    if (c->m.build_id)
        memcpy(c->build_id, c->m.build_id, c->m.build_id_size);
    c->m.build_id = c->m.build_id ? c->build_id : NULL;
    return 0;
}

static struct copy *registered_as(const struct copy *f)
{
    for (size_t i = 0; i < registered; i++)
        if (registry[i].m.bias == f->m.bias && !strcmp(registry[i].path, f->path) &&
            registry[i].m.build_id_size == f->m.build_id_size &&
            !memcmp(registry[i].build_id, f->build_id, f->m.build_id_size))
            return &registry[i];
    return NULL;
}

static uint64_t loader_lo, loader_hi;
static _Atomic uint32_t opened_cs; /* the last dlopen call (0: none since the last rescan) */

bool lt_modules_in_loader(uint64_t pc)
{
    return pc >= loader_lo && pc < loader_hi;
}

/* Both lists get twice the room (the registry's lock is taken to swap it). False when that
 * is not possible: the rescan is then left as it went. */
static bool grow(void)
{
    size_t more = room ? room * 2 : 64;
    if (more > MODULES_MAX)
        return false;
    struct copy *r = lt_mem_map_scratch(more * sizeof(*r)),
                *f = lt_mem_map_scratch(more * sizeof(*f));
    if (!r || !f) {
        lt_mem_unmap(r, more * sizeof(*r));
        lt_mem_unmap(f, more * sizeof(*f));
        return false;
    }
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registered; i++) {
        r[i] = registry[i];
        r[i].m.path = r[i].path;
        r[i].m.build_id = r[i].m.build_id ? r[i].build_id : NULL;
    }
    struct copy *old_r = registry, *old_f = found;
    size_t old_room = room;
    registry = r;
    found = f;
    room = more;
    pthread_mutex_unlock(&registry_lock);
    lt_mem_unmap(old_r, old_room * sizeof(*old_r));
    lt_mem_unmap(old_f, old_room * sizeof(*old_f));
    return true;
}

void lt_modules_rescan(void)
{
    pthread_mutex_lock(&rescan_lock);
    if (!room) {
        uint64_t loader = getauxval(AT_BASE);
        if (loader)
            lt_modules_text(loader, &loader_lo, &loader_hi);
        ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
        exe_path[n > 0 ? n : 0] = '\0';
        if (!grow()) {
            pthread_mutex_unlock(&rescan_lock);
            return;
        }
    }
    uint32_t opened = atomic_exchange(&opened_cs, 0);
    struct walk w;
    do
        w = (struct walk){found, 0, room, false};
    while (dl_iterate_phdr(visit, &w), w.full && grow());
    while (registered + w.count > room && grow()) /* room for all of them being new */
        ;
    uint32_t now_cs = lt_clock_cs();
    /* What a dlopen since the last rescan loaded was loaded when dlopen was called. */
    uint32_t new_cs = opened && opened <= now_cs ? opened : now_cs;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registered; i++)
        registry[i].seen = false;
    for (size_t i = 0; i < w.count; i++) {
        struct copy *c = registered_as(&found[i]);
        if (!c && registered == room) {
            lt_log_once("more than %d modules loaded; later ones are left out of snapshots",
                        MODULES_MAX);
            continue;
        }
        if (!c) {
            c = &registry[registered++];
            *c = found[i];
            c->m.path = c->path;
            c->m.build_id = c->m.build_id ? c->build_id : NULL;
            c->m.loaded_cs = new_cs;
        } else if (c->m.unloaded_cs) { /* back again, at the same address */
            c->m.loaded_cs = new_cs;
            c->m.unloaded_cs = 0;
        }
        c->seen = true;
    }
    for (size_t i = 0; i < registered; i++)
        if (!registry[i].seen && !registry[i].m.unloaded_cs)
            registry[i].m.unloaded_cs = now_cs ? now_cs : 1;
    pthread_mutex_unlock(&registry_lock);
    pthread_mutex_unlock(&rescan_lock);
}

int lt_modules_each(lt_module_fn fn, void *ctx, int64_t timeout_ns)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ns / 1000000000;
    until.tv_nsec += timeout_ns % 1000000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    if (pthread_mutex_timedlock(&registry_lock, &until) != 0)
        return -ETIMEDOUT;
    for (size_t i = 0; i < registered; i++)
        fn(&registry[i].m, ctx);
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

void lt_modules_changing(void)
{
    if (registry)
        lt_modules_rescan();
}

/* A fork child that has not called dlopen: its modules are the parent's at the fork, which
 * the registry holds, and the loader's lock may have been held then by a thread that does not
 * exist here (the parent's exit running _dl_fini), so that a rescan would wait for ever. */
static _Atomic bool as_forked;

bool lt_modules_as_forked(void)
{
    return atomic_load_explicit(&as_forked, memory_order_relaxed);
}

void lt_modules_opening(void)
{
    atomic_store_explicit(&as_forked, false, memory_order_relaxed);
    uint32_t zero = 0;
    atomic_compare_exchange_strong(&opened_cs, &zero, lt_clock_cs() | 1);
}

void lt_modules_deepbind(const char *file)
{
    lt_log_once("%s is opened with RTLD_DEEPBIND: it binds to libc's malloc and free ahead of "
                "leaktag's, so blocks it frees are not seen and stay in snapshots as live",
                file ? file : "(main program)");
}

/* fork: the registry's lock is held across it, the rescan's is not (a thread may be stuck
 * in the loader with it); the child takes both afresh. */
void lt_modules_fork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
}

void lt_modules_fork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
}

void lt_modules_fork_child(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    pthread_mutex_init(&rescan_lock, NULL);
    atomic_store_explicit(&as_forked, true, memory_order_relaxed);
}

struct text_range {
    uint64_t bias, lo, hi;
};

static int find_text(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct text_range *t = ctx;
    if (info->dlpi_addr != t->bias)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!t->hi || lo < t->lo)
            t->lo = lo;
        if (hi > t->hi)
            t->hi = hi;
    }
    return 1;
}

bool lt_modules_text(uint64_t bias, uint64_t *lo, uint64_t *hi)
{
    struct text_range t = {.bias = bias};
    dl_iterate_phdr(find_text, &t);
    if (!t.hi)
        return false;
    *lo = t.lo;
    *hi = t.hi;
    return true;
}
