/* outfile.c — snapshot file names and the temporary-file-then-rename protocol.
 *
 * The template's %e is argv[0]'s last component as read at start-up. The temporary name,
 * ".NAME.tmp-PID-NONCE" in the same directory, carries the writer's pid, so that a later
 * snapshot removes what a killed writer left (a regular file of ours, unwritten for a minute,
 * holding a snapshot's start or nothing). An old snapshot is removed only if its name still
 * holds the file that was written (device and inode). */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compiler.h"
#include "format.h"
#include "log.h"
#include "procfs.h"

static char start_dir[LT_PATH_MAX]; /* relative templates resolve against this */
static char program[256];           /* %e */

/* The name the program was started as (argv[0]'s last component), as process lists show
 * it: Debian's redis-server is a link to redis-check-rdb, and it is redis-server to its
 * users. Read at start-up: programs rewrite argv[0] later (nginx, for its title). The
 * executable's name if argv[0] is empty. */
static void find_program_name(void)
{
    char buf[LT_PATH_MAX];
    if (lt_proc_read("/proc/self/cmdline", buf, sizeof(buf)) <= 0 || !buf[0]) {
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
    }
    const char *slash = strrchr(buf, '/');
    const char *name = slash ? slash + 1 : buf;
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof(program); i++) /* a file name: no separator in it */
        program[i] = name[i] == '/' ? '_' : name[i];
    program[i] = '\0';
}

void lt_outfile_init(void)
{
    if (!getcwd(start_dir, sizeof(start_dir)))
        start_dir[0] = '\0';
    find_program_name();
}

void lt_outfile_template(char *out, size_t size, const char *tmpl)
{
    if (tmpl[0] != '/' && start_dir[0])
        lt_format(out, size, "%s/%s", start_dir, tmpl);
    else
        lt_format(out, size, "%s", tmpl);
}

/* %p pid, %n sequence, %e executable name, %t unix time, %% percent. */
static void expand(char *out, size_t size, const char *tmpl, uint32_t seq)
{
    size_t len = 0;
    if (tmpl[0] != '/' && start_dir[0])
        len = (size_t)lt_format(out, size, "%s/", start_dir);
    for (const char *t = tmpl; *t && len + 1 < size; t++) {
        if (*t != '%' || !t[1]) {
            out[len++] = *t;
            continue;
        }
        switch (*++t) {
        case 'p': len += (size_t)lt_format(out + len, size - len, "%d", (int)getpid()); break;
        case 'n': len += (size_t)lt_format(out + len, size - len, "%u", seq); break;
        case 'e': len += (size_t)lt_format(out + len, size - len, "%s", program); break;
        case 't':
            len += (size_t)lt_format(out + len, size - len, "%lld", (long long)time(NULL));
            break;
        case '%': out[len++] = '%'; break;
        default: /* not ours: keep it as written */
            out[len++] = '%';
            if (len + 1 < size)
                out[len++] = *t;
        }
    }
    out[lt_min(len, size - 1)] = '\0';
}

/* ---- temporary files of processes killed while they wrote ------------------------------ */

#define TMP_MARK ".tmp-"
#define SWEEP_INTERVAL_S 60 /* between sweeps of a directory; also a file's minimum age */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* The pid in ".NAME.tmp-PID-NONCE" (the nonce 16 hex digits), or 0 if name is not ours. */
static pid_t temporary_owner(const char *name)
{
    if (name[0] != '.')
        return 0;
    const char *mark = NULL;
    for (const char *m = strstr(name, TMP_MARK); m; m = strstr(m + 1, TMP_MARK))
        mark = m;
    if (!mark)
        return 0;
    const char *p = mark + strlen(TMP_MARK);
    long long pid = 0;
    for (; *p >= '0' && *p <= '9' && pid < (1 << 30); p++)
        pid = pid * 10 + (*p - '0');
    if (pid <= 0 || *p++ != '-')
        return 0;
    size_t hex = 0;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        hex++;
    return hex == 16 && !*p ? (pid_t)pid : 0;
}

static bool is_snapshot_start(int dir, const char *name)
{
    int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    char head[LT_FORMAT_MAGIC_SIZE];
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    return n == 0 || (n == (ssize_t)sizeof(head) && !memcmp(head, LT_FORMAT_MAGIC, sizeof(head)));
}

/* A temporary file is stale when the process that named it is gone and it has not been
 * written for a minute (the age guards against a writer in another pid namespace that
 * shares the directory), it is a regular file of ours, and it holds the start of a snapshot
 * or nothing. Only syscalls: this may run in a signal handler. */
static void sweep(const char *path, size_t dir_len)
{
    char dir_path[LT_PATH_MAX];
    lt_format(dir_path, sizeof(dir_path), "%.*s", (int)(dir_len ? dir_len : 1),
              dir_len ? path : ".");
    int dir = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return;
    time_t now = time(NULL);
    pid_t me = getpid();
    uid_t uid = geteuid();
    char buf[4096] __attribute__((aligned(8)));
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            const struct linux_dirent64 *d = (const void *)(buf + off);
            off += d->d_reclen;
            pid_t owner = temporary_owner(d->d_name);
            struct stat st;
            if (!owner || owner == me || (kill(owner, 0) != 0 ? errno != ESRCH : true) ||
                fstatat(dir, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
                st.st_uid != uid || st.st_mtime > now - SWEEP_INTERVAL_S ||
                !is_snapshot_start(dir, d->d_name))
                continue;
            if (unlinkat(dir, d->d_name, 0) == 0)
                lt_log("removed %s%s, left by process %d that ended while writing it",
                       dir_len ? "" : "./", d->d_name, (int)owner);
        }
    }
    close(dir);
}

static void sweep_now_and_then(const char *path, size_t dir_len)
{
    static _Atomic int64_t last_sweep; /* 0: never */
    int64_t now = time(NULL);
    int64_t last = atomic_load_explicit(&last_sweep, memory_order_relaxed);
    if ((last == 0 || now - last >= SWEEP_INTERVAL_S) &&
        atomic_compare_exchange_strong_explicit(&last_sweep, &last, now, memory_order_relaxed,
                                                memory_order_relaxed))
        sweep(path, dir_len);
}

/* ---- one snapshot's file ------------------------------------------------------------------ */

int lt_outfile_open(struct lt_outfile *f, const char *template, uint32_t seq)
{
    f->fd = -1;
    f->tmp_path[0] = '\0';
    expand(f->path, sizeof(f->path), template, seq);
    size_t len = strlen(f->path);
    if (len == 0 || len >= sizeof(f->path) - 32)
        return -ENAMETOOLONG;
    /* ".NAME.tmp-PID-NONCE" in the same directory: rename() stays atomic, and the pid
     * tells a later snapshot whether the writer is gone. */
    const char *slash = strrchr(f->path, '/');
    size_t dir_len = slash ? (size_t)(slash - f->path + 1) : 0;
    sweep_now_and_then(f->path, dir_len);
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
        nonce = (uint64_t)lt_clock_ns(CLOCK_MONOTONIC) ^ (uint64_t)(uintptr_t)f;
    lt_format(f->tmp_path, sizeof(f->tmp_path), "%.*s.%s" TMP_MARK "%d-%016llx", (int)dir_len,
              f->path, f->path + dir_len, (int)getpid(), (unsigned long long)nonce);
    f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    return f->fd < 0 ? -errno : 0;
}

void lt_outfile_abort(struct lt_outfile *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        unlink(f->tmp_path);
        f->fd = -1;
    }
}

int lt_outfile_commit(struct lt_outfile *f, int write_error)
{
    int err = write_error;
    struct stat st;
    if (!err && fstat(f->fd, &st) == 0) {
        f->dev = st.st_dev;
        f->ino = st.st_ino;
    }
    if (close(f->fd) != 0 && !err)
        err = -errno;
    f->fd = -1;
    if (!err && rename(f->tmp_path, f->path) != 0)
        err = -errno;
    if (err)
        unlink(f->tmp_path);
    return err;
}

void lt_outfile_remove(const char *path, uint64_t dev, uint64_t ino)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
        unlink(path);
}
