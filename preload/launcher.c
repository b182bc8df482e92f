/* launcher.c — the `leaktag` command: runs a program with libleaktag.so preloaded, or asks a
 * running one for a snapshot. Its options are generated from the shim's options table
 * (LEAKTAG_SAMPLE_BYTES <-> --sample-bytes), so the two cannot drift apart. An ordinary
 * program: it may use stdio and malloc; it is never preloaded itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "options.h"

#ifndef LT_LIBDIR_FROM_BINDIR
#define LT_LIBDIR_FROM_BINDIR "../lib"
#endif

/* LEAKTAG_SAMPLE_BYTES -> sample-bytes */
static void option_flag(const char *env_name, char *out, size_t size)
{
    const char *p = env_name + strlen("LEAKTAG_");
    size_t i = 0;
    for (; *p && i + 1 < size; p++)
        out[i++] = *p == '_' ? '-' : (char)(*p - 'A' + 'a');
    out[i] = '\0';
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: leaktag [options] PROGRAM [ARGS...]   run PROGRAM under the leak tracker\n"
            "       leaktag --pid PID [--wait SECONDS]    ask a process run under it for a "
            "snapshot\n"
            "                                             (--wait: until it is written; prints "
            "its path)\n"
            "\n"
            "Snapshots of PROGRAM's live heap blocks are written on SIGUSR2, at exit, and\n"
            "every --interval seconds; read them with leaktag-report.\n"
            "\n"
            "options (each sets the environment variable named after it):\n");
    size_t n;
    const struct lt_option_doc *docs = lt_options_docs(&n);
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        option_flag(docs[i].name, flag, sizeof(flag));
        fprintf(out, "  --%s VALUE\n      %s [%s; default %s]\n      %s\n", flag, docs[i].name,
                docs[i].values, docs[i].default_text, docs[i].help);
    }
    fprintf(out, "  --lib PATH        the shim to preload (default: libleaktag.so next to this "
                 "program,\n                    libleaktag-jemalloc.so with --backend jemalloc)\n"
                 "  --version, --help\n");
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The shim (libleaktag.so, or libleaktag-jemalloc.so) next to the launcher (build tree) or
 * in the library directory (installed). */
static bool find_library(const char *name, char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    const char *candidates[] = {"/", "/" LT_LIBDIR_FROM_BINDIR "/", "/../preload/"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        char path[PATH_MAX];
        int len = snprintf(path, sizeof(path), "%s%s%s", self, candidates[i], name);
        if (len < 0 || (size_t)len >= sizeof(path))
            continue;
        if (file_exists(path) && realpath(path, out)) {
            (void)size;
            return true;
        }
    }
    return false;
}

/* ---- leaktag --pid ------------------------------------------------------------------------ */

/* A NAME=value from /proc/PID/environ, or NULL. */
static char *target_env(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t len = strlen(name), at = 0;
    char *found = NULL;
    int c;
    while (!found && (c = fgetc(f)) != EOF) {
        if (at + 1 < size)
            buf[at++] = (char)c;
        if (c == '\0') {
            if (!strncmp(buf, name, len) && buf[len] == '=')
                found = buf + len + 1;
            at = 0;
        }
    }
    fclose(f);
    return found;
}

static bool runs_leaktag(pid_t pid)
{
    char path[64], line[4096];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "/libleaktag.so") || strstr(line, "/libleaktag-jemalloc.so");
    fclose(f);
    return found;
}

static int signal_number(const char *name)
{
    static const struct { const char *name; int sig; } names[] = {
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}, {"URG", SIGURG},
        {"WINCH", SIGWINCH}, {"PWR", SIGPWR}, {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}};
    if (!name)
        return SIGUSR2;
    if (!strncasecmp(name, "SIG", 3))
        name += 3;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcasecmp(name, names[i].name))
            return names[i].sig;
    if (!strcasecmp(name, "off") || !strcasecmp(name, "none"))
        return 0;
    int n = atoi(name);
    return n > 0 && n < 65 ? n : SIGUSR2;
}

/* Files in dir whose name contains ".PID." — snapshots of that process by the default and
 * the usual templates. */
static unsigned count_snapshots(const char *dir, pid_t pid, char *newest, size_t size)
{
    char needle[32];
    snprintf(needle, sizeof(needle), "%d", (int)pid);
    DIR *d = opendir(dir);
    unsigned n = 0;
    time_t latest = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".lts") || !strstr(e->d_name, needle) ||
            e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        n++;
        if (st.st_mtime >= latest) {
            latest = st.st_mtime;
            snprintf(newest, size, "%s", path);
        }
    }
    if (d)
        closedir(d);
    return n;
}

static int signal_pid(pid_t pid, double wait_seconds)
{
    if (kill(pid, 0) != 0) {
        fprintf(stderr, "leaktag: process %d: %s\n", (int)pid, strerror(errno));
        return 1;
    }
    if (!runs_leaktag(pid)) {
        fprintf(stderr, "leaktag: process %d does not run under leaktag (no libleaktag.so in its "
                        "maps); not signalling it, the signal could end it\n", (int)pid);
        return 1;
    }
    char buf[8192];
    int sig = signal_number(target_env(pid, "LEAKTAG_SIGNAL", buf, sizeof(buf)));
    if (!sig) {
        fprintf(stderr, "leaktag: process %d runs with LEAKTAG_SIGNAL=off\n", (int)pid);
        return 1;
    }
    /* Where its snapshots go: the directory of its output template, from its start dir. */
    char dir[PATH_MAX + 8], cwd_link[64], cwd[PATH_MAX];
    const char *tmpl = target_env(pid, "LEAKTAG_OUTPUT", buf, sizeof(buf));
    snprintf(cwd_link, sizeof(cwd_link), "/proc/%d/cwd", (int)pid);
    ssize_t n = readlink(cwd_link, cwd, sizeof(cwd) - 1);
    cwd[n > 0 ? n : 0] = '\0';
    size_t used = 0;
    dir[0] = '\0';
    if (!tmpl || tmpl[0] != '/')
        used = (size_t)snprintf(dir, sizeof(dir), "%s/", cwd) % sizeof(dir);
    if (tmpl && strchr(tmpl, '/')) {
        size_t len = (size_t)(strrchr(tmpl, '/') - tmpl);
        if (len >= sizeof(dir) - used)
            len = sizeof(dir) - used - 1;
        memcpy(dir + used, tmpl, len);
        dir[used + len] = '\0';
    }
    char newest[PATH_MAX] = "";
    unsigned before = count_snapshots(dir, pid, newest, sizeof(newest));
    if (kill(pid, sig) != 0) {
        fprintf(stderr, "leaktag: cannot signal %d: %s\n", (int)pid, strerror(errno));
        return 1;
    }
    printf("leaktag: asked process %d for a snapshot (signal %d); it writes to %s\n", (int)pid,
           sig, dir);
    if (wait_seconds <= 0)
        return 0;
    for (double waited = 0; waited < wait_seconds; waited += 0.05) {
        if (count_snapshots(dir, pid, newest, sizeof(newest)) > before) {
            printf("%s\n", newest);
            return 0;
        }
        usleep(50000);
    }
    fprintf(stderr, "leaktag: no new snapshot of %d in %s after %.0f s\n", (int)pid, dir,
            wait_seconds);
    return 1;
}

/* ---- leaktag PROGRAM ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    size_t nopts;
    const struct lt_option_doc *docs = lt_options_docs(&nopts);
    char lib[PATH_MAX] = "";
    long pid = 0;
    double wait = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--")) {
            i++;
            break;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--version")) {
            printf("leaktag %s\n", LEAKTAG_VERSION);
            return 0;
        }
        const char *value = strchr(arg, '=');
        size_t name_len = value ? (size_t)(value - arg) : strlen(arg);
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "leaktag: %s needs a value (see --help)\n", arg);
                return 2;
            }
            value = argv[++i];
        } else {
            value++;
        }
        if (name_len == 5 && !strncmp(arg, "--pid", 5)) {
            char *end;
            pid = strtol(value, &end, 10);
            if (*end || pid <= 0) {
                fprintf(stderr, "leaktag: --pid: '%s' is not a process id\n", value);
                return 2;
            }
            continue;
        }
        if (name_len == 6 && !strncmp(arg, "--wait", 6)) {
            char *end;
            wait = strtod(value, &end);
            if (*end || wait < 0) {
                fprintf(stderr, "leaktag: --wait: '%s' is not a number of seconds\n", value);
                return 2;
            }
            continue;
        }
        if (name_len == 5 && !strncmp(arg, "--lib", 5)) {
            snprintf(lib, sizeof(lib), "%s", value);
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < nopts; k++) {
            char flag[64];
            option_flag(docs[k].name, flag, sizeof(flag));
            if (name_len == strlen(flag) + 2 && !strncmp(arg + 2, flag, strlen(flag))) {
                setenv(docs[k].name, value, 1); /* the shim validates it, once, at start */
                known = true;
            }
        }
        if (!known) {
            fprintf(stderr, "leaktag: unknown option %.*s (see --help)\n", (int)name_len, arg);
            return 2;
        }
    }
    if (pid)
        return signal_pid((pid_t)pid, wait);
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* jemalloc must be loaded with the program (see backend.c): the shim that depends on it */
    const char *backend = getenv("LEAKTAG_BACKEND");
    const char *shim = backend && !strcmp(backend, "jemalloc") ? "libleaktag-jemalloc.so"
                                                                : "libleaktag.so";
    if (!lib[0] && !find_library(shim, lib, sizeof(lib))) {
        fprintf(stderr, "leaktag: cannot find %s next to this program; use --lib\n", shim);
        return 2;
    }
    if (!file_exists(lib)) {
        fprintf(stderr, "leaktag: %s: no such library\n", lib);
        return 2;
    }
    const char *old = getenv("LD_PRELOAD");
    char preload[PATH_MAX * 2];
    snprintf(preload, sizeof(preload), "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    const char *out = getenv("LEAKTAG_OUTPUT");
    const char *sig = getenv("LEAKTAG_SIGNAL");
    fprintf(stderr, "leaktag: running %s as pid %d; snapshots: kill -%s %d (or leaktag --pid %d), "
                    "at exit, to %s\n",
            argv[i], (int)getpid(), sig ? sig : "USR2", (int)getpid(), (int)getpid(),
            out ? out : "leaktag.%e.%p.%n.lts");
    execvp(argv[i], argv + i);
    fprintf(stderr, "leaktag: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}
