/* Unit tests of the symbolizer against the test program itself (self_snapshot.h): known call
 * sites, an inlined call, a C++ name, a rebuilt module, a vanished one, the vDSO and JIT-like
 * memory are resolved. Build with -g -O1. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "reader.h"
#include "self_snapshot.h"
#include "symbolize.h"

/* A copy of the snapshot whose main-program entry is altered; freed by free_variant. */
static struct lts_snapshot variant(const char *path, int corrupt_build_id)
{
    struct lts_snapshot v = self_snap;
    v.modules = malloc(self_snap.nmodules * sizeof(*v.modules));
    memcpy(v.modules, self_snap.modules, self_snap.nmodules * sizeof(*v.modules));
    if (path)
        v.modules[0].path = path;
    if (corrupt_build_id) {
        uint8_t *id = malloc(v.modules[0].build_id_len);
        memcpy(id, v.modules[0].build_id, v.modules[0].build_id_len);
        id[0] ^= 0xff;
        v.modules[0].build_id = id;
    }
    return v;
}

static void free_variant(struct lts_snapshot *v, int corrupt_build_id)
{
    if (corrupt_build_id)
        free((void *)v->modules[0].build_id);
    free(v->modules);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Lines written to the warning file, and how many contain needle. */
static int count_lines(FILE *f, const char *needle, int *matching)
{
    char line[4096];
    int total = 0;
    *matching = 0;
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        total++;
        /* named after the program that runs (leaktag-report or leaktag-scan; this test) */
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s: warning: ", program_invocation_short_name);
        assert_true(!strncmp(line, prefix, strlen(prefix)));
        if (strstr(line, needle))
            (*matching)++;
    }
    return total;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void call_site_of_a_plain_call(void **state)
{
    (void)state;
    struct symbolizer *sym = self_symbolizer(&self_snap, stderr);
    assert_non_null(sym);
    const struct sym_frame *f;
    size_t n = sym_resolve(sym, self_call_ra, &f);
    assert_true(n >= 1);
    const struct sym_frame *outer = &f[n - 1];
    assert_string_equal(outer->function, "caller_site");
    assert_non_null(outer->file);
    assert_string_equal(base_name(outer->file), "self_snapshot.c");
    assert_int_equal(outer->line, self_call_line);
    assert_int_equal(outer->inlined, 0);
    assert_string_equal(outer->module, "exe");
    assert_int_equal(outer->address, self_call_ra);
    assert_int_equal(outer->offset, self_call_ra - self_snap.modules[0].bias);
    sym_close(sym);
}

static void inlined_call_chain(void **state)
{
    (void)state;
    struct symbolizer *sym = self_symbolizer(&self_snap, stderr);
    const struct sym_frame *f;
    size_t n = sym_resolve(sym, self_inline_ra, &f);
    assert_true(n >= 2);
    assert_string_equal(f[0].function, "inlined_leaf");
    assert_int_equal(f[0].inlined, 1);
    assert_string_equal(base_name(f[0].file), "self_snapshot.c");
    assert_int_equal(f[0].line, self_inline_line);
    assert_string_equal(f[n - 1].function, "inline_host");
    assert_int_equal(f[n - 1].inlined, 0);
    assert_string_equal(base_name(f[n - 1].file), "self_snapshot.c");
    assert_int_equal(f[n - 1].line, self_inline_call_line);
    sym_close(sym);
}

static void cxx_name_is_demangled(void **state)
{
    (void)state;
    void *terminate = dlsym(RTLD_DEFAULT, "_ZSt9terminatev");
    assert_non_null(terminate);
    struct symbolizer *sym = self_symbolizer(&self_snap, stderr);
    const struct sym_frame *f;
    size_t n = sym_resolve(sym, (uintptr_t)terminate + 1, &f);
    assert_true(n >= 1);
    assert_non_null(f[n - 1].function);
    assert_non_null(strstr(f[n - 1].function, "std::terminate"));
    assert_non_null(strstr(f[n - 1].module, "libstdc++"));
    sym_close(sym);
}

static void rebuilt_module_is_not_named(void **state)
{
    (void)state;
    struct lts_snapshot v = variant(NULL, 1);
    FILE *warn = tmpfile();
    struct symbolizer *sym = self_symbolizer(&v, warn);
    uint64_t addresses[] = {self_call_ra, self_inline_ra, self_exe_start + 1, self_exe_end - 1};
    for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
        const struct sym_frame *f;
        assert_int_equal(sym_resolve(sym, addresses[i], &f), 1);
        assert_null(f[0].function);
        assert_null(f[0].file);
        assert_string_equal(f[0].module, "exe");
        assert_int_equal(f[0].offset, addresses[i] - v.modules[0].bias);
    }
    int matching, total = count_lines(warn, "/proc/self/exe: build-id differs", &matching);
    assert_int_equal(total, 1);
    assert_int_equal(matching, 1);
    sym_close(sym);
    fclose(warn);
    free_variant(&v, 1);
}

static void missing_module_file(void **state)
{
    (void)state;
    struct lts_snapshot v = variant("/nonexistent/leaktag-gone.so", 0);
    FILE *warn = tmpfile();
    struct symbolizer *sym = self_symbolizer(&v, warn);
    for (int round = 0; round < 2; round++) {
        const struct sym_frame *f;
        assert_int_equal(sym_resolve(sym, round ? self_inline_ra : self_call_ra, &f), 1);
        assert_null(f[0].function);
        assert_string_equal(f[0].module, "leaktag-gone.so");
    }
    int matching;
    int total = count_lines(warn, "/nonexistent/leaktag-gone.so: cannot open", &matching);
    assert_int_equal(total, 1);
    assert_int_equal(matching, 1);
    sym_close(sym);
    fclose(warn);
    free_variant(&v, 0);
}

static void vdso_is_quiet(void **state)
{
    (void)state;
    if (!self_vdso_address)
        skip();
    FILE *warn = tmpfile();
    struct symbolizer *sym = self_symbolizer(&self_snap, warn);
    const struct sym_frame *f;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sym_resolve(sym, self_vdso_address + (uint64_t)i, &f), 1);
        assert_null(f[0].function);
        assert_non_null(strstr(f[0].module, "vdso"));
    }
    int matching;
    assert_int_equal(count_lines(warn, "vdso", &matching), 0);
    sym_close(sym);
    fclose(warn);
}

static void address_in_no_module(void **state)
{
    (void)state;
    void *jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(jit != MAP_FAILED);
    FILE *warn = tmpfile();
    struct symbolizer *sym = self_symbolizer(&self_snap, warn);
    uint64_t addresses[] = {(uintptr_t)jit + 64, 0, 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
        const struct sym_frame *f;
        assert_int_equal(sym_resolve(sym, addresses[i], &f), 1);
        assert_null(f[0].module);
        assert_null(f[0].function);
        assert_null(f[0].file);
        assert_int_equal(f[0].address, addresses[i]);
        assert_int_equal(f[0].offset, addresses[i]);
    }
    int matching;
    assert_int_equal(count_lines(warn, "", &matching), 0);
    sym_close(sym);
    fclose(warn);
    munmap(jit, 4096);
}

static void cached_per_address(void **state)
{
    (void)state;
    struct symbolizer *sym = self_symbolizer(&self_snap, stderr);
    const struct sym_frame *a, *b;
    size_t na = sym_resolve(sym, self_call_ra, &a);
    size_t nb = sym_resolve(sym, self_call_ra, &b);
    assert_int_equal(na, nb);
    assert_ptr_equal(a, b);

    /* Every address of the program's code, twice: the table grows several times and keeps
     * every earlier answer where it was. */
    size_t count = self_exe_end - self_exe_start < 40000 ? self_exe_end - self_exe_start : 40000;
    const struct sym_frame **first = calloc(count, sizeof(*first));
    for (size_t i = 0; i < count; i++)
        assert_true(sym_resolve(sym, self_exe_start + 1 + i, &first[i]) >= 1);
    for (size_t i = 0; i < count; i++) {
        const struct sym_frame *again;
        sym_resolve(sym, self_exe_start + 1 + i, &again);
        assert_ptr_equal(again, first[i]);
        assert_int_equal(again[0].address, self_exe_start + 1 + i);
    }
    assert_ptr_equal(a, (sym_resolve(sym, self_call_ra, &b), b));
    free(first);
    sym_close(sym);
}

/* Joined compilation-directory paths are tidied in place. Each case sits in a buffer of
 * exactly its own size, so a write past the terminator shows under ASan (a path with
 * nothing to tidy used to overwrite its own terminator and read on). */
static void paths_are_tidied_in_place(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"/usr/src/python3/Objects/obmalloc.c", "/usr/src/python3/Objects/obmalloc.c"},
        {"/a/build/../src/./x.c", "/a/src/x.c"},
        {"/a//b/c.c", "/a/b/c.c"},
        {"/../x.c", "/x.c"},
        {"/a/b/..", "/a"},
        {"/a/..", "/"},
        {"/", "/"},
        {"relative/../kept.c", "relative/../kept.c"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i][0]) + 1;
        char *path = malloc(n);
        assert_non_null(path);
        memcpy(path, cases[i][0], n);
        sym_tidy_path(path);
        assert_string_equal(path, cases[i][1]);
        free(path);
    }
}

int main(void)
{
    /* Offline means offline: no debuginfod download from a test. */
    unsetenv("DEBUGINFOD_URLS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_site_of_a_plain_call),
        cmocka_unit_test(inlined_call_chain),
        cmocka_unit_test(cxx_name_is_demangled),
        cmocka_unit_test(rebuilt_module_is_not_named),
        cmocka_unit_test(missing_module_file),
        cmocka_unit_test(vdso_is_quiet),
        cmocka_unit_test(address_in_no_module),
        cmocka_unit_test(cached_per_address),
        cmocka_unit_test(paths_are_tidied_in_place),
    };
    return cmocka_run_group_tests(tests, self_snapshot_setup, self_snapshot_teardown);
}
