/* target_live.c — a live process as a target: /proc/PID/maps; RSS and swap from
 * /proc/PID/pagemap, which the kernel walks 2 MiB at a time, zero pages left out (smaps would
 * hold the target's mmap lock across a whole heap); threads and their stack pointers from
 * /proc/PID/task/TID/syscall; reads by process_vm_readv of present pages only, so that no
 * zero page gets mapped into it; --freeze: PTRACE_SEIZE and PTRACE_INTERRUPT, which the kernel
 * undoes by itself should this program die. Nothing here writes to the process. A refused
 * read says why: another uid, no CAP_SYS_PTRACE, Yama, not dumpable. */
#include "target_live.h"

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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "elfhdr.h"

static size_t live_read(struct target *t, uint64_t addr, void *buf, size_t len);

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
    target_free_maps(t);
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
        if (target_push_map(t, &cap, &m) < 0) {
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
    target_sort_maps(t);
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
    target_place_stacks(t);
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
    int rc = -1;
    *dynamic = false;
    const char *exe = t->exe ? t->exe : path;
    if (elfhdr_read(target_read_fd, &fd, 256, exe, &h, err) < 0) {
        char what[sizeof(err->message)];
        snprintf(what, sizeof(what), "%s", err->message);
        lts_fail(err, "%s: its executable %s", t->source, what);
        goto out;
    }
    t->pointer_bytes = h.wide ? 8 : 4;
    for (unsigned i = 0; i < h.nsegments; i++)
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

static int fill(struct target *t, pid_t pid, struct lts_error *err)
{
    t->priv->read = live_read;
    t->priv->release = target_thaw;
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
    t->address_space = target_address_space(t->pointer_bytes);
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

/* ---- --freeze ----------------------------------------------------------------------------- */

static bool frozen_has(const struct target_private *p, int tid)
{
    for (size_t i = 0; i < p->nfrozen; i++)
        if (p->frozen[i] == tid)
            return true;
    return false;
}

/* A stopped thread's general registers (PTRACE_GETREGSET gives the target's own layout: a
 * 32-bit process's are 4 bytes each), and its stack pointer from them. */
static void live_read_regs(struct target *t, struct target_thread *th)
{
    uint64_t raw[TARGET_REGS];
    struct iovec io = {raw, sizeof(raw)};
    if (ptrace(PTRACE_GETREGSET, th->tid, (void *)(uintptr_t)NT_PRSTATUS, &io) < 0)
        return;
    bool wide = t->pointer_bytes == 8;
    size_t word = wide ? 8 : 4, n = io.iov_len / word;
    th->nregs = 0;
    for (size_t i = 0; i < n && i < TARGET_REGS; i++) {
        uint64_t v = 0;
        memcpy(&v, (const char *)raw + i * word, word);
        th->regs[th->nregs++] = v;
    }
    size_t sp_index = wide ? 19 : 15; /* rsp; esp (UESP) */
    if (th->nregs > sp_index)
        th->sp = th->regs[sp_index];
}

/* Until tid stops for our interrupt, 3 s at most (a thread in an uninterruptible sleep stops
 * only when it leaves it: the scan gives up rather than hold the process). A signal that
 * reaches it first stops it too (a signal-delivery stop): handed back with PTRACE_CONT, else
 * detaching would drop it and the target never see a signal sent to it during the scan.
 * False only on the timeout. */
static bool wait_interrupted(int tid)
{
    double deadline = target_now() + 3;
    for (;;) {
        int status;
        pid_t got = waitpid(tid, &status, __WALL | WNOHANG);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return true; /* it ended */
        }
        if (got == 0) {
            if (target_now() > deadline)
                return false;
            struct timespec nap = {0, 200000};
            nanosleep(&nap, NULL);
            continue;
        }
        if (!WIFSTOPPED(status) || (status >> 16) == PTRACE_EVENT_STOP)
            return true;
        if (ptrace(PTRACE_CONT, tid, 0, (void *)(uintptr_t)WSTOPSIG(status)) < 0)
            return true;
    }
}

/* A thread that has ended but is not reaped yet (a group leader that called pthread_exit
 * stays a zombie until the last thread): ptrace refuses it with EPERM. */
static bool zombie(pid_t pid, int tid)
{
    char path[96], stat[512];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
    if (read_small(path, stat, sizeof(stat)) <= 0)
        return true; /* gone */
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
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
                if (errno == ESRCH || (errno == EPERM && zombie(t->pid, tid)))
                    continue; /* it ended, meanwhile or before */
                int e2 = errno;
                closedir(d);
                return lts_fail(err, "%s: --freeze: cannot seize thread %d: %s", t->source, tid,
                                strerror(e2));
            }
            p->frozen[p->nfrozen++] = tid;
            fresh++;
            if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0 && !wait_interrupted(tid)) {
                closedir(d);
                return lts_fail(err,
                                "%s: --freeze: thread %d did not stop within 3 s (in an "
                                "uninterruptible sleep?); the process runs on",
                                t->source, tid);
            }
        }
        closedir(d);
        if (fresh == 0)
            break;
    }
    if (p->nfrozen == 0)
        return gone(t, err);
    /* The mappings as they are now, and every stopped thread's registers. */
    if (live_read_maps(t, err) < 0 || live_read_threads(t, err) < 0)
        return -1;
    for (size_t i = 0; i < t->nthreads; i++)
        if (frozen_has(p, t->threads[i].tid))
            live_read_regs(t, &t->threads[i]);
    target_place_stacks(t);
    return 0;
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

int target_live_open(pid_t pid, struct target **out, struct lts_error *err)
{
    *out = NULL;
    char source[32];
    snprintf(source, sizeof(source), "pid %d", (int)pid);
    struct target *t = target_new(source);
    if (!t)
        return lts_fail(err, "out of memory");
    return target_hand_out(t, fill(t, pid, err), out);
}
