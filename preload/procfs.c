/* procfs.c — small /proc/self readers for snapshots: status fields, the smaps mapping list
 * (what pmap -x shows), the process start time. Raw syscalls into caller buffers only. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"

/* read(2) that a signal does not cut short. */
static ssize_t read_some(int fd, char *buf, size_t n)
{
    ssize_t got;
    do
        got = read(fd, buf, n);
    while (got < 0 && errno == EINTR);
    return got;
}

ssize_t lt_proc_read(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    ssize_t n = 0;
    while (len + 1 < size && (n = read_some(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    int read_errno = n < 0 ? errno : 0; /* a failed read is not an empty file */
    close(fd);
    buf[len] = '\0';
    return read_errno ? -read_errno : (ssize_t)len;
}

static uint64_t parse_uint(const char **p)
{
    uint64_t v = 0;
    while (**p == ' ' || **p == '\t')
        (*p)++;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (uint64_t)(*(*p)++ - '0');
    return v;
}

static uint64_t parse_hex(const char **p)
{
    uint64_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uint64_t)(c - 'a' + 10);
        else
            return v;
    }
}

/* "Name:   1234 kB" lines: returns the value in bytes if `line` starts with `key`. */
static int field_kb(const char *line, const char *key, uint64_t *out)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n))
        return 0;
    const char *p = line + n;
    *out = parse_uint(&p) * 1024;
    return 1;
}

int lt_proc_status(struct lt_proc_status *out)
{
    char buf[4096];
    memset(out, 0, sizeof(*out));
    ssize_t n = lt_proc_read("/proc/self/status", buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    for (char *line = buf; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        const char *p;
        if (field_kb(line, "VmSize:", &out->vm_size) || field_kb(line, "VmPeak:", &out->vm_peak) ||
            field_kb(line, "VmRSS:", &out->vm_rss) || field_kb(line, "VmHWM:", &out->vm_hwm) ||
            field_kb(line, "RssAnon:", &out->rss_anon) ||
            field_kb(line, "RssFile:", &out->rss_file) ||
            field_kb(line, "VmStk:", &out->vm_stack) || field_kb(line, "VmData:", &out->vm_data))
            ;
        else if (!strncmp(line, "Threads:", 8) && (p = line + 8))
            out->threads = parse_uint(&p);
        line = next;
    }
    return 0;
}

/* Header line: "start-end perms offset dev inode   path". */
static int parse_map_header(char *line, struct lt_proc_map *m)
{
    const char *p = line;
    m->start = parse_hex(&p);
    if (*p++ != '-')
        return 0;
    m->end = parse_hex(&p);
    if (*p++ != ' ')
        return 0;
    memcpy(m->perms, p, 4);
    m->perms[4] = '\0';
    p += 4;
    if (*p++ != ' ')
        return 0;
    m->offset = parse_hex(&p);
    while (*p == ' ')
        p++;
    while (*p && *p != ' ') /* dev */
        p++;
    m->inode = parse_uint(&p);
    while (*p == ' ')
        p++;
    m->path = p;
    m->rss = m->private_dirty = m->swap = m->anonymous = 0;
    return 1;
}

int lt_proc_maps(lt_proc_map_fn fn, void *ctx, char *buf, size_t size)
{
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct lt_proc_map m;
    int have = 0;
    char path[4096];
    size_t len = 0;
    for (ssize_t n; (n = read_some(fd, buf + len, size - 1 - len)) > 0;) {
        len += (size_t)n;
        buf[len] = '\0';
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', (size_t)(buf + len - line)))) {
            *nl = '\0';
            /* Field lines start with a capital letter; mapping headers with a hex digit. */
            if ((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')) {
                if (have)
                    fn(&m, ctx);
                have = parse_map_header(line, &m);
                if (have) {
                    size_t plen = strlen(m.path);
                    plen = lt_min(plen, sizeof(path) - 1);
                    memcpy(path, m.path, plen);
                    path[plen] = '\0';
                    m.path = path;
                }
            } else if (have) {
                if (!field_kb(line, "Rss:", &m.rss) &&
                    !field_kb(line, "Private_Dirty:", &m.private_dirty) &&
                    !field_kb(line, "Swap:", &m.swap))
                    field_kb(line, "Anonymous:", &m.anonymous);
            }
            line = nl + 1;
        }
        len = (size_t)(buf + len - line);
        memmove(buf, line, len);
        if (len == size - 1)
            len = 0; /* a line longer than the buffer: drop it */
    }
    close(fd);
    if (have)
        fn(&m, ctx);
    return 0;
}

uint64_t lt_proc_start_time_ns(void)
{
    char buf[1024];
    if (lt_proc_read("/proc/self/stat", buf, sizeof(buf)) <= 0)
        return 0;
    /* Field 22 (starttime, clock ticks since boot) counts from after the ")" of comm. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p += 2;
    for (int field = 3; field < 22 && *p; p++)
        if (*p == ' ')
            field++;
    uint64_t ticks = parse_uint(&p);
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return 0;
    /* Boot time as wall-clock time = now minus time since boot (what /proc/stat's btime
     * says, without reading a file whose per-CPU and interrupt lines can run to megabytes
     * on a large machine before btime comes). */
    struct timespec real, boot;
    if (clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
        return 0;
    int64_t boot_ns = ((int64_t)real.tv_sec - boot.tv_sec) * 1000000000ll +
                      (real.tv_nsec - boot.tv_nsec);
    return (uint64_t)boot_ns + ticks * (1000000000ull / (uint64_t)hz);
}

int lt_proc_live_threads(void)
{
    int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    char entries[4096];
    int live = 0;
    for (long n; (n = syscall(SYS_getdents64, dir, entries, sizeof(entries))) > 0;) {
        for (long at = 0; at < n;) {
            const struct dirent64 *e = (const struct dirent64 *)(entries + at);
            at += e->d_reclen;
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            char path[64], stat[512];
            lt_format(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
            if (lt_proc_read(path, stat, sizeof(stat)) <= 0)
                continue; /* gone meanwhile */
            /* The state follows the ")" that ends the name: Z and X are threads that ended
             * (a group leader that called pthread_exit stays a zombie until the last). */
            const char *paren = strrchr(stat, ')');
            if (paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X')
                live++;
        }
    }
    close(dir);
    return live;
}
