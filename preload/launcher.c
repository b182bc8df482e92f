/* launcher.c — the `leaktag` command: runs a program with libleaktag.so preloaded, or asks a
 * running one for a snapshot. Its options are generated from the shim's options table
 * (LEAKTAG_SAMPLE_BYTES <-> --sample-bytes) and parsed by it, so the two cannot drift apart.
 * With --pid it counts a request up in the target's control block (control.h), which
 * leaktag's thread there answers: no signal, which the program may use for itself. Only
 * where that thread cannot run (a single-threaded program that leaves the snapshot signal to
 * leaktag) does it send the signal, and only one the shim says it answers: a signal the target
 * does not expect may end it. An ordinary program: it may use stdio and malloc; it is never
 * preloaded itself.
 *
 * With --pid it finds libleaktag.so or libleaktag-jemalloc.so in /proc/PID/maps, the symbol
 * leaktag_control in that file, and reads the control block with process_vm_readv; it counts
 * `requests` up with process_vm_writev when leaktag's thread runs or is about to, else sends
 * the signal the block says is answered, or nothing, with one line saying why (no shim,
 * another version, no permission, one thread and no signal of leaktag's). It never reads
 * /proc/PID/environ: programs rewrite it (nginx, for its process title). It refuses a value
 * the options table refuses, and to run a program the loader will not preload into: a static
 * binary, a set-user-ID or set-group-ID program run by another user, one with file
 * capabilities. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
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
            "Snapshots of PROGRAM's live heap blocks are written when leaktag --pid asks, on\n"
            "SIGUSR2 (unless PROGRAM uses it), at exit, and every --interval seconds; read\n"
            "them with leaktag-report.\n"
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

/* ---- leaktag --pid: what the shim in a running process says of itself ------------------- */

/* The shim's file as the target maps it, and where its file offset 0 is mapped. */
static bool find_shim(pid_t pid, char *path, size_t size, uint64_t *base)
{
    char maps[64], line[PATH_MAX + 128];
    snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(maps, "r");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long long start, offset;
        int at = 0;
        if (sscanf(line, "%llx-%*x %*s %llx %*s %*u %n", &start, &offset, &at) < 2 || !at)
            continue;
        char *file = line + at;
        file[strcspn(file, "\n")] = '\0';
        const char *name = strrchr(file, '/');
        name = name ? name + 1 : file;
        if (offset == 0 &&
            (!strcmp(name, "libleaktag.so") || !strcmp(name, "libleaktag-jemalloc.so"))) {
            snprintf(path, size, "%s", file);
            *base = start;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The address of a dynamic symbol relative to the module's mapping of file offset 0, from an
 * ELF file of either class. Every offset is checked against the file's size. */
#define ELF_SYMBOL_FN(fn, Ehdr, Phdr, Shdr, Sym)                                                 \
    static bool fn(const uint8_t *img, size_t size, const char *name, uint64_t *offset)          \
    {                                                                                            \
        const Ehdr *eh = (const Ehdr *)img;                                                      \
        if (size < sizeof(*eh) || eh->e_phoff > size || eh->e_shoff > size ||                    \
            (uint64_t)eh->e_phnum * sizeof(Phdr) > size - eh->e_phoff ||                         \
            (uint64_t)eh->e_shnum * sizeof(Shdr) > size - eh->e_shoff)                           \
            return false;                                                                        \
        const Phdr *ph = (const Phdr *)(img + eh->e_phoff);                                      \
        uint64_t first_vaddr = UINT64_MAX;                                                       \
        for (unsigned i = 0; i < eh->e_phnum; i++)                                               \
            if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)                                  \
                first_vaddr = ph[i].p_vaddr;                                                     \
        const Shdr *sh = (const Shdr *)(img + eh->e_shoff);                                      \
        for (unsigned i = 0; first_vaddr != UINT64_MAX && i < eh->e_shnum; i++) {                \
            if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)                     \
                continue;                                                                        \
            const Shdr *str = &sh[sh[i].sh_link];                                                \
            if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||              \
                str->sh_offset > size || str->sh_size > size - str->sh_offset)                   \
                return false;                                                                    \
            const Sym *sym = (const Sym *)(img + sh[i].sh_offset);                               \
            const char *names = (const char *)img + str->sh_offset;                              \
            for (size_t k = 0; k < sh[i].sh_size / sizeof(Sym); k++) {                           \
                if (sym[k].st_name >= str->sh_size || sym[k].st_shndx == SHN_UNDEF)              \
                    continue;                                                                    \
                const char *s = names + sym[k].st_name;                                          \
                if (strnlen(s, str->sh_size - sym[k].st_name) < str->sh_size - sym[k].st_name && \
                    !strcmp(s, name)) {                                                          \
                    *offset = sym[k].st_value - (first_vaddr & ~(uint64_t)4095);                 \
                    return true;                                                                 \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        return false;                                                                            \
    }
ELF_SYMBOL_FN(elf64_symbol, Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Sym)
ELF_SYMBOL_FN(elf32_symbol, Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, Elf32_Sym)

static bool elf_symbol(const char *path, const char *name, uint64_t *offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < EI_NIDENT) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    void *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED)
        return false;
    const unsigned char *id = img;
    bool found = false;
    if (!memcmp(id, ELFMAG, SELFMAG) && id[EI_CLASS] == ELFCLASS64)
        found = elf64_symbol(img, (size_t)st.st_size, name, offset);
    else if (!memcmp(id, ELFMAG, SELFMAG) && id[EI_CLASS] == ELFCLASS32)
        found = elf32_symbol(img, (size_t)st.st_size, name, offset);
    munmap(img, (size_t)st.st_size);
    return found;
}

static const char *ptrace_hint(void)
{
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
    int scope = 0;
    if (f) {
        if (fscanf(f, "%d", &scope) != 1)
            scope = 0;
        fclose(f);
    }
    return scope > 0 ? " (kernel.yama.ptrace_scope is not 0: run as root, or set it to 0)"
                     : " (another user's process? run as its user or as root)";
}

/* The target's control block, read twice until both copies agree and no update was under
 * way; *where gets its address there. Returns 0, or 1 with a reason in why. */
static int read_control(pid_t pid, struct lt_control *c, uint64_t *where, char *why, size_t size)
{
    char shim[PATH_MAX], file[PATH_MAX + 32];
    uint64_t base, offset;
    if (!find_shim(pid, shim, sizeof(shim), &base)) {
        snprintf(why, size, "does not run under leaktag (no libleaktag.so in its maps)");
        return 1;
    }
    /* The path as the target sees it: through its root, should it be in a container. */
    snprintf(file, sizeof(file), "/proc/%d/root%s", (int)pid, shim);
    if (!elf_symbol(file, LT_CONTROL_SYMBOL, &offset) &&
        !elf_symbol(shim, LT_CONTROL_SYMBOL, &offset)) {
        snprintf(why, size, "its %s has no %s (another leaktag version?) or cannot be read", shim,
                 LT_CONTROL_SYMBOL);
        return 1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        struct lt_control again;
        struct iovec local[2] = {{c, sizeof(*c)}, {&again, sizeof(again)}};
        struct iovec remote[2] = {{(void *)(uintptr_t)(base + offset), sizeof(*c)},
                                  {(void *)(uintptr_t)(base + offset), sizeof(again)}};
        ssize_t got = process_vm_readv(pid, local, 2, remote, 2, 0);
        if (got < 0) {
            snprintf(why, size, "cannot read its memory: %s%s", strerror(errno),
                     errno == EPERM ? ptrace_hint() : "");
            return 1;
        }
        if (got != (ssize_t)(2 * sizeof(*c)) ||
            memcmp(c->magic, LT_CONTROL_MAGIC, sizeof(LT_CONTROL_MAGIC))) {
            snprintf(why, size, "its leaktag control block is not where %s says", shim);
            return 1;
        }
        if (c->version != LT_CONTROL_VERSION || c->size != sizeof(*c)) {
            snprintf(why, size,
                     "its leaktag control block is version %u (%u bytes); this "
                     "leaktag reads version %u",
                     c->version, c->size, LT_CONTROL_VERSION);
            return 1;
        }
        if (!(c->sequence & 1) && c->sequence == again.sequence) {
            c->output[sizeof(c->output) - 1] = c->last[sizeof(c->last) - 1] = '\0';
            *where = base + offset;
            return 0;
        }
        usleep(1000);
    }
    snprintf(why, size, "its leaktag control block kept changing");
    return 1;
}

/* Counts the target's requests up by one (a read-modify-write of one word: two commands
 * at once may count once, and one snapshot answers both). */
static int count_request(pid_t pid, uint64_t control, const struct lt_control *c)
{
    uint32_t requests = c->requests + 1;
    struct iovec local = {&requests, sizeof(requests)};
    struct iovec remote = {(void *)(uintptr_t)(control + offsetof(struct lt_control, requests)),
                           sizeof(requests)};
    return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(requests) ? 0 : -1;
}

static int ask_pid(pid_t pid, double wait_seconds)
{
    if (kill(pid, 0) != 0) {
        fprintf(stderr, "leaktag: process %d: %s\n", (int)pid, strerror(errno));
        return 1;
    }
    struct lt_control c;
    uint64_t control;
    char why[PATH_MAX + 256];
    if (read_control(pid, &c, &control, why, sizeof(why)) != 0) {
        fprintf(stderr, "leaktag: process %d %s; not asking it\n", (int)pid, why);
        return 1;
    }
    if (c.pid != pid) {
        fprintf(stderr,
                "leaktag: process %d holds the leaktag state of process %d (a copy "
                "made without fork()?); not asking it\n",
                (int)pid, (int)c.pid);
        return 1;
    }
    char name[16];
    uint64_t before = c.snapshots;
    /* A request through the control block whenever leaktag's thread runs or is about to:
     * no signal, so no application thread is interrupted and none of the program's own
     * signals is borrowed. A signal only where that thread cannot run, and only the one the
     * shim says its handler answers. */
    if (c.worker_tid || (c.flags & LT_CONTROL_REQUESTS)) {
        if (count_request(pid, control, &c) != 0) {
            fprintf(stderr, "leaktag: cannot write to process %d's control block: %s\n", (int)pid,
                    strerror(errno));
            return 1;
        }
        printf("leaktag: asked process %d for a snapshot (through its control block%s); it "
               "writes to %s\n",
               (int)pid,
               c.worker_tid ? ""
                            : "; leaktag's thread takes it when it starts, at the "
                              "program's next allocation",
               c.output);
    } else if (c.signal && (c.flags & LT_CONTROL_KILL_ANSWERED)) {
        if (kill(pid, c.signal) != 0) {
            fprintf(stderr, "leaktag: cannot signal %d: %s\n", (int)pid, strerror(errno));
            return 1;
        }
        printf("leaktag: asked process %d for a snapshot (SIG%s); it writes to %s\n", (int)pid,
               lt_options_signal_name(c.signal, name, sizeof(name)), c.output);
    } else {
        fprintf(stderr,
                "leaktag: process %d has one thread and no snapshot signal of leaktag's "
                "(LEAKTAG_SIGNAL=off, or its handler could not be installed): no way to "
                "ask it; snapshots come at exit, by LEAKTAG_INTERVAL or "
                "leaktag_snapshot()\n",
                (int)pid);
        return 1;
    }
    if (wait_seconds <= 0)
        return 0;
    for (double waited = 0; waited < wait_seconds; waited += 0.05) {
        usleep(50000);
        if (read_control(pid, &c, &control, why, sizeof(why)) != 0) {
            fprintf(stderr, "leaktag: process %d %s\n", (int)pid,
                    kill(pid, 0) ? "ended before its snapshot was written" : why);
            return 1;
        }
        if (c.snapshots > before) {
            printf("%s\n", c.last);
            return 0;
        }
    }
    fprintf(stderr, "leaktag: no new snapshot from %d after %.0f s\n", (int)pid, wait_seconds);
    return 1;
}

/* ---- leaktag PROGRAM ---------------------------------------------------------------------- */

/* The file execvp would run. */
static bool find_program(const char *name, char *out, size_t size)
{
    if (strchr(name, '/'))
        return snprintf(out, size, "%s", name) < (int)size;
    const char *path = getenv("PATH");
    for (const char *dir = path ? path : "/bin:/usr/bin"; dir;) {
        const char *end = strchr(dir, ':');
        int len = end ? (int)(end - dir) : (int)strlen(dir);
        snprintf(out, size, "%.*s%s%s", len, dir, len ? "/" : "", name);
        if (access(out, X_OK) == 0)
            return true;
        dir = end ? end + 1 : NULL;
    }
    return false;
}

/* Does the ELF file ask for a dynamic loader (PT_INTERP)? -1 when it is not ELF. */
#define HAS_INTERP_FN(fn, Ehdr, Phdr)                                               \
    static int fn(int fd)                                                           \
    {                                                                               \
        Ehdr eh;                                                                    \
        if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))                   \
            return -1;                                                              \
        for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {                      \
            Phdr ph;                                                                \
            if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != \
                (ssize_t)sizeof(ph))                                                \
                return -1;                                                          \
            if (ph.p_type == PT_INTERP)                                             \
                return 1;                                                           \
        }                                                                           \
        return 0;                                                                   \
    }
HAS_INTERP_FN(elf64_has_interp, Elf64_Ehdr, Elf64_Phdr)
HAS_INTERP_FN(elf32_has_interp, Elf32_Ehdr, Elf32_Phdr)

/* Why the loader will not preload the shim into this program, or NULL: a static binary has
 * no loader; a set-user-ID or set-group-ID program run by someone else (or one with file
 * capabilities) runs in secure-execution mode, where LD_PRELOAD paths are ignored. */
static const char *cannot_track(const char *file)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL; /* execvp says what is wrong */
    struct stat st;
    unsigned char id[EI_NIDENT];
    const char *why = NULL;
    if (fstat(fd, &st) == 0 && pread(fd, id, sizeof(id), 0) == (ssize_t)sizeof(id) &&
        !memcmp(id, ELFMAG, SELFMAG)) {
        int interp = id[EI_CLASS] == ELFCLASS64 ? elf64_has_interp(fd) : elf32_has_interp(fd);
        if (interp == 0)
            why = "is statically linked: it has no dynamic loader to preload leaktag";
        else if (((st.st_mode & S_ISUID) && st.st_uid != getuid()) ||
                 ((st.st_mode & S_ISGID) && st.st_gid != getgid()))
            why = "is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it";
        else if (fgetxattr(fd, "security.capability", NULL, 0) > 0)
            why = "has file capabilities: the loader ignores LD_PRELOAD for it";
    }
    close(fd);
    return why;
}

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
        const struct lt_option_doc *doc = NULL;
        for (size_t k = 0; k < nopts && !doc; k++) {
            char flag[64];
            option_flag(docs[k].name, flag, sizeof(flag));
            if (name_len == strlen(flag) + 2 && !strncmp(arg + 2, flag, strlen(flag)))
                doc = &docs[k];
        }
        if (!doc) {
            fprintf(stderr, "leaktag: unknown option %.*s (see --help)\n", (int)name_len, arg);
            return 2;
        }
        /* The shim's own parser decides, so a value it would refuse is refused here. */
        if (lt_options_set(doc->name, value) != 0) {
            fprintf(stderr, "leaktag: %.*s: '%s' is not valid (%s)\n", (int)name_len, arg, value,
                    doc->values);
            return 2;
        }
        setenv(doc->name, value, 1);
    }
    if (pid)
        return ask_pid((pid_t)pid, wait);
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* What the shim will make of the environment, by the same table (it warns about values
     * it refuses; those keep their defaults, here too). */
    for (size_t k = 0; k < nopts; k++) {
        const char *value = getenv(docs[k].name);
        if (value)
            lt_options_set(docs[k].name, value);
    }
    /* jemalloc must be loaded with the program (see backend.c): the shim that depends on it */
    const char *shim = lt_opt.backend == LT_BACKEND_JEMALLOC ? "libleaktag-jemalloc.so"
                                                             : "libleaktag.so";
    if (!lib[0] && !find_library(shim, lib, sizeof(lib))) {
        fprintf(stderr, "leaktag: cannot find %s next to this program; use --lib\n", shim);
        return 2;
    }
    if (!file_exists(lib)) {
        fprintf(stderr, "leaktag: %s: no such library\n", lib);
        return 2;
    }
    char file[PATH_MAX];
    const char *why = find_program(argv[i], file, sizeof(file)) ? cannot_track(file) : NULL;
    if (why) {
        fprintf(stderr,
                "leaktag: %s %s; not running it (nothing would be tracked, and its "
                "snapshot signal would not be handled)\n",
                file, why);
        return 2;
    }
    const char *old = getenv("LD_PRELOAD");
    char preload[PATH_MAX * 2];
    snprintf(preload, sizeof(preload), "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    char how[128] = "", name[16];
    int me = (int)getpid(); /* exec keeps it */
    if (lt_opt.signal)
        snprintf(how, sizeof(how), "leaktag --pid %d (or kill -%s %d), ", me,
                 lt_options_signal_name(lt_opt.signal, name, sizeof(name)), me);
    else
        snprintf(how, sizeof(how), "leaktag --pid %d, ", me);
    if (lt_opt.interval)
        snprintf(how + strlen(how), sizeof(how) - strlen(how), "every %u s, ", lt_opt.interval);
    if (lt_opt.at_exit)
        snprintf(how + strlen(how), sizeof(how) - strlen(how), "at exit, ");
    fprintf(stderr, "leaktag: running %s as pid %d; snapshots: %sto %s\n", argv[i], me,
            how[0] ? how : "only by leaktag_snapshot(), ", lt_opt.output);
    execvp(argv[i], argv + i);
    fprintf(stderr, "leaktag: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}
