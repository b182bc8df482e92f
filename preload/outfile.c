/* outfile.c — snapshot file names and the temporary-file-then-rename protocol. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"
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
        case 't': len += (size_t)lt_format(out + len, size - len, "%lld", (long long)time(NULL)); break;
        case '%': out[len++] = '%'; break;
        default: /* not ours: keep it as written */
            out[len++] = '%';
            if (len + 1 < size)
                out[len++] = *t;
        }
    }
    out[lt_min(len, size - 1)] = '\0';
}

int lt_outfile_open(struct lt_outfile *f, const char *template, uint32_t seq)
{
    f->fd = -1;
    f->tmp_path[0] = '\0';
    expand(f->path, sizeof(f->path), template, seq);
    size_t len = strlen(f->path);
    if (len == 0 || len >= sizeof(f->path) - 32)
        return -ENAMETOOLONG;
    /* ".NAME.tmp-RANDOM" in the same directory: rename() stays atomic. */
    const char *slash = strrchr(f->path, '/');
    size_t dir_len = slash ? (size_t)(slash - f->path + 1) : 0;
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
        nonce = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)f;
    lt_format(f->tmp_path, sizeof(f->tmp_path), "%.*s.%s.tmp-%llx", (int)dir_len, f->path,
              f->path + dir_len, (unsigned long long)nonce);
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
