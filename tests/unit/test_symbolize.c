/* Unit tests of the symbolizer against the test program itself: a fake snapshot is built from
 * dl_iterate_phdr, then known call sites, an inlined call, a C++ name, a rebuilt module, a
 * vanished one, the vDSO and JIT-like memory are resolved. Build with -g -O1. */
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
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "reader.h"
#include "frames.h"
#include "symbolize.h"

/* ---- known code: the addresses the tests resolve ------------------------------------------- */

static void *volatile sink;
static uint64_t call_ra, inline_ra;
static unsigned call_line, inline_line, inline_call_line;

/* No inlining, no clone under another name: the call stays a call to a named function. */
#ifdef __clang__
#define NOT_INLINED __attribute__((noinline))
#else
#define NOT_INLINED __attribute__((noipa))
#endif

NOT_INLINED static void *return_address(void)
{
    return __builtin_return_address(0);
}

NOT_INLINED static void caller_site(void)
{
    call_ra = (uintptr_t)return_address(); call_line = __LINE__;
    sink = &call_ra;
}

static inline __attribute__((always_inline)) void inlined_leaf(void)
{
    inline_ra = (uintptr_t)return_address(); inline_line = __LINE__;
    sink = &inline_ra;
}

NOT_INLINED static void inline_host(void)
{
    inlined_leaf(); inline_call_line = __LINE__;
    sink = &inline_line;
}

/* ---- a fake snapshot of this process ------------------------------------------------------- */

static struct lts_snapshot snap;
static uint64_t exe_start, exe_end; /* the main program's first executable segment */
static uint64_t vdso_address;

/* The module's build-id as elfutils reads it (not as the shim does: the test checks the
 * symbolizer against an independent source): from the file, or for the vDSO, which has no
 * file, from its image in memory, which the kernel maps whole. */
static void find_build_id(struct lts_module *m, const void *image, size_t image_size)
{
    int fd = -1;
    Elf *elf;
    if (image) {
        elf = elf_memory((char *)image, image_size);
    } else {
        fd = open(m->path, O_RDONLY | O_CLOEXEC);
        elf = fd < 0 ? NULL : elf_begin(fd, ELF_C_READ, NULL);
    }
    const void *id;
    ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &id) : -1;
    if (n > 0) {
        uint8_t *copy = malloc((size_t)n);
        memcpy(copy, id, (size_t)n);
        m->build_id = copy;
        m->build_id_len = (size_t)n;
    }
    if (elf)
        elf_end(elf);
    if (fd >= 0)
        close(fd);
}

static int add_module(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    struct lts_module *mods = realloc(snap.modules, (snap.nmodules + 1) * sizeof(*mods));
    if (!mods)
        return 1;
    snap.modules = mods;
    struct lts_module *m = &mods[snap.nmodules++];
    memset(m, 0, sizeof(*m));
    int is_exe = !info->dlpi_name || !info->dlpi_name[0];
    m->path = strdup(is_exe ? "/proc/self/exe" : info->dlpi_name);
    m->bias = info->dlpi_addr;
    struct lts_segment *segments = calloc(info->dlpi_phnum, sizeof(*segments));
    m->segments = segments;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            struct lts_segment *seg = &segments[m->nsegments++];
            seg->start = info->dlpi_addr + ph->p_vaddr;
            seg->size = ph->p_memsz;
            seg->offset = ph->p_offset;
            seg->flags = ph->p_flags;
            if (is_exe && (ph->p_flags & PF_X) && !exe_start) {
                exe_start = seg->start;
                exe_end = seg->start + seg->size;
            }
            if (strstr(m->path, "linux-vdso") && (ph->p_flags & PF_X))
                vdso_address = seg->start + 16;
        }
    }
    const void *image = NULL; /* the vDSO's: the PT_LOAD that holds its ELF header */
    size_t image_size = 0;
    for (int i = 0; strstr(m->path, "linux-vdso") && i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_phdr[i].p_offset == 0) {
            image = (const void *)(uintptr_t)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
            image_size = info->dlpi_phdr[i].p_filesz;
        }
    find_build_id(m, image, image_size);
    return 0;
}

static struct symbolizer *open_symbolizer(const struct lts_snapshot *s, FILE *warn)
{
    struct symbolizer *sym;
    struct lts_error err;
    if (sym_open(s, warn, &sym, &err) != 0)
        fail_msg("sym_open: %s", err.message);
    return sym;
}

static int setup(void **state)
{
    (void)state;
    memset(&snap, 0, sizeof(snap));
    elf_version(EV_CURRENT);
    dl_iterate_phdr(add_module, NULL);
    caller_site();
    inline_host();
    return snap.nmodules && exe_start && snap.modules[0].build_id ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < snap.nmodules; i++) {
        free((void *)snap.modules[i].path);
        free((void *)snap.modules[i].build_id);
        free((void *)snap.modules[i].segments);
    }
    free(snap.modules);
    return 0;
}

/* A copy of the snapshot whose main-program entry is altered; freed by free_variant. */
static struct lts_snapshot variant(const char *path, int corrupt_build_id)
{
    struct lts_snapshot v = snap;
    v.modules = malloc(snap.nmodules * sizeof(*v.modules));
    memcpy(v.modules, snap.modules, snap.nmodules * sizeof(*v.modules));
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
    struct symbolizer *sym = open_symbolizer(&snap, stderr);
    assert_non_null(sym);
    const struct sym_frame *f;
    size_t n = sym_resolve(sym, call_ra, &f);
    assert_true(n >= 1);
    const struct sym_frame *outer = &f[n - 1];
    assert_string_equal(outer->function, "caller_site");
    assert_non_null(outer->file);
    assert_string_equal(base_name(outer->file), base_name(__FILE__));
    assert_int_equal(outer->line, call_line);
    assert_int_equal(outer->inlined, 0);
    assert_string_equal(outer->module, "exe");
    assert_int_equal(outer->address, call_ra);
    assert_int_equal(outer->offset, call_ra - snap.modules[0].bias);
    sym_close(sym);
}

static void inlined_call_chain(void **state)
{
    (void)state;
    struct symbolizer *sym = open_symbolizer(&snap, stderr);
    const struct sym_frame *f;
    size_t n = sym_resolve(sym, inline_ra, &f);
    assert_true(n >= 2);
    assert_string_equal(f[0].function, "inlined_leaf");
    assert_int_equal(f[0].inlined, 1);
    assert_string_equal(base_name(f[0].file), base_name(__FILE__));
    assert_int_equal(f[0].line, inline_line);
    assert_string_equal(f[n - 1].function, "inline_host");
    assert_int_equal(f[n - 1].inlined, 0);
    assert_string_equal(base_name(f[n - 1].file), base_name(__FILE__));
    assert_int_equal(f[n - 1].line, inline_call_line);
    sym_close(sym);
}

static void cxx_name_is_demangled(void **state)
{
    (void)state;
    void *terminate = dlsym(RTLD_DEFAULT, "_ZSt9terminatev");
    assert_non_null(terminate);
    struct symbolizer *sym = open_symbolizer(&snap, stderr);
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
    struct symbolizer *sym = open_symbolizer(&v, warn);
    uint64_t addresses[] = {call_ra, inline_ra, exe_start + 1, exe_end - 1};
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
    struct symbolizer *sym = open_symbolizer(&v, warn);
    for (int round = 0; round < 2; round++) {
        const struct sym_frame *f;
        assert_int_equal(sym_resolve(sym, round ? inline_ra : call_ra, &f), 1);
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
    if (!vdso_address)
        skip();
    FILE *warn = tmpfile();
    struct symbolizer *sym = open_symbolizer(&snap, warn);
    const struct sym_frame *f;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sym_resolve(sym, vdso_address + (uint64_t)i, &f), 1);
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
    struct symbolizer *sym = open_symbolizer(&snap, warn);
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
    struct symbolizer *sym = open_symbolizer(&snap, stderr);
    const struct sym_frame *a, *b;
    size_t na = sym_resolve(sym, call_ra, &a);
    size_t nb = sym_resolve(sym, call_ra, &b);
    assert_int_equal(na, nb);
    assert_ptr_equal(a, b);

    /* Every address of the program's code, twice: the table grows several times and keeps
     * every earlier answer where it was. */
    size_t count = exe_end - exe_start < 40000 ? exe_end - exe_start : 40000;
    const struct sym_frame **first = calloc(count, sizeof(*first));
    for (size_t i = 0; i < count; i++)
        assert_true(sym_resolve(sym, exe_start + 1 + i, &first[i]) >= 1);
    for (size_t i = 0; i < count; i++) {
        const struct sym_frame *again;
        sym_resolve(sym, exe_start + 1 + i, &again);
        assert_ptr_equal(again, first[i]);
        assert_int_equal(again[0].address, exe_start + 1 + i);
    }
    assert_ptr_equal(a, (sym_resolve(sym, call_ra, &b), b));
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

/* --fold (frames.c): recorded frames at the top whose function matches are taken off, each
 * remaining one is expanded into its inlined chain, and the site keeps frame 0 as it was. */
static void fold_takes_frames_off_the_top(void **state)
{
    (void)state;
    struct symbolizer *sym = open_symbolizer(&snap, stderr);
    uint64_t recorded[] = {call_ra, inline_ra};
    struct lts_stack stacks[] = {{0, NULL}, {2, recorded}};
    struct lts_snapshot v = snap;
    v.stacks = stacks;
    v.nstacks = 2;
    uint64_t when[] = {SYM_ANY_TIME, SYM_ANY_TIME};
    struct lts_error err;
    struct content_regex *fold = content_regex_compile("^caller_site$", &err);
    assert_non_null(fold);
    for (int folded = 0; folded < 2; folded++) {
        struct frames *f = NULL;
        assert_int_equal(frames_build(&v, sym, folded ? fold : NULL, when, &f, &err), 0);
        const struct stack_frames *sf = frames_of(f, 1);
        assert_int_equal(sf->skipped, folded);
        assert_int_equal(sf->n, folded ? 2 : 3);
        const char *want[] = {"caller_site", "inlined_leaf", "inline_host"};
        for (uint32_t i = 0; i < sf->n; i++)
            assert_string_equal(sf->frames[i].name, want[i + (unsigned)folded]);
        assert_string_equal(sf->site.name, "caller_site");
        uint32_t depth = 0;
        const uint64_t *r = frames_recorded(f, &v, 1, &depth);
        assert_int_equal(depth, 2 - folded);
        assert_int_equal(r[0], folded ? inline_ra : call_ra);
        assert_string_equal(frames_of(f, 0)->site.name, "(no stack)");
        assert_int_equal(frames_of(f, 0)->n, 0);
        frames_free(f);
    }
    content_regex_free(fold);
    sym_close(sym);
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
        cmocka_unit_test(fold_takes_frames_off_the_top),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
