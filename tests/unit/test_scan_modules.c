/* Unit tests of leaktag-scan's modules.c, the target's ELF files as modules, over this very
 * process as a live target (target_live.c over its own pid: reading oneself needs no ptrace
 * permission). Cases: every object dl_iterate_phdr reports is a module with the loader's bias
 * and the build-id elfutils reads from the file (dwelf_elf_gnu_build_id, as self_snapshot.c
 * does: a source independent of modules.c's note walk), and no executable module is one the
 * loader does not know; a function of this test is named, and addresses in no module or 0
 * are not; a file whose build-id differs from the one mapped ("rebuilt since") is not
 * believed: no name from it, one warning, while an identical copy is believed.
 *
 * modules.c is included, not linked: struct scan_modules is private to it, and its modules
 * (bias, build-id) are what the first case checks. */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "modules.c"
#include "target_live.h"

#ifdef __clang__
#define NOT_INLINED __attribute__((noinline))
#else
#define NOT_INLINED __attribute__((noipa))
#endif

static volatile int sink;

/* A function of this executable for the symbolizer to name. */
NOT_INLINED static void scan_modules_known_function(void)
{
    sink++;
}

/* The build-id of the file at path as elfutils reads it; its length, 0 if none. */
static size_t file_build_id(const char *path, uint8_t *id, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    const void *bits;
    ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &bits) : -1;
    size_t len = n > 0 && (size_t)n <= size ? (size_t)n : 0;
    if (len)
        memcpy(id, bits, len);
    if (elf)
        elf_end(elf);
    close(fd);
    return len;
}

static struct target *open_self(void)
{
    struct target *t;
    struct lts_error err;
    if (target_live_open(getpid(), &t, &err) < 0) {
        /* no /proc, or one that hides this process's own files: nothing to test with */
        print_message("cannot read this process as a target: %s\n", err.message);
        skip();
    }
    return t;
}

/* ---- the modules against the loader's list ------------------------------------------------ */

struct loaded {
    uint64_t bias[256];
    char path[256][PATH_MAX];
    size_t n;
};

static int add_loaded(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct loaded *l = ctx;
    const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : "/proc/self/exe";
    if (strstr(name, "linux-vdso") || l->n == 256) /* the vDSO: no file, no module */
        return 0;
    if (!realpath(name, l->path[l->n]))
        return 0;
    l->bias[l->n++] = info->dlpi_addr;
    return 0;
}

static const struct lts_module *module_with_bias(const struct scan_modules *m, uint64_t bias)
{
    for (size_t i = 0; i < m->snap.nmodules; i++)
        if (m->snap.modules[i].bias == bias)
            return &m->snap.modules[i];
    return NULL;
}

static void test_modules_match_loader(void **state)
{
    (void)state;
    elf_version(EV_CURRENT);
    static struct loaded l;
    l.n = 0;
    dl_iterate_phdr(add_loaded, &l);
    assert_true(l.n >= 2); /* this executable and libc at least */
    struct target *t = open_self();
    struct scan_modules *m = modules_open(t, NULL);
    assert_non_null(m);
    for (size_t i = 0; i < l.n; i++) {
        const struct lts_module *mod = module_with_bias(m, l.bias[i]);
        if (!mod)
            fail_msg("%s (bias %#llx) is not a module", l.path[i], (unsigned long long)l.bias[i]);
        char real[PATH_MAX];
        assert_non_null(realpath(mod->path, real));
        assert_string_equal(real, l.path[i]);
        uint8_t id[64];
        size_t len = file_build_id(l.path[i], id, sizeof(id));
        assert_true(len > 0); /* Debian's objects and this test all carry one */
        assert_int_equal(mod->build_id_len, len);
        assert_memory_equal(mod->build_id, id, len);
        assert_true(mod->nsegments >= 1);
        assert_int_equal(mod->segments[0].start & ~4095ull, mod->segments[0].start);
    }
    /* the other way: a module with code is an object the loader loaded */
    for (size_t i = 0; i < m->snap.nmodules; i++) {
        const struct lts_module *mod = &m->snap.modules[i];
        bool code = false;
        for (size_t k = 0; k < mod->nsegments; k++)
            code |= (mod->segments[k].flags & PF_X) != 0;
        bool known = false;
        for (size_t k = 0; k < l.n && code && !known; k++)
            known = l.bias[k] == mod->bias;
        if (code && !known)
            fail_msg("%s is a module the loader does not know", mod->path);
    }
    modules_close(m);
    target_close(t);
}

/* ---- names -------------------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    struct target *t = open_self();
    struct scan_modules *m = modules_open(t, NULL);
    assert_non_null(m);
    const char *name = modules_function(m, (uintptr_t)scan_modules_known_function);
    assert_non_null(name);
    assert_string_equal(name, "scan_modules_known_function");
    int on_stack;
    int *heap = malloc(sizeof(*heap));
    assert_null(modules_function(m, (uintptr_t)heap)); /* in no module */
    assert_null(modules_function(m, (uintptr_t)&on_stack));
    assert_null(modules_function(m, 0));
    assert_null(modules_function(NULL, (uintptr_t)scan_modules_known_function));
    free(heap);
    modules_close(m);
    target_close(t);
}

/* ---- a rebuilt file ----------------------------------------------------------------------- */

/* This process as a target whose executable's mappings name `path` instead. */
static struct target *self_as(const char *exe, const char *path)
{
    struct target *t = open_self();
    for (size_t i = 0; i < t->nmaps; i++)
        if (t->maps[i].path && !strcmp(t->maps[i].path, exe)) {
            free(t->maps[i].path);
            t->maps[i].path = strdup(path);
        }
    return t;
}

/* The name of the known function in a target whose executable is `copy`; what was warned. */
static const char *name_from(const char *exe, const char *copy, char *warned, size_t size)
{
    static char name[128];
    struct target *t = self_as(exe, copy);
    char *text = NULL;
    size_t len = 0;
    FILE *warn = open_memstream(&text, &len);
    assert_non_null(warn);
    struct scan_modules *m = modules_open(t, warn);
    assert_non_null(m);
    const char *got = modules_function(m, (uintptr_t)scan_modules_known_function);
    snprintf(name, sizeof(name), "%s", got ? got : "");
    modules_close(m);
    target_close(t);
    fclose(warn);
    snprintf(warned, size, "%s", text ? text : "");
    free(text);
    return name[0] ? name : NULL;
}

static void write_file(const char *path, const uint8_t *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_rebuilt_file(void **state)
{
    (void)state;
    elf_version(EV_CURRENT);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    struct stat st;
    assert_int_equal(stat(exe, &st), 0);
    uint8_t *bytes = malloc((size_t)st.st_size);
    FILE *f = fopen(exe, "rb");
    assert_non_null(f);
    assert_int_equal(fread(bytes, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    uint8_t id[64];
    size_t id_len = file_build_id(exe, id, sizeof(id));
    assert_true(id_len > 0);

    char dir[] = "/tmp/leaktag-modules.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char same[PATH_MAX], rebuilt[PATH_MAX], warned[4096];
    snprintf(same, sizeof(same), "%s/same", dir);
    snprintf(rebuilt, sizeof(rebuilt), "%s/rebuilt", dir);
    write_file(same, bytes, (size_t)st.st_size);
    /* the same code and symbols, another build-id: what a rebuild of other sources gives */
    uint8_t *at = memmem(bytes, (size_t)st.st_size, id, id_len);
    assert_non_null(at);
    at[0] ^= 0xff;
    write_file(rebuilt, bytes, (size_t)st.st_size);
    free(bytes);

    const char *name = name_from(exe, same, warned, sizeof(warned));
    assert_non_null(name); /* an identical copy is believed: the path alone does not matter */
    assert_string_equal(name, "scan_modules_known_function");
    assert_null(strstr(warned, "build-id"));

    name = name_from(exe, rebuilt, warned, sizeof(warned));
    assert_null(name);
    assert_non_null(strstr(warned, rebuilt));
    assert_non_null(strstr(warned, "build-id differs"));
    size_t lines = 0;
    for (const char *p = warned; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1); /* once for the module, however many addresses fall in it */

    unlink(same);
    unlink(rebuilt);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modules_match_loader),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_rebuilt_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
