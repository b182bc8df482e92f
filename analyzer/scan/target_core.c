/* target_core.c — an ELF core file (gcore's or the kernel's) as a target: its PT_LOAD
 * segments are the memory; NT_PRSTATUS gives the threads and their stack pointers,
 * NT_PRPSINFO the name, NT_FILE the mapped files (and the code segments gcore leaves out,
 * read from those files), NT_AUXV the executable; every segment is checked against the
 * file's size. */
#include "target_core.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfhdr.h"

static size_t core_read(struct target *t, uint64_t addr, void *buf, size_t len);

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

/* ---- a core file ------------------------------------------------------------------------- */

static int compare_segments(const void *a, const void *b)
{
    const struct target_segment *x = a, *y = b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Word i of a note's descriptor, in the core's word size. */
static uint64_t note_word(const uint8_t *desc, size_t i, bool wide)
{
    if (wide) {
        uint64_t v;
        memcpy(&v, desc + i * 8, 8);
        return v;
    }
    uint32_t v;
    memcpy(&v, desc + i * 4, 4);
    return v;
}

struct core_file_entry {
    uint64_t start, end, offset;
    const char *name;
};

static int core_thread(struct target *t, size_t *cap, const uint8_t *desc, size_t size, bool wide)
{
    /* elf_prstatus: pr_pid after the signal info and the two sigsets; the registers
     * (user_regs_struct / the i386 gregset) after the four timevals. */
    size_t pid_at = wide ? 32 : 24, regs_at = wide ? 112 : 72;
    size_t sp_index = wide ? 19 : 15; /* rsp; esp (UESP) */
    size_t word = wide ? 8 : 4;
    if (size < regs_at + (sp_index + 1) * word)
        return 0;
    if (t->nthreads == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct target_thread *n = realloc(t->threads, ncap * sizeof(*n));
        if (!n)
            return -1;
        t->threads = n;
        *cap = ncap;
    }
    struct target_thread *th = &t->threads[t->nthreads++];
    memset(th, 0, sizeof(*th));
    int32_t tid;
    memcpy(&tid, desc + pid_at, 4);
    th->tid = tid;
    th->sp = note_word(desc + regs_at, sp_index, wide);
    size_t nregs = wide ? 27 : 17;
    while (nregs && size < regs_at + nregs * word)
        nregs--;
    for (size_t i = 0; i < nregs && i < TARGET_REGS; i++)
        th->regs[th->nregs++] = note_word(desc + regs_at, i, wide);
    return 0;
}

/* NT_FILE: count, page size, count x (start, end, page offset), then the names. */
static int core_files(const uint8_t *desc, size_t size, bool wide, struct core_file_entry **out,
                      size_t *nout)
{
    size_t word = wide ? 8 : 4;
    if (size < 2 * word)
        return 0;
    uint64_t count = note_word(desc, 0, wide), page = note_word(desc, 1, wide);
    if (count > (size - 2 * word) / (3 * word))
        return 0;
    struct core_file_entry *e = calloc(count + 1, sizeof(*e));
    if (!e)
        return -1;
    const char *names = (const char *)desc + (2 + 3 * count) * word;
    const char *end = (const char *)desc + size;
    for (uint64_t i = 0; i < count; i++) {
        e[i].start = note_word(desc, 2 + 3 * i, wide);
        e[i].end = note_word(desc, 3 + 3 * i, wide);
        e[i].offset = note_word(desc, 4 + 3 * i, wide) * page;
        if (names < end && memchr(names, '\0', (size_t)(end - names))) {
            e[i].name = names;
            names += strlen(names) + 1;
        }
    }
    *out = e;
    *nout = count;
    return 0;
}

/* Is the part of ELF file `path` at file offset `offset` loaded executable? */
static bool file_segment_executable(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct elfhdr_headers h;
    struct lts_error ignored;
    bool x = false;
    if (elfhdr_read(target_read_fd, &fd, 256, path, &h, &ignored) == 0)
        for (unsigned i = 0; i < h.nsegments && !x; i++) {
            const struct elfhdr_segment *p = &h.segments[i];
            x = p->type == PT_LOAD && (p->flags & PF_X) &&
                offset >= (p->offset & ~(uint64_t)4095) && offset < p->offset + p->filesz;
        }
    elfhdr_headers_free(&h);
    close(fd);
    return x;
}

static int fill(struct target *t, const char *path, const char *exe, struct lts_error *err)
{
    t->is_core = true;
    t->priv->read = core_read;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lts_fail(err, "%s: %s", path, strerror(errno));
    t->priv->core_fd = fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return lts_fail(err, "%s: not a pid, nor a core file", path);
    struct elfhdr_headers h;
    if (elfhdr_read(target_read_fd, &fd, UINT32_MAX, path, &h, err) < 0) {
        if (!h.elf)
            lts_fail(err, "%s: not a pid, nor an ELF core file", path);
        elfhdr_headers_free(&h);
        return -1;
    }
    if (h.type != ET_CORE) {
        elfhdr_headers_free(&h);
        return lts_fail(err,
                        "%s: an ELF file, but not a core (give a pid, or a core from gcore "
                        "or the kernel)",
                        path);
    }
    t->pointer_bytes = h.wide ? 8 : 4;
    t->address_space = target_address_space(t->pointer_bytes);

    /* Program headers: the memory (PT_LOAD) and the notes. */
    uint64_t phbytes = (uint64_t)h.phnum * h.phentsize;
    if (h.phnum == 0 || h.nsegments < h.phnum || h.phoff + phbytes > (uint64_t)st.st_size) {
        elfhdr_headers_free(&h);
        return lts_fail(err,
                        "%s: truncated core file: its program headers end at byte %" PRIu64
                        ", the file at %" PRIu64,
                        path, h.phoff + phbytes, (uint64_t)st.st_size);
    }
    t->priv->segments = calloc(h.phnum, sizeof(struct target_segment));
    uint8_t *notes = NULL;
    size_t notes_size = 0;
    size_t mcap = 0;
    int rc = -1;
    struct core_file_entry *files = NULL;
    size_t nfiles = 0;
    if (!t->priv->segments) {
        lts_fail(err, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < h.nsegments; i++) {
        const struct elfhdr_segment *seg = &h.segments[i];
        uint64_t type = seg->type, flags = seg->flags, offset = seg->offset, vaddr = seg->vaddr;
        uint64_t filesz = seg->filesz, memsz = seg->memsz;
        if (type == PT_LOAD && vaddr + memsz < vaddr) {
            lts_fail(err,
                     "%s: damaged core file: the memory at 0x%" PRIx64 " runs past the end "
                     "of the address space",
                     path, vaddr);
            goto out;
        }
        if ((type == PT_LOAD || type == PT_NOTE) && offset + filesz > (uint64_t)st.st_size) {
            if (type == PT_LOAD)
                lts_fail(err,
                         "%s: truncated core file: the memory at 0x%" PRIx64 " needs bytes "
                         "up to %" PRIu64 ", the file ends at %" PRIu64,
                         path, vaddr, offset + filesz, (uint64_t)st.st_size);
            else
                lts_fail(err,
                         "%s: truncated core file: its notes need bytes up to %" PRIu64
                         ", the file ends at %" PRIu64,
                         path, offset + filesz, (uint64_t)st.st_size);
            goto out;
        }
        if (type == PT_NOTE && !notes && filesz > 0 && filesz < (256u << 20)) {
            notes = malloc(filesz);
            if (!notes || pread(fd, notes, filesz, (off_t)offset) != (ssize_t)filesz) {
                lts_fail(err, "%s: cannot read its notes", path);
                goto out;
            }
            notes_size = filesz;
        } else if (type == PT_LOAD && memsz > 0) {
            t->priv->segments[t->priv->nsegments++] = (struct target_segment){
                vaddr, memsz, offset, filesz < memsz ? filesz : memsz};
            struct target_map m = {.start = vaddr, .end = vaddr + memsz, .rss = filesz};
            m.perms[0] = flags & PF_R ? 'r' : '-';
            m.perms[1] = flags & PF_W ? 'w' : '-';
            m.perms[2] = flags & PF_X ? 'x' : '-';
            m.perms[3] = 'p';
            m.kind = flags & (PF_R | PF_W | PF_X) ? TARGET_MAP_ANON : TARGET_MAP_GUARD;
            if (target_push_map(t, &mcap, &m) < 0) {
                lts_fail(err, "out of memory");
                goto out;
            }
            t->vm_size += memsz;
        }
    }
    if (!notes) {
        lts_fail(err, "%s: a core file without notes: no threads to read", path);
        goto out;
    }
    qsort(t->priv->segments, t->priv->nsegments, sizeof(struct target_segment), compare_segments);
    target_sort_maps(t);

    /* Notes: threads (NT_PRSTATUS), the name (NT_PRPSINFO), the mapped files (NT_FILE). */
    size_t tcap = 0;
    int psinfo_pid = 0;
    uint64_t at_phdr = 0;
    struct elfhdr_note note;
    struct elfhdr_notes walk = {notes, notes_size};
    while (elfhdr_next_note(&walk, &note)) {
        const uint8_t *desc = note.desc;
        size_t descsz = note.descsz;
        uint32_t type = note.type;
        bool core_note = note.namesz == 5 && !memcmp(note.name, "CORE", 5);
        if (core_note && type == NT_PRSTATUS) {
            if (core_thread(t, &tcap, desc, descsz, h.wide) < 0) {
                lts_fail(err, "out of memory");
                goto out;
            }
        } else if (core_note && type == NT_PRPSINFO) {
            size_t pid_at = h.wide ? 24 : 12, fname_at = h.wide ? 40 : 28;
            if (descsz >= fname_at + 16) {
                memcpy(&psinfo_pid, desc + pid_at, 4);
                memcpy(t->name, desc + fname_at, 16);
                t->name[16] = '\0';
            }
        } else if (core_note && type == NT_FILE && !files) {
            if (core_files(desc, descsz, h.wide, &files, &nfiles) < 0) {
                lts_fail(err, "out of memory");
                goto out;
            }
        } else if (core_note && type == NT_AUXV) {
            size_t word = h.wide ? 8 : 4;
            for (size_t i = 0; (i + 2) * word <= descsz; i += 2)
                if (note_word(desc, i, h.wide) == AT_PHDR)
                    at_phdr = note_word(desc, i + 1, h.wide);
        }
    }
    if (walk.damaged) {
        lts_fail(err, "%s: a note at byte %zu runs past the notes' end", path, walk.at);
        goto out;
    }
    if (t->nthreads == 0) {
        lts_fail(err, "%s: a core file without a thread (no NT_PRSTATUS note)", path);
        goto out;
    }
    t->pid = psinfo_pid ? psinfo_pid : t->threads[0].tid;
    for (size_t i = 1; i < t->nthreads; i++) /* the main thread first */
        if (t->threads[i].tid == t->pid) {
            struct target_thread main = t->threads[i];
            memmove(t->threads + 1, t->threads, i * sizeof(*t->threads));
            t->threads[0] = main;
        }

    /* Names for the file-backed segments; the executable is the file holding AT_PHDR. */
    /* --exe: the executable (the file holding AT_PHDR) is read from there instead */
    const char *exe_name = NULL;
    for (size_t i = 0; i < nfiles; i++)
        if (files[i].name && at_phdr >= files[i].start && at_phdr < files[i].end)
            exe_name = files[i].name;
    for (size_t i = 0; exe && exe_name && i < nfiles; i++)
        if (files[i].name && !strcmp(files[i].name, exe_name))
            files[i].name = exe;
    bool libc = false;
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i].name)
            continue;
        const char *base = strrchr(files[i].name, '/');
        base = base ? base + 1 : files[i].name;
        if (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5))
            libc = true;
        if (!t->exe && !exe && at_phdr >= files[i].start && at_phdr < files[i].end)
            t->exe = strdup(files[i].name);
        for (size_t j = 0; j < t->nmaps; j++) {
            struct target_map *m = &t->maps[j];
            if (m->path || m->start < files[i].start || m->end > files[i].end)
                continue;
            m->path = strdup(files[i].name);
            m->offset = files[i].offset + (m->start - files[i].start);
            m->kind = TARGET_MAP_FILE;
        }
    }
    /* Files the core has no memory of (code is not dumped) are still mappings: their
     * permissions from the file's program headers. */
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i].name || target_map_at(t, files[i].start))
            continue;
        struct target_map fm = {.start = files[i].start,
                                .end = files[i].end,
                                .offset = files[i].offset,
                                .kind = TARGET_MAP_FILE};
        memcpy(fm.perms, "r--p", 4);
        if (file_segment_executable(files[i].name, files[i].offset))
            fm.perms[2] = 'x';
        if (!(fm.path = strdup(files[i].name)) || target_push_map(t, &mcap, &fm) < 0) {
            free(fm.path);
            lts_fail(err, "out of memory");
            goto out;
        }
        t->vm_size += fm.end - fm.start;
    }
    target_sort_maps(t);
    if (exe)
        t->exe = strdup(exe);
    if (nfiles && !libc) {
        lts_fail(err,
                 "%s: a core of a static executable: malloc is linked into it, where "
                 "leaktag-scan cannot find glibc's arenas without its symbols",
                 path);
        goto out;
    }
    /* The main thread's stack is the one mapping a core does not name. */
    struct target_map *m = target_map_at(t, t->threads[0].sp);
    if (m && !m->path)
        m->kind = TARGET_MAP_STACK;
    target_place_stacks(t);
    rc = 0;
out:
    elfhdr_headers_free(&h);
    free(notes);
    free(files);
    return rc;
}

static size_t core_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct target_private *p = t->priv;
    size_t done = 0;
    while (done < len) {
        uint64_t a = addr + done;
        size_t lo = 0, hi = p->nsegments;
        const struct target_segment *s = NULL;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (a < p->segments[mid].vaddr)
                hi = mid;
            else if (a >= p->segments[mid].vaddr + p->segments[mid].memsz)
                lo = mid + 1;
            else {
                s = &p->segments[mid];
                break;
            }
        }
        if (!s || a - s->vaddr >= s->filesz)
            break;
        size_t n = len - done;
        if (n > s->filesz - (a - s->vaddr))
            n = (size_t)(s->filesz - (a - s->vaddr));
        ssize_t r = pread(p->core_fd, (uint8_t *)buf + done, n,
                          (off_t)(s->offset + (a - s->vaddr)));
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    return done;
}

int target_core_open(const char *path, const char *exe, struct target **out, struct lts_error *err)
{
    *out = NULL;
    struct target *t = target_new(path);
    if (!t)
        return lts_fail(err, "out of memory");
    return target_hand_out(t, fill(t, path, exe, err), out);
}
