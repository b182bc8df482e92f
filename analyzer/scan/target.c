/* target.c — a live process through /proc and process_vm_readv, or a core file through its
 * program headers and notes; both end up as the same mappings, threads and reads. Nothing
 * here writes to a live target: the one thing done to it is --freeze's ptrace stop, which
 * the kernel undoes by itself should this program die.
 *
 * A live target: /proc/PID/maps; RSS and swap from /proc/PID/pagemap, which the kernel
 * walks 2 MiB at a time, zero pages left out (smaps would hold the target's mmap lock across
 * a whole heap); threads and their stack pointers from /proc/PID/task/TID/syscall; reads of
 * present pages only, so that no zero page gets mapped into it; --freeze: PTRACE_SEIZE and
 * PTRACE_INTERRUPT. A core: PT_LOAD, NT_PRSTATUS, NT_PRPSINFO, NT_FILE and NT_AUXV, checked
 * against the file's size. A refused read says why: another uid, no CAP_SYS_PTRACE, Yama, not
 * dumpable. */
#include "target.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "elfhdr.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

struct segment {
    uint64_t vaddr, memsz, offset, filesz;
};

struct target_private {
    int mem_fd;               /* live: /proc/PID/mem, when process_vm_readv is refused */
    int pagemap_fd;           /* live: /proc/PID/pagemap, which pages are there to read */
    uint64_t zero_pfn[2];     /* the zero page and the huge zero page (512 frames), when the
                                 kernel shows frame numbers (root); 0 unknown */
    int core_fd;              /* core: the file */
    struct segment *segments; /* core: PT_LOAD, by address */
    size_t nsegments;
    int *frozen; /* --freeze: the tids seized */
    size_t nfrozen;
};

double target_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- small helpers ------------------------------------------------------------------------ */

/* elfhdr_read_fn over a file descriptor. */
static size_t read_fd(void *ctx, uint64_t offset, void *buf, size_t len)
{
    ssize_t n = pread(*(const int *)ctx, buf, len, (off_t)offset);
    return n > 0 ? (size_t)n : 0;
}

/* The whole of a small /proc file into buf (NUL-terminated); its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static uint64_t address_space_for(unsigned pointer_bytes)
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

static void free_maps(struct target *t)
{
    for (size_t i = 0; i < t->nmaps; i++)
        free(t->maps[i].path);
    free(t->maps);
    t->maps = NULL;
    t->nmaps = 0;
}

static int push_map(struct target *t, size_t *cap, const struct target_map *m)
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
static void place_stacks(struct target *t)
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

static enum target_map_kind kind_of(const char *path, const char *perms)
{
    if (!path)
        return strncmp(perms, "---", 3) ? TARGET_MAP_ANON : TARGET_MAP_GUARD;
    if (!strcmp(path, "[heap]"))
        return TARGET_MAP_HEAP;
    if (!strcmp(path, "[stack]"))
        return TARGET_MAP_STACK;
    if (path[0] == '[')
        return TARGET_MAP_SPECIAL;
    return TARGET_MAP_FILE;
}

/* ---- why a live process may not be read ------------------------------------------------- */

void target_explain_refusal(char *buf, size_t size, pid_t pid, uid_t owner, uid_t self,
                            bool cap_ptrace, int yama)
{
    if (owner != self && !cap_ptrace) {
        struct passwd *pw = getpwuid(owner);
        if (self == 0)
            snprintf(buf, size,
                     "pid %d runs as %s (uid %u) and this scan lacks CAP_SYS_PTRACE, which "
                     "reading another user's memory needs (a container or a capability "
                     "bounding set dropped it)",
                     (int)pid, pw ? pw->pw_name : "another user", (unsigned)owner);
        else
            snprintf(buf, size,
                     "pid %d runs as %s (uid %u), not as you (uid %u): scan it as that user, "
                     "or as root (CAP_SYS_PTRACE)",
                     (int)pid, pw ? pw->pw_name : "another user", (unsigned)owner, (unsigned)self);
        return;
    }
    if (yama >= 1 && !cap_ptrace) {
        snprintf(buf, size, "%s",
                 yama == 1   ? "kernel.yama.ptrace_scope is 1: only a process's ancestors may read "
                               "its memory; run the scan as root (CAP_SYS_PTRACE) or set "
                               "kernel.yama.ptrace_scope=0"
                 : yama == 2 ? "kernel.yama.ptrace_scope is 2: only CAP_SYS_PTRACE may read "
                               "another process's memory; run the scan as root"
                             : "kernel.yama.ptrace_scope is 3: no process may read another's "
                               "memory until the next boot");
        return;
    }
    if (yama == 3) {
        snprintf(buf, size,
                 "kernel.yama.ptrace_scope is 3: no process may read another's "
                 "memory until the next boot");
        return;
    }
    snprintf(buf, size,
             "pid %d is not dumpable (a setuid program, or prctl(PR_SET_DUMPABLE, 0)): only "
             "root with CAP_SYS_PTRACE may read its memory",
             (int)pid);
}

static bool have_cap_ptrace(void)
{
    char buf[4096];
    if (read_small("/proc/self/status", buf, sizeof(buf)) < 0)
        return false;
    const char *p = strstr(buf, "\nCapEff:");
    unsigned long long caps = p ? strtoull(p + 8, NULL, 16) : 0;
    return (caps >> 19) & 1; /* CAP_SYS_PTRACE */
}

static int refusal(struct target *t, struct lts_error *err)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)t->pid);
    uid_t owner = geteuid();
    if (read_small(path, buf, sizeof(buf)) > 0) {
        const char *p = strstr(buf, "\nUid:");
        if (p) {
            unsigned real, effective;
            if (sscanf(p + 5, "%u %u", &real, &effective) == 2)
                owner = effective;
        }
    }
    int yama = -1;
    if (read_small("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) > 0)
        yama = atoi(buf);
    char why[400];
    target_explain_refusal(why, sizeof(why), t->pid, owner, geteuid(), have_cap_ptrace(), yama);
    return lts_fail(err, "%s: no permission: %s", t->source, why);
}

/* ---- a live process ---------------------------------------------------------------------- */

static bool live_alive(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return false;
    const char *p = strrchr(buf, ')'); /* the state follows the name, which may hold ')' */
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int gone(struct target *t, struct lts_error *err)
{
    t->gone = true;
    return lts_fail(err, "%s exited during the scan", t->source);
}

#define PFN_MASK ((1ull << 55) - 1)

/* The frame of the zero page, and of the huge zero page, as this process's own read faults
 * map them: a page of the target mapped to one holds no memory (a reader such as gdb put it
 * there), and smaps would not count it. 0 when frames are hidden (not root). */
static uint64_t frame_of(int pagemap, const volatile uint8_t *page)
{
    uint8_t sink = *page; /* a read fault: the zero page (or the huge one) is mapped there */
    (void)sink;
    uint64_t e;
    if (pread(pagemap, &e, 8, (off_t)((uintptr_t)page / 4096 * 8)) != 8 || !(e >> 63))
        return 0;
    return e & PFN_MASK;
}

static void find_zero_frames(struct target_private *p)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    uint8_t *small = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (small != MAP_FAILED) {
        madvise(small, 4096, MADV_NOHUGEPAGE);
        p->zero_pfn[0] = frame_of(fd, small);
        munmap(small, 4096);
    }
    size_t span = 4u << 20, huge_size = 2u << 20;
    uint8_t *m = mmap(NULL, span, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) {
        uint8_t *huge = (uint8_t *)(((uintptr_t)m + huge_size - 1) & ~(uintptr_t)(huge_size - 1));
        madvise(huge, huge_size, MADV_HUGEPAGE);
        uint64_t pfn = frame_of(fd, huge + 4096);
        if (pfn && pfn != p->zero_pfn[0])
            p->zero_pfn[1] = pfn & ~511ull;
        munmap(m, span);
    }
    close(fd);
}

/* Is the page of pagemap entry e backed by memory (present and not a zero page, or swapped)? */
static bool backed(const struct target_private *p, uint64_t e)
{
    if (e >> 62 == 1) /* swapped */
        return true;
    if (!(e >> 63))
        return false;
    uint64_t pfn = e & PFN_MASK;
    return !pfn || (pfn != p->zero_pfn[0] && !(p->zero_pfn[1] && pfn - p->zero_pfn[1] < 512));
}

/* Resident and swapped bytes of each mapping, from /proc/PID/pagemap: the kernel walks it
 * 2 MiB at a time and lets the target's own mmap calls in between, where /proc/PID/smaps
 * holds the target's mmap lock across a whole mapping (tens of milliseconds for a heap of
 * gigabytes: a server that grows its heap waits that long, each time). */
#define UNMEASURED_ABOVE (64ull << 30)

static void live_read_rss(struct target *t)
{
    t->unmeasured_maps = 0;
    int fd = t->priv->pagemap_fd;
    if (fd < 0)
        return;
    enum { ENTRIES = 8192 };
    uint64_t *entries = malloc(ENTRIES * sizeof(*entries));
    for (size_t i = 0; entries && i < t->nmaps; i++) {
        struct target_map *m = &t->maps[i];
        if (m->kind == TARGET_MAP_GUARD || m->kind == TARGET_MAP_SPECIAL)
            continue;
        if (m->end - m->start > UNMEASURED_ABOVE) { /* a sanitizer's shadow, a VM's arena */
            t->unmeasured_maps++;
            continue;
        }
        for (uint64_t page = m->start / 4096; page < m->end / 4096;) {
            size_t n = (size_t)(m->end / 4096 - page < ENTRIES ? m->end / 4096 - page : ENTRIES);
            ssize_t got = pread(fd, entries, n * sizeof(*entries), (off_t)(page * 8));
            if (got <= 0)
                break;
            for (size_t k = 0; k < (size_t)got / 8; k++) {
                m->rss += entries[k] >> 63 && backed(t->priv, entries[k]) ? 4096 : 0;
                m->swapped += entries[k] >> 62 == 1 ? 4096 : 0;
            }
            page += (uint64_t)got / 8;
        }
    }
    free(entries);
}

/* /proc/PID/maps: every mapping (not smaps: see live_read_rss). */
static int live_read_maps(struct target *t, struct lts_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? gone(t, err)
               : errno == EACCES || errno == EPERM
                   ? refusal(t, err)
                   : lts_fail(err, "%s: %s: %s", t->source, path, strerror(errno));
    free_maps(t);
    size_t cap = 0;
    char line[4352];
    t->vm_size = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, end, offset;
        char perms[8];
        int name_at = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &name_at) <
                4 ||
            name_at <= 0)
            continue;
        chomp(line);
        struct target_map m = {.start = start, .end = end, .offset = offset};
        memcpy(m.perms, perms, 4);
        const char *name = line + name_at;
        if (*name && !(m.path = strdup(name)))
            goto oom;
        m.kind = kind_of(m.path, m.perms);
        if (push_map(t, &cap, &m) < 0) {
            free(m.path);
            goto oom;
        }
        t->vm_size += end - start;
    }
    fclose(f);
    if (t->nmaps == 0)
        return live_alive(t->pid) ? lts_fail(err, "%s: no mappings in %s", t->source, path)
                                  : gone(t, err);
    live_read_rss(t);
    qsort(t->maps, t->nmaps, sizeof(*t->maps), compare_maps);
    return 0;
oom:
    fclose(f);
    return lts_fail(err, "out of memory");
}

static int compare_threads(const void *a, const void *b)
{
    const struct target_thread *x = a, *y = b;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* /proc/PID/syscall ends in "SP PC" whenever the thread is not on a CPU. */
static uint64_t live_thread_sp(pid_t pid, int tid)
{
    char path[80], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, tid);
    if (read_small(path, buf, sizeof(buf)) <= 0 || !strncmp(buf, "running", 7))
        return 0;
    char *words[10];
    size_t n = 0;
    for (char *save, *w = strtok_r(buf, " \n", &save); w && n < 10;
         w = strtok_r(NULL, " \n", &save))
        words[n++] = w;
    return n >= 3 ? strtoull(words[n - 2], NULL, 16) : 0;
}

static int live_read_threads(struct target *t, struct lts_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
    DIR *d = opendir(path);
    if (!d)
        return gone(t, err);
    size_t cap = 0, n = 0;
    struct target_thread *threads = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        int tid = atoi(e->d_name);
        if (tid <= 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct target_thread *nt = realloc(threads, ncap * sizeof(*nt));
            if (!nt) {
                closedir(d);
                free(threads);
                return lts_fail(err, "out of memory");
            }
            threads = nt;
            cap = ncap;
        }
        struct target_thread *th = &threads[n++];
        memset(th, 0, sizeof(*th));
        th->tid = tid;
        char p2[96];
        snprintf(p2, sizeof(p2), "/proc/%d/task/%d/comm", (int)t->pid, tid);
        if (read_small(p2, th->name, sizeof(th->name)) > 0)
            chomp(th->name);
        th->sp = live_thread_sp(t->pid, tid);
    }
    closedir(d);
    if (n == 0) {
        free(threads);
        return gone(t, err);
    }
    qsort(threads, n, sizeof(*threads), compare_threads);
    for (size_t i = 0; i < n; i++) /* the main thread (tid = pid) first */
        if (threads[i].tid == t->pid && i) {
            struct target_thread main = threads[i];
            memmove(threads + 1, threads, i * sizeof(*threads));
            threads[0] = main;
        }
    free(t->threads);
    t->threads = threads;
    t->nthreads = n;
    place_stacks(t);
    return 0;
}

/* The executable's word size, and whether it has an interpreter (a dynamic one does). */
static int live_read_exe(struct target *t, bool *dynamic, struct lts_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)t->pid);
    char target_path[4096];
    ssize_t n = readlink(path, target_path, sizeof(target_path) - 1);
    if (n > 0) {
        target_path[n] = '\0';
        t->exe = strdup(target_path);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? gone(t, err) : refusal(t, err);
    struct elfhdr_headers h;
    enum elfhdr_error e = elfhdr_read(read_fd, &fd, 256, &h);
    int rc = -1;
    *dynamic = false;
    if (e == ELFHDR_NOT_ELF) {
        lts_fail(err, "%s: its executable %s is not ELF", t->source, t->exe ? t->exe : path);
        goto out;
    }
    if (e == ELFHDR_NOT_32_OR_64 || e == ELFHDR_SHORT_HEADER) {
        lts_fail(err, "%s: its executable is neither ELF32 nor ELF64", t->source);
        goto out;
    }
    t->pointer_bytes = h.wide ? 8 : 4;
    for (unsigned i = 0; e == ELFHDR_OK && i < h.nsegments; i++)
        if (h.segments[i].type == PT_INTERP)
            *dynamic = true;
    rc = 0;
out:
    elfhdr_headers_free(&h);
    close(fd);
    return rc;
}

static void live_read_limits(struct target *t)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)t->pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return;
    const char *p = strstr(buf, "Max stack size");
    if (!p)
        return;
    p += strlen("Max stack size");
    while (*p == ' ')
        p++;
    t->stack_rlimit = !strncmp(p, "unlimited", 9) ? UINT64_MAX : strtoull(p, NULL, 10);
}

static int open_live(struct target *t, pid_t pid, struct lts_error *err)
{
    t->pid = pid;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    struct stat st;
    if (stat(path, &st) < 0 || !live_alive(pid))
        return lts_fail(err, "%s: no such process", t->source);
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    if (read_small(path, t->name, sizeof(t->name)) > 0)
        chomp(t->name);
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    t->priv->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->priv->mem_fd < 0)
        return errno == ENOENT ? lts_fail(err, "%s: no such process", t->source) : refusal(t, err);
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
    t->priv->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
    find_zero_frames(t->priv);
    bool dynamic;
    if (live_read_exe(t, &dynamic, err) < 0)
        return -1;
    if (!dynamic)
        return lts_fail(err,
                        "%s (%s): a static executable: malloc is linked into it, where "
                        "leaktag-scan cannot find glibc's arenas without its symbols",
                        t->source, t->name);
    t->address_space = address_space_for(t->pointer_bytes);
    live_read_limits(t);
    if (live_read_maps(t, err) < 0 || live_read_threads(t, err) < 0)
        return -1;
    return 0;
}

int target_refresh(struct target *t, struct lts_error *err)
{
    if (t->is_core)
        return 0;
    if (!live_alive(t->pid))
        return gone(t, err);
    if (live_read_maps(t, err) < 0 || live_read_threads(t, err) < 0)
        return -1;
    return 0;
}

/* ---- a core file ------------------------------------------------------------------------- */

static int compare_segments(const void *a, const void *b)
{
    const struct segment *x = a, *y = b;
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
    bool x = false;
    if (elfhdr_read(read_fd, &fd, 256, &h) == ELFHDR_OK)
        for (unsigned i = 0; i < h.nsegments && !x; i++) {
            const struct elfhdr_segment *p = &h.segments[i];
            x = p->type == PT_LOAD && (p->flags & PF_X) &&
                offset >= (p->offset & ~(uint64_t)4095) && offset < p->offset + p->filesz;
        }
    elfhdr_headers_free(&h);
    close(fd);
    return x;
}

static int open_core(struct target *t, const char *path, const char *exe, struct lts_error *err)
{
    t->is_core = true;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lts_fail(err, "%s: %s", path, strerror(errno));
    t->priv->core_fd = fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return lts_fail(err, "%s: not a pid, nor a core file", path);
    struct elfhdr_headers h;
    switch (elfhdr_read(read_fd, &fd, UINT32_MAX, &h)) {
    case ELFHDR_OK: break;
    case ELFHDR_NOT_ELF:
        elfhdr_headers_free(&h);
        return lts_fail(err, "%s: not a pid, nor an ELF core file", path);
    case ELFHDR_NOT_32_OR_64: return lts_fail(err, "%s: neither ELF32 nor ELF64", path);
    case ELFHDR_SHORT_HEADER:
        return lts_fail(err, "%s: truncated core file: no complete ELF header", path);
    case ELFHDR_BAD_PHENTSIZE:
        return lts_fail(err, "%s: program headers of %u bytes, not %zu", path, h.phentsize,
                        h.wide ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr));
    case ELFHDR_NO_MEMORY: elfhdr_headers_free(&h); return lts_fail(err, "out of memory");
    case ELFHDR_SHORT_SEGMENTS: break; /* said below */
    }
    if (h.type != ET_CORE) {
        elfhdr_headers_free(&h);
        return lts_fail(err,
                        "%s: an ELF file, but not a core (give a pid, or a core from gcore "
                        "or the kernel)",
                        path);
    }
    t->pointer_bytes = h.wide ? 8 : 4;
    t->address_space = address_space_for(t->pointer_bytes);

    /* Program headers: the memory (PT_LOAD) and the notes. */
    uint64_t phbytes = (uint64_t)h.phnum * h.phentsize;
    if (h.phnum == 0 || h.nsegments < h.phnum || h.phoff + phbytes > (uint64_t)st.st_size) {
        elfhdr_headers_free(&h);
        return lts_fail(err,
                        "%s: truncated core file: its program headers end at byte %" PRIu64
                        ", the file at %" PRIu64,
                        path, h.phoff + phbytes, (uint64_t)st.st_size);
    }
    t->priv->segments = calloc(h.phnum, sizeof(struct segment));
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
            t->priv->segments[t->priv->nsegments++] = (struct segment){
                vaddr, memsz, offset, filesz < memsz ? filesz : memsz};
            struct target_map m = {.start = vaddr, .end = vaddr + memsz, .rss = filesz};
            m.perms[0] = flags & PF_R ? 'r' : '-';
            m.perms[1] = flags & PF_W ? 'w' : '-';
            m.perms[2] = flags & PF_X ? 'x' : '-';
            m.perms[3] = 'p';
            m.kind = flags & (PF_R | PF_W | PF_X) ? TARGET_MAP_ANON : TARGET_MAP_GUARD;
            if (push_map(t, &mcap, &m) < 0) {
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
    qsort(t->priv->segments, t->priv->nsegments, sizeof(struct segment), compare_segments);
    qsort(t->maps, t->nmaps, sizeof(*t->maps), compare_maps);

    /* Notes: threads (NT_PRSTATUS), the name (NT_PRPSINFO), the mapped files (NT_FILE). */
    size_t tcap = 0;
    int psinfo_pid = 0;
    uint64_t at_phdr = 0;
    struct elfhdr_note note;
    size_t at = 0;
    int more;
    while ((more = elfhdr_next_note(notes, notes_size, &at, &note)) != 0) {
        if (more < 0) {
            lts_fail(err, "%s: a note at byte %zu runs past the notes' end", path, at);
            goto out;
        }
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
        if (!(fm.path = strdup(files[i].name)) || push_map(t, &mcap, &fm) < 0) {
            free(fm.path);
            lts_fail(err, "out of memory");
            goto out;
        }
        t->vm_size += fm.end - fm.start;
    }
    qsort(t->maps, t->nmaps, sizeof(*t->maps), compare_maps);
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
    place_stacks(t);
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
        const struct segment *s = NULL;
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

/* ---- both --------------------------------------------------------------------------------- */

int target_open(const char *what, const char *exe, struct target **out, struct lts_error *err)
{
    *out = NULL;
    struct target *t = calloc(1, sizeof(*t));
    if (t)
        t->priv = calloc(1, sizeof(*t->priv));
    if (!t || !t->priv) {
        free(t);
        return lts_fail(err, "out of memory");
    }
    t->priv->mem_fd = -1;
    t->priv->pagemap_fd = -1;
    t->priv->core_fd = -1;
    size_t digits = strspn(what, "0123456789");
    int rc;
    if (what[0] && !what[digits] && digits < 10) {
        char source[32];
        snprintf(source, sizeof(source), "pid %s", what);
        t->source = strdup(source);
        rc = t->source ? open_live(t, (pid_t)atoi(what), err) : lts_fail(err, "out of memory");
    } else {
        t->source = strdup(what);
        rc = t->source ? open_core(t, what, exe, err) : lts_fail(err, "out of memory");
    }
    if (rc < 0) {
        target_close(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* process_vm_readv of a range, or as much of it as is mapped. */
static size_t live_read_raw(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
    if (n >= 0)
        return (size_t)n;
    if (errno == ESRCH) {
        t->gone = true;
        return 0;
    }
    if (errno == EFAULT || errno == EIO || errno == ENOMEM) {
        /* A transfer never splits a remote iovec: page by page, it stops where the
         * mapping does and says how far it got. */
        enum { PAGES = 256 };
        struct iovec pages[PAGES];
        size_t done = 0;
        while (done < len) {
            size_t npages = 0, want = 0;
            uint64_t at = addr + done;
            while (npages < PAGES && done + want < len) {
                size_t piece = 4096 - (size_t)((at + want) & 4095);
                if (piece > len - done - want)
                    piece = len - done - want;
                pages[npages++] = (struct iovec){(void *)(uintptr_t)(at + want), piece};
                want += piece;
            }
            struct iovec into = {(uint8_t *)buf + done, want};
            ssize_t got = process_vm_readv(t->pid, &into, 1, pages, npages, 0);
            if (got <= 0) {
                if (got < 0 && errno == ESRCH)
                    t->gone = true;
                break;
            }
            done += (size_t)got;
            if ((size_t)got < want)
                break;
        }
        return done;
    }
    /* process_vm_readv refused (a kernel without it): /proc/PID/mem */
    n = pread(t->priv->mem_fd, buf, len, (off_t)addr);
    if (n < 0 && !live_alive(t->pid))
        t->gone = true;
    return n > 0 ? (size_t)n : 0;
}

/* Pages the target never touched are not read: a read would map the zero page into its page
 * tables (a scan leaves them as it found them), and they hold zeros anyway. Which pages are
 * there, from /proc/PID/pagemap (present or swapped); a page there is none of, in a mapping,
 * reads as zeros; outside any mapping known, the read ends. */
#define READ_PIECE (256u << 10)

static size_t live_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    int fd = t->priv->pagemap_fd;
    if (fd < 0 || len == 0)
        return live_read_raw(t, addr, buf, len);
    enum { ENTRIES = 1024 };
    uint64_t entries[ENTRIES];
    size_t done = 0;
    while (done < len) {
        uint64_t first = (addr + done) / 4096, last = (addr + len - 1) / 4096;
        size_t n = (size_t)(last - first + 1 < ENTRIES ? last - first + 1 : ENTRIES);
        ssize_t got = pread(fd, entries, n * sizeof(*entries), (off_t)(first * 8));
        if (got < (ssize_t)sizeof(*entries))
            return done + live_read_raw(t, addr + done, (uint8_t *)buf + done, len - done);
        n = (size_t)got / 8;
        for (size_t i = 0; i < n && done < len;) {
            bool there = backed(t->priv, entries[i]);
            size_t j = i + 1;
            while (j < n && backed(t->priv, entries[j]) == there)
                j++;
            uint64_t end = (first + j) * 4096;
            size_t piece = (size_t)((end < addr + len ? end : addr + len) - (addr + done));
            if (there) {
                /* each call holds the target's mmap lock while it pins the pages: a
                 * small piece keeps the target's own brk/mmap from waiting long */
                size_t r = 0;
                while (r < piece) {
                    size_t want = piece - r < READ_PIECE ? piece - r : READ_PIECE;
                    size_t got_now = live_read_raw(t, addr + done + r, (uint8_t *)buf + done + r,
                                                   want);
                    r += got_now;
                    if (got_now < want)
                        break;
                }
                done += r;
                if (r < piece)
                    return done;
            } else {
                if (!target_map_at(t, addr + done) || !target_map_at(t, addr + done + piece - 1))
                    return done;
                memset((uint8_t *)buf + done, 0, piece);
                done += piece;
            }
            i = j;
        }
    }
    return done;
}

size_t target_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    if (t->is_core)
        return core_read(t, addr, buf, len);
    if (t->gone)
        return 0;
    return live_read(t, addr, buf, len);
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

/* ---- --freeze ----------------------------------------------------------------------------- */

static bool frozen_has(const struct target_private *p, int tid)
{
    for (size_t i = 0; i < p->nfrozen; i++)
        if (p->frozen[i] == tid)
            return true;
    return false;
}

int target_freeze(struct target *t, struct lts_error *err)
{
    if (t->is_core)
        return 0;
    struct target_private *p = t->priv;
    /* Threads started while the others were being stopped: list again until none is new. */
    for (int round = 0; round < 100; round++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
        DIR *d = opendir(path);
        if (!d)
            return gone(t, err);
        size_t fresh = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            int tid = atoi(e->d_name);
            if (tid <= 0 || frozen_has(p, tid))
                continue;
            int *n = realloc(p->frozen, (p->nfrozen + 1) * sizeof(*n));
            if (!n) {
                closedir(d);
                return lts_fail(err, "out of memory");
            }
            p->frozen = n;
            if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
                if (errno == ESRCH) /* it ended meanwhile */
                    continue;
                int e2 = errno;
                closedir(d);
                return lts_fail(err, "%s: --freeze: cannot seize thread %d: %s", t->source, tid,
                                strerror(e2));
            }
            p->frozen[p->nfrozen++] = tid;
            fresh++;
            if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
                int status;
                while (waitpid(tid, &status, __WALL) < 0 && errno == EINTR) {
                }
            }
        }
        closedir(d);
        if (fresh == 0)
            break;
    }
    if (p->nfrozen == 0)
        return gone(t, err);
    /* The mappings as they are now, and every stopped thread's stack pointer. */
    if (live_read_maps(t, err) < 0)
        return -1;
    return live_read_threads(t, err);
}

void target_thaw(struct target *t)
{
    struct target_private *p = t->priv;
    for (size_t i = 0; i < p->nfrozen; i++)
        ptrace(PTRACE_DETACH, p->frozen[i], 0, 0);
    free(p->frozen);
    p->frozen = NULL;
    p->nfrozen = 0;
}

void target_close(struct target *t)
{
    if (!t)
        return;
    if (t->priv) {
        target_thaw(t);
        if (t->priv->mem_fd >= 0)
            close(t->priv->mem_fd);
        if (t->priv->pagemap_fd >= 0)
            close(t->priv->pagemap_fd);
        if (t->priv->core_fd >= 0)
            close(t->priv->core_fd);
        free(t->priv->segments);
        free(t->priv);
    }
    free_maps(t);
    free(t->threads);
    free(t->exe);
    free(t->source);
    free(t);
}
