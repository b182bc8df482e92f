/* shim_probe.h — what the shim's module tests (tests/preload/tracker.c, composer.c, worker.c,
 * interpose.c, shim.c, fdtable.c, verdict.c) share. Each is one program run under
 * LD_PRELOAD=libleaktag.so with the tests' preload_env: started without arguments it is the
 * driver, which makes a directory of its own for snapshots and runs each of its scenarios as
 * a child process (itself again, with the scenario's name as argv[1], LEAKTAG_OUTPUT in that
 * directory and the scenario's own variables: options are read once, at start-up, so a
 * scenario that needs other options needs a process of its own). The driver kills a scenario
 * that outlives its time, removes the directory and exits 0, 1 (a scenario failed: it said
 * what differed on stderr) or 77 (all that ran were skipped, each said why).
 *
 * The helpers read snapshots with the snapshot library (snapshot/reader.h), find threads by
 * name and list descriptors without malloc (getdents64 into a buffer on the stack), so that
 * they can run between two leaktag_stats() calls that must see the same live set. */
#ifndef LT_TEST_SHIM_PROBE_H
#define LT_TEST_SHIM_PROBE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "leaktag.h"
#include "reader.h"

#define PROBE_UNUSED __attribute__((unused))

/* One line saying what differed, and exit 1 (or 77 for a skip). */
#define PROBE_FAIL(...) probe_exit(1, __FILE__, __LINE__, __VA_ARGS__)
#define PROBE_SKIP(...) probe_exit(77, __FILE__, __LINE__, __VA_ARGS__)

PROBE_UNUSED __attribute__((noreturn, format(printf, 4, 5))) static void probe_exit(
    int status, const char *file, int line, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: %s%s\n", file, line, status == 77 ? "skip: " : "", text);
    exit(status);
}

PROBE_UNUSED static int64_t probe_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

PROBE_UNUSED static void probe_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the driver ------------------------------------------------------------------------- */

static char probe_dir_buf[256];

/* The snapshot directory: the driver's own, or the one a scenario was given. */
PROBE_UNUSED static const char *probe_dir(void)
{
    const char *dir = getenv("PROBE_DIR");
    return dir ? dir : probe_dir_buf;
}

/* Driver: makes the directory (under TMPDIR or /tmp) for a test named `name`. */
PROBE_UNUSED static void probe_driver_init(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(probe_dir_buf, sizeof(probe_dir_buf), "%s/leaktag-%s-XXXXXX", tmp ? tmp : "/tmp",
             name);
    if (!mkdtemp(probe_dir_buf))
        PROBE_FAIL("cannot make a directory %s: %s", probe_dir_buf, strerror(errno));
}

/* Driver: removes the directory and what the scenarios left in it (one level). */
PROBE_UNUSED static void probe_driver_cleanup(void)
{
    if (getenv("PROBE_KEEP")) { /* to look at the snapshots by hand */
        fprintf(stderr, "snapshots kept in %s\n", probe_dir_buf);
        return;
    }
    DIR *d = opendir(probe_dir_buf);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", probe_dir_buf, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(probe_dir_buf);
}

/* Driver: runs scenario `mode` as a child (this program again), in the directory, with
 * LEAKTAG_OUTPUT there and then the NULL-terminated list env: "NAME=VALUE" sets NAME, "-NAME"
 * unsets it ("-LD_PRELOAD" runs the scenario without the shim); for at most timeout_s
 * seconds. Returns its exit status: 0, 1 or 77; 1 also when it was killed, timed out or died
 * of a signal, with a line saying so. */
PROBE_UNUSED static int probe_run(const char *mode, const char *const *env, int timeout_s)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        PROBE_FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        char output[512];
        snprintf(output, sizeof(output), "%s/s.%%p.%%n.lts", probe_dir_buf);
        setenv("LEAKTAG_OUTPUT", output, 1);
        setenv("PROBE_DIR", probe_dir_buf, 1);
        setenv("PROBE_MODE", mode, 1); /* for constructors, which run before main */
        for (size_t i = 0; env && env[i]; i++) {
            if (env[i][0] == '-') {
                unsetenv(env[i] + 1);
                continue;
            }
            const char *eq = strchr(env[i], '=');
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
            setenv(name, eq + 1, 1);
        }
        /* a snapshot at a relative path (a default) lands in the directory too */
        if (chdir(probe_dir_buf) != 0)
            _exit(1);
        execl("/proc/self/exe", "probe", mode, (char *)NULL);
        fprintf(stderr, "exec of scenario %s: %s\n", mode, strerror(errno));
        _exit(1);
    }
    int status = 0;
    int64_t until = probe_now_ns() + (int64_t)timeout_s * 1000000000;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR)
            PROBE_FAIL("waitpid: %s", strerror(errno));
        if (probe_now_ns() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "scenario %s: still running after %d s (killed)\n", mode, timeout_s);
            return 1;
        }
        probe_sleep_ms(5);
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "scenario %s: died of signal %d\n", mode, WTERMSIG(status));
        return 1;
    }
    int rc = WEXITSTATUS(status);
    if (rc != 0 && rc != 1 && rc != 77) {
        fprintf(stderr, "scenario %s: exit status %d\n", mode, rc);
        return 1;
    }
    return rc;
}

/* Driver: the test's exit status from its scenarios' (any failure fails it; all skipped
 * skips it). */
struct probe_tally {
    int ran, failed, skipped;
};

PROBE_UNUSED static void probe_tally(struct probe_tally *t, const char *mode, int rc)
{
    t->ran++;
    t->failed += rc == 1;
    t->skipped += rc == 77;
    fprintf(stderr, "%s %s\n", rc == 0 ? "ok  " : rc == 77 ? "skip" : "FAIL", mode);
}

PROBE_UNUSED static int probe_finish(const struct probe_tally *t)
{
    probe_driver_cleanup();
    if (t->failed)
        return 1;
    return t->skipped == t->ran ? 77 : 0;
}

/* ---- snapshots --------------------------------------------------------------------------- */

PROBE_UNUSED static void probe_path(char *buf, size_t size, pid_t pid, unsigned seq)
{
    snprintf(buf, size, "%s/s.%d.%u.lts", probe_dir(), (int)pid, seq);
}

/* Waits up to ms for snapshot seq of pid to be in place. */
PROBE_UNUSED static bool probe_wait(pid_t pid, unsigned seq, int ms)
{
    char path[512];
    probe_path(path, sizeof(path), pid, seq);
    for (int waited = 0;; waited += 5) {
        if (access(path, F_OK) == 0)
            return true;
        if (waited >= ms)
            return false;
        probe_sleep_ms(5);
    }
}

PROBE_UNUSED static bool probe_exists(pid_t pid, unsigned seq)
{
    char path[512];
    probe_path(path, sizeof(path), pid, seq);
    return access(path, F_OK) == 0;
}

PROBE_UNUSED static struct lts_snapshot *probe_load(pid_t pid, unsigned seq)
{
    char path[512];
    probe_path(path, sizeof(path), pid, seq);
    struct lts_snapshot *s;
    struct lts_error err;
    if (lts_open(path, &s, &err) != 0)
        PROBE_FAIL("%s does not read: %s (at offset %llu)", path, err.message,
                   (unsigned long long)err.offset);
    return s;
}

/* The BLOCKS record at addr, NULL if none; fails if there are two. */
PROBE_UNUSED static const struct lts_block *probe_block(const struct lts_snapshot *s,
                                                        const void *addr)
{
    const struct lts_block *found = NULL;
    for (size_t i = 0; i < s->nblocks; i++) {
        if (s->blocks[i].addr != (uint64_t)(uintptr_t)addr)
            continue;
        if (found)
            PROBE_FAIL("block %p is in the snapshot twice", addr);
        found = &s->blocks[i];
    }
    return found;
}

PROBE_UNUSED static const char *probe_text(const struct lts_snapshot *s, const char *key)
{
    const char *t = lts_meta_text(s, key);
    return t ? t : "(absent)";
}

/* ---- threads and descriptors, without malloc ------------------------------------------- */

struct probe_linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Calls fn(name, ctx) for each entry of dir but . and ..; stops when fn returns non-zero
 * and returns that. -1 if dir cannot be opened. In /proc/self/fd the listing's own
 * descriptor is skipped. */
PROBE_UNUSED static int probe_each_entry(const char *dir, int (*fn)(const char *, void *),
                                         void *ctx)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char own[16];
    snprintf(own, sizeof(own), "%d", fd);
    bool fds = !strcmp(dir, "/proc/self/fd");
    char buf[4096] __attribute__((aligned(8)));
    int rc = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        for (long off = 0; off < n && rc == 0;) {
            struct probe_linux_dirent64 *e = (struct probe_linux_dirent64 *)(buf + off);
            off += e->d_reclen;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (fds && !strcmp(e->d_name, own))
                continue;
            rc = fn(e->d_name, ctx);
        }
        if (rc)
            break;
    }
    close(fd);
    return rc;
}

struct probe_find_task {
    const char *name;
    pid_t tid;
    int count, matches;
};

static int probe_task_visit(const char *entry, void *raw)
{
    struct probe_find_task *f = raw;
    char path[64], comm[32] = {0};
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", entry);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, comm, sizeof(comm) - 1);
    close(fd);
    if (n > 0 && comm[n - 1] == '\n')
        comm[n - 1] = '\0';
    f->count++;
    if (f->name && !strcmp(comm, f->name)) {
        f->tid = atoi(entry);
        f->matches++;
    }
    return 0;
}

/* The tid of the one thread of this process named `name`; 0 if there is none, or more than
 * one (a thread leaktag's thread has just created carries its name until it names itself). */
PROBE_UNUSED static pid_t probe_task_named(const char *name)
{
    struct probe_find_task f = {name, 0, 0, 0};
    probe_each_entry("/proc/self/task", probe_task_visit, &f);
    return f.matches == 1 ? f.tid : 0;
}

/* Threads of this process, as the kernel lists them. */
PROBE_UNUSED static int probe_task_count(void)
{
    struct probe_find_task f = {NULL, 0, 0, 0};
    probe_each_entry("/proc/self/task", probe_task_visit, &f);
    return f.count;
}

/* Waits up to ms for a thread named `name`; its tid or 0. */
PROBE_UNUSED static pid_t probe_wait_task(const char *name, int ms)
{
    for (int waited = 0;; waited += 5) {
        pid_t tid = probe_task_named(name);
        if (tid || waited >= ms)
            return tid;
        probe_sleep_ms(5);
    }
}

/* A set of descriptors: bit fd set. */
#define PROBE_FDS_MAX 4096
struct probe_fds {
    uint64_t bits[PROBE_FDS_MAX / 64];
    int count, beyond; /* beyond: descriptors >= PROBE_FDS_MAX */
};

static int probe_fd_visit(const char *entry, void *raw)
{
    struct probe_fds *s = raw;
    int fd = atoi(entry);
    s->count++;
    if (fd >= PROBE_FDS_MAX)
        s->beyond++;
    else
        s->bits[fd / 64] |= 1ull << (fd % 64);
    return 0;
}

/* The descriptors open in a thread's table: dir is /proc/self/fd, or
 * /proc/self/task/TID/fd for another thread's (which may be a table of its own). */
PROBE_UNUSED static struct probe_fds probe_fds_of(const char *dir)
{
    struct probe_fds s;
    memset(&s, 0, sizeof(s));
    if (probe_each_entry(dir, probe_fd_visit, &s) < 0)
        s.count = -1;
    return s;
}

/* The lowest descriptor in a but not b, or -1. */
PROBE_UNUSED static int probe_fds_extra(const struct probe_fds *a, const struct probe_fds *b)
{
    for (int i = 0; i < PROBE_FDS_MAX / 64; i++) {
        uint64_t x = a->bits[i] & ~b->bits[i];
        if (x)
            return i * 64 + __builtin_ctzll(x);
    }
    return a->beyond > b->beyond ? PROBE_FDS_MAX : -1;
}

/* What a descriptor of this process (dir: /proc/self/fd or a task's) refers to. */
PROBE_UNUSED static void probe_fd_target(const char *dir, int fd, char *buf, size_t size)
{
    char path[96];
    snprintf(path, sizeof(path), "%s/%d", dir, fd);
    ssize_t n = readlink(path, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* ---- code ranges ------------------------------------------------------------------------ */

/* A function alone in a section of its own: the linker's __start_NAME and __stop_NAME
 * symbols bound its code exactly, so a return address can be placed inside it (or not)
 * without symbols. PROBE_IN_RANGE takes a return address: the call before it is inside. */
#if defined(__clang__)
#define PROBE_SECTION(name) __attribute__((section(#name), noinline, used))
#else /* and no copy of it specialised elsewhere */
#define PROBE_SECTION(name) __attribute__((section(#name), noinline, noclone, used))
#endif
#define PROBE_RANGE_DECL(name) extern const char __start_##name[], __stop_##name[]
#define PROBE_IN_RANGE(name, pc)                             \
    ((uint64_t)(pc) > (uint64_t)(uintptr_t)__start_##name && \
     (uint64_t)(pc) <= (uint64_t)(uintptr_t)__stop_##name)

#endif
