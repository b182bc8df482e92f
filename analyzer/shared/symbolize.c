/* symbolize.c — offline symbolization with libdwfl: one Dwfl for the snapshot, each module
 * reported the first time an address falls into it, each compilation unit's functions indexed
 * once, every address resolved once and cached. Never names an address from a file whose
 * build-id differs from the snapshot's. One thread.
 *
 * A module that is missing or rebuilt is shown as module+0xoffset, with one warning; C++ names
 * are demangled; sym_data names the global an address is in. */
#include "symbolize.h"

#include <dwarf.h>
#include <errno.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "hashmap.h"

/* libstdc++'s demangler (cxxabi.h is C++ only); the program links -lstdc++. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* ---- the symbolizer ------------------------------------------------------------------------ */

enum module_state {
    MODULE_UNSEEN, /* no address has fallen into it yet: its file is not opened */
    MODULE_READY,  /* reported to libdwfl, build-id checked */
    MODULE_BLIND,  /* gone, unreadable or rebuilt: addresses are shown as module+offset */
};

/* A compilation unit's code range (DWARF address), for files without .debug_aranges. */
struct unit_range {
    Dwarf_Addr low, high;
    Dwarf_Off offset; /* of the CU DIE */
};

struct module {
    const struct lts_module *lts;
    const char *path; /* never NULL */
    const char *name; /* basename, interned */
    Dwfl *session;    /* its own: modules that came and went may overlap in address */
    Dwfl_Module *dwfl;
    enum module_state state;
    bool cus_listed;
    struct unit_range *cus; /* sorted by low; in the arena */
    size_t ncus;
};

struct range {
    uint64_t start, end;
    size_t module;
};

/* A function's code range in a compilation unit (DWARF addresses, before the module bias). */
struct func {
    Dwarf_Addr low, high;
    Dwarf_Off offset; /* of die */
    Dwarf_Die die;
};

/* Which unit: the key of sym->units. */
struct unit_key {
    Dwfl_Module *dm;
    Dwarf_Off offset; /* of the CU DIE */
};

struct unit_index {
    struct unit_key key;
    struct func *funcs; /* sorted by low */
    size_t nfuncs;
};

/* What a cache entry is for: an address, resolved against one module (modules that come
 * and go may cover the same address at different times). */
struct entry_key {
    uint64_t address;
    uint64_t module; /* index, or UINT64_MAX for none */
};

struct entry {
    struct entry_key key;
    size_t n;
    struct sym_frame frames[];
};

struct symbolizer {
    const struct lts_snapshot *s;
    FILE *warn;
    Dwfl *dwfl;
    struct module *modules;
    size_t nmodules;
    struct range *ranges; /* every PT_LOAD segment, sorted by start */
    size_t nranges;

    struct lts_arena_chunk *arena; /* frames and strings, until sym_close */
    struct hashmap strings;        /* interned strings: one copy of each path and name */
    struct hashmap cache;          /* address -> struct entry * */
    struct hashmap units;          /* unit_key -> struct unit_index * (its functions) */

    struct sym_frame *scratch; /* the frames of the address being resolved */
    size_t nscratch, scratch_cap;
    struct func *collected; /* a unit's functions while it is indexed */
    size_t ncollected, collected_cap;
    char *demangled; /* __cxa_demangle's buffer, reused */
    size_t demangled_len;
    bool oom;               /* an allocation failed while resolving the current address */
    struct sym_frame spare; /* the answer when out of memory */
};

/* NULL: libdwfl's default search path (/usr/lib/debug, .gnu_debuglink next to the file). */
static char *debuginfo_path;

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

__attribute__((format(printf, 3, 4))) static void warn_module(struct symbolizer *sym,
                                                              const struct module *mod,
                                                              const char *fmt, ...)
{
    if (!sym->warn)
        return;
    va_list ap;
    va_start(ap, fmt);
    /* (both leaktag-report and leaktag-scan symbolize: the warning names the one running) */
    fprintf(sym->warn, "%s: warning: %s: ", program_invocation_short_name,
            mod->path[0] ? mod->path : "(unnamed module)");
    vfprintf(sym->warn, fmt, ap);
    fputc('\n', sym->warn);
    va_end(ap);
}

/* ---- interned strings ---------------------------------------------------------------------- */

/* Returns the symbolizer's copy of s[0..n), or NULL (and sets oom) when out of memory. */
static const char *intern_n(struct symbolizer *sym, const char *s, size_t n)
{
    struct hashmap_slot *known = hashmap_find_bytes(&sym->strings, s, n);
    if (known)
        return known->key;
    char *copy = lts_arena_alloc(&sym->arena, n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    if (!copy || !hashmap_bytes(&sym->strings, copy, n, NULL)) {
        sym->oom = true; /* an unused copy stays in the arena until sym_close */
        return NULL;
    }
    return copy;
}

static const char *intern(struct symbolizer *sym, const char *s)
{
    return s ? intern_n(sym, s, strlen(s)) : NULL;
}

/* ---- the address cache --------------------------------------------------------------------- */

static struct entry *cache_find(const struct symbolizer *sym, struct entry_key key)
{
    struct hashmap_slot *slot = hashmap_find_bytes(&sym->cache, &key, sizeof(key));
    return slot ? (struct entry *)(uintptr_t)slot->value : NULL;
}

/* Stores the scratch frames for key (known to be absent). */
static struct entry *cache_add(struct symbolizer *sym, struct entry_key key)
{
    struct entry *e = lts_arena_alloc(&sym->arena,
                                      sizeof(*e) + sym->nscratch * sizeof(e->frames[0]));
    if (e)
        e->key = key;
    struct hashmap_slot *slot = e ? hashmap_bytes(&sym->cache, &e->key, sizeof(e->key), NULL)
                                  : NULL;
    if (!slot)
        return NULL;
    e->n = sym->nscratch;
    memcpy(e->frames, sym->scratch, sym->nscratch * sizeof(e->frames[0]));
    slot->value = (uint64_t)(uintptr_t)e;
    return e;
}

static void push_frame(struct symbolizer *sym, const struct sym_frame *f)
{
    if (sym->nscratch == sym->scratch_cap) {
        size_t cap = sym->scratch_cap ? sym->scratch_cap * 2 : 16;
        struct sym_frame *fresh = realloc(sym->scratch, cap * sizeof(*fresh));
        if (!fresh) {
            sym->oom = true;
            return;
        }
        sym->scratch = fresh;
        sym->scratch_cap = cap;
    }
    sym->scratch[sym->nscratch++] = *f;
}

/* ---- modules ------------------------------------------------------------------------------- */

static int compare_ranges(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* How far `when` lies from the time module m was loaded: 0 inside it, and for any time the
 * module still loaded comes first, then the one gone last. */
static uint64_t distance(const struct module *m, uint64_t when)
{
    uint64_t loaded = m->lts->loaded_cs, unloaded = m->lts->unloaded_cs;
    if (when == SYM_ANY_TIME)
        return unloaded ? UINT32_MAX - unloaded + 1 : 0;
    if (when < loaded)
        return loaded - when;
    if (unloaded && when >= unloaded)
        return when - unloaded + 1;
    return 0;
}

/* The module covering pc at time when: several may, when one was unloaded and another
 * loaded where it was. */
static struct module *module_at(const struct symbolizer *sym, uint64_t pc, uint64_t when)
{
    size_t lo = 0, hi = sym->nranges; /* find the last range starting at or below pc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sym->ranges[mid].start <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct module *best = NULL;
    uint64_t best_distance = UINT64_MAX;
    for (size_t i = lo; i-- > 0 && lo - i <= 64;) {
        if (pc >= sym->ranges[i].end)
            continue;
        struct module *m = &sym->modules[sym->ranges[i].module];
        uint64_t d = distance(m, when);
        if (d < best_distance) {
            best = m;
            best_distance = d;
        }
    }
    return best;
}

/* The vDSO has no file: its code only ever existed in the traced process's memory. */
static bool is_vdso(const char *path, const char *base)
{
    return !strcmp(path, "[vdso]") || !strncmp(base, "linux-vdso.so", 13) ||
           !strncmp(base, "linux-gate.so", 13);
}

/* Opens a module's file the first time an address falls into it, once: whatever goes wrong
 * is warned about here and the module stays blind, so a missing file costs one line. */
static void module_load(struct symbolizer *sym, struct module *mod)
{
    const char *path = mod->path;
    mod->state = MODULE_BLIND;
    if (is_vdso(path, mod->name))
        return;
    if (!(mod->session = dwfl_begin(&callbacks))) {
        warn_module(sym, mod, "libdw cannot start; addresses shown as module+offset");
        return;
    }
    dwfl_report_begin_add(mod->session);
    /* add_p_vaddr true: the snapshot's bias is dlpi_addr (runtime = ELF vaddr + bias). With
     * false libdwfl would take it for the first PT_LOAD's runtime address, which is the same
     * only when that segment's vaddr is 0 (not so for prelinked or -Ttext objects). */
    Dwfl_Module *dm = path[0] ? dwfl_report_elf(mod->session, path, path, -1, mod->lts->bias, true)
                              : NULL;
    int err = dwfl_errno();
    if (dwfl_report_end(mod->session, NULL, NULL) != 0 && dm) {
        err = dwfl_errno();
        dm = NULL;
    }
    if (!dm) {
        if (!path[0] || access(path, R_OK) != 0)
            warn_module(sym, mod, "cannot open (gone?); addresses shown as module+offset");
        else
            warn_module(sym, mod, "cannot read it (%s); addresses shown as module+offset",
                        dwfl_errmsg(err));
        return;
    }
    if (mod->lts->build_id_len) {
        const unsigned char *bits = NULL;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(dm, &bits, &vaddr);
        if (len <= 0 || (size_t)len != mod->lts->build_id_len ||
            memcmp(bits, mod->lts->build_id, (size_t)len) != 0) {
            warn_module(sym, mod,
                        "build-id differs from the snapshot; symbols for it are not shown "
                        "(rebuilt since?)");
            return;
        }
    }
    mod->dwfl = dm;
    mod->state = MODULE_READY;
}

/* ---- names and source locations ------------------------------------------------------------ */

/* Returns the demangled form of a C++ (Itanium ABI) name, or NULL if it is not one. */
static const char *demangle(struct symbolizer *sym, const char *name)
{
    if (name[0] != '_' || name[1] != 'Z')
        return NULL;
    int status = -1;
    char *out = __cxa_demangle(name, sym->demangled, &sym->demangled_len, &status);
    if (status != 0 || !out)
        return NULL; /* the buffer, if any, is untouched and still ours */
    sym->demangled = out;
    return intern(sym, out);
}

/* The linkage name gives C++ its full signature (parameters, namespaces); dwarf_attr_integrate
 * follows abstract_origin and specification, where an inlined or out-of-class definition
 * keeps its names. */
static const char *die_function(struct symbolizer *sym, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!linkage)
        linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (linkage) {
        const char *readable = demangle(sym, linkage);
        if (readable)
            return readable;
    }
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    return intern(sym, name ? name : linkage);
}

static const char *symtab_function(struct symbolizer *sym, Dwfl_Module *dm, uint64_t pc)
{
    GElf_Off off;
    GElf_Sym elf_sym;
    const char *name = dwfl_module_addrinfo(dm, pc, &off, &elf_sym, NULL, NULL, NULL);
    if (!name || !name[0])
        return NULL;
    const char *readable = demangle(sym, name);
    return readable ? readable : intern(sym, name);
}

/* libdw already joins a file's name to its line-table directory; a directory given relative
 * to the compilation directory still needs that one. A relative compilation directory (a
 * build with -fdebug-prefix-map) is kept as the build recorded it. */
/* "/a/build/../src/./x.c" -> "/a/src/x.c", in place; only for absolute paths, where ".."
 * of the root stays the root. Purely lexical, as the build recorded it: no file is read. */
void sym_tidy_path(char *path)
{
    if (path[0] != '/')
        return;
    char *out = path + 1;
    for (const char *in = path + 1; *in;) {
        const char *end = strchr(in, '/');
        size_t len = end ? (size_t)(end - in) : strlen(in);
        if (len == 0 || (len == 1 && in[0] == '.')) {
            /* "//" or "/./": nothing to keep */
        } else if (len == 2 && in[0] == '.' && in[1] == '.') {
            if (out > path + 1) { /* drop the last kept component */
                out--;
                while (out > path + 1 && out[-1] != '/')
                    out--;
            }
        } else {
            memmove(out, in, len);
            out += len;
            if (end) /* (after the last component, out may sit on the terminator itself) */
                *out++ = '/';
        }
        in += len + (end ? 1 : 0);
    }
    if (out > path + 1 && out[-1] == '/')
        out--;
    *out = '\0';
}

static const char *source_path(struct symbolizer *sym, const char *src, Dwarf_Die *cu)
{
    Dwarf_Attribute attr;
    const char *dir = src[0] != '/' && cu ? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr))
                                          : NULL;
    if (!dir || dir[0] != '/')
        return intern(sym, src);
    size_t ndir = strlen(dir), nsrc = strlen(src);
    char *joined = malloc(ndir + 1 + nsrc + 1);
    if (!joined) {
        sym->oom = true;
        return NULL;
    }
    memcpy(joined, dir, ndir);
    joined[ndir] = '/';
    memcpy(joined + ndir + 1, src, nsrc + 1);
    sym_tidy_path(joined);
    const char *result = intern(sym, joined);
    free(joined);
    return result;
}

/* Where the inlined subroutine die was called from: a place in the function it was inlined
 * into, recorded on the inlined instance itself. */
static void call_site(struct symbolizer *sym, Dwarf_Die *die, const char **file, unsigned *line)
{
    Dwarf_Attribute attr;
    Dwarf_Word val;
    Dwarf_Die cu_mem, *cu = dwarf_diecu(die, &cu_mem, NULL, NULL);
    Dwarf_Files *files;
    size_t nfiles;
    *file = NULL;
    *line = 0;
    if (cu && dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &val) == 0 &&
        dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && val < nfiles) {
        const char *src = dwarf_filesrc(files, val, NULL, NULL);
        if (src)
            *file = source_path(sym, src, cu);
    }
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &val) == 0)
        *line = val > UINT_MAX ? 0 : (unsigned)val;
}

/* ---- scopes: which functions, inlined or not, hold an address -------------------------------- */

static void collect_func(struct symbolizer *sym, Dwarf_Die *die)
{
    Dwarf_Addr base, low, high;
    for (ptrdiff_t off = 0; (off = dwarf_ranges(die, off, &base, &low, &high)) > 0;) {
        if (low >= high)
            continue;
        if (sym->ncollected == sym->collected_cap) {
            size_t cap = sym->collected_cap ? sym->collected_cap * 2 : 256;
            struct func *fresh = realloc(sym->collected, cap * sizeof(*fresh));
            if (!fresh) {
                sym->oom = true;
                return;
            }
            sym->collected = fresh;
            sym->collected_cap = cap;
        }
        sym->collected[sym->ncollected++] = (struct func){low, high, dwarf_dieoffset(die), *die};
    }
}

/* Function definitions sit at the top of a CU, or inside namespaces and classes (C++). */
static void collect_funcs(struct symbolizer *sym, Dwarf_Die *parent, int depth)
{
    Dwarf_Die child;
    if (depth > 64 || dwarf_child(parent, &child) != 0)
        return;
    do {
        switch (dwarf_tag(&child)) {
        case DW_TAG_subprogram:
        case DW_TAG_entry_point: collect_func(sym, &child); break;
        case DW_TAG_namespace:
        case DW_TAG_module:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type: collect_funcs(sym, &child, depth + 1); break;
        default: break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

/* By address, then in DIE order: of aliases (one code range, several DIEs, as glibc's
 * assembly has), the first is the one dwarf_getscopes and eu-addr2line report. */
static int compare_funcs(const void *a, const void *b)
{
    const struct func *x = a, *y = b;
    if (x->low != y->low)
        return x->low < y->low ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* A CU's functions, indexed the first time an address falls into the CU: finding the scopes
 * at an address from the CU DIE down (dwarf_getscopes) walks the whole CU every time, which
 * costs milliseconds per address in large C++ units. */
static const struct unit_index *unit_of(struct symbolizer *sym, Dwfl_Module *dm, Dwarf_Die *cu)
{
    struct unit_key key;
    memset(&key, 0, sizeof(key)); /* the key's bytes are hashed: no stray padding */
    key.dm = dm;
    key.offset = dwarf_dieoffset(cu);
    struct hashmap_slot *known = hashmap_find_bytes(&sym->units, &key, sizeof(key));
    if (known)
        return (const struct unit_index *)(uintptr_t)known->value;
    struct unit_index *u = lts_arena_alloc(&sym->arena, sizeof(*u));
    if (!u) {
        sym->oom = true;
        return NULL;
    }
    sym->ncollected = 0;
    collect_funcs(sym, cu, 0);
    if (sym->ncollected)
        qsort(sym->collected, sym->ncollected, sizeof(*sym->collected), compare_funcs);
    *u = (struct unit_index){key, NULL, sym->ncollected};
    if (u->nfuncs) {
        u->funcs = lts_arena_alloc(&sym->arena, u->nfuncs * sizeof(*u->funcs));
        if (!u->funcs) {
            sym->oom = true;
            return NULL;
        }
        memcpy(u->funcs, sym->collected, u->nfuncs * sizeof(*u->funcs));
    }
    struct hashmap_slot *slot = hashmap_bytes(&sym->units, &u->key, sizeof(u->key), NULL);
    if (!slot) {
        sym->oom = true;
        return NULL;
    }
    slot->value = (uint64_t)(uintptr_t)u;
    return u;
}

/* The scopes holding pc in their physical nesting, innermost first, down from the indexed
 * function: each inlined instance is followed by the function it was inlined into. Returns
 * their number (0: not found) with *chain malloc'd. */
static int descend(struct symbolizer *sym, const struct unit_index *u, Dwarf_Addr pc,
                   Dwarf_Die **chain)
{
    size_t lo = 0, hi = u->nfuncs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->funcs[mid].low <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    size_t first = lo - 1;
    while (first > 0 && u->funcs[first - 1].low == u->funcs[lo - 1].low)
        first--;
    while (first < lo && pc >= u->funcs[first].high)
        first++;
    if (first == lo)
        return 0;
    size_t n = 1, cap = 16;
    Dwarf_Die *dies = malloc(cap * sizeof(*dies));
    if (!dies)
        return 0;
    dies[0] = u->funcs[first].die;
    for (bool deeper = true; deeper && n < 1024;) {
        Dwarf_Die child;
        deeper = false;
        if (dwarf_child(&dies[n - 1], &child) != 0)
            break;
        do {
            if (dwarf_haspc(&child, pc) == 1) {
                if (n == cap) {
                    Dwarf_Die *fresh = realloc(dies, (cap *= 2) * sizeof(*dies));
                    if (!fresh) {
                        sym->oom = true;
                        break;
                    }
                    dies = fresh;
                }
                dies[n++] = child;
                deeper = true;
                break;
            }
        } while (dwarf_siblingof(&child, &child) == 0);
    }
    for (size_t i = 0; i < n / 2; i++) {
        Dwarf_Die t = dies[i];
        dies[i] = dies[n - 1 - i];
        dies[n - 1 - i] = t;
    }
    *chain = dies;
    return (int)n;
}

/* The scope chain at pc (a DWARF address): from the unit's index, else from libdw's generic
 * search. dwarf_getscopes finds the innermost scope, but above an inlined instance it lists
 * the abstract definition's scopes; the instance's real parents (the functions it was inlined
 * into) come from dwarf_getscopes_die, as eu-addr2line -i does. */
static int scope_chain(struct symbolizer *sym, Dwfl_Module *dm, Dwarf_Die *cu, Dwarf_Addr pc,
                       Dwarf_Die **chain)
{
    const struct unit_index *u = unit_of(sym, dm, cu);
    int n = u ? descend(sym, u, pc, chain) : 0;
    if (n > 0)
        return n;
    Dwarf_Die *scopes = NULL;
    int nscopes = dwarf_getscopes(cu, pc, &scopes);
    n = 0;
    if (nscopes > 0) {
        Dwarf_Die innermost = scopes[0];
        n = dwarf_getscopes_die(&innermost, chain);
    }
    free(scopes);
    return n > 0 ? n : 0;
}

static int compare_unit_ranges(const void *a, const void *b)
{
    const struct unit_range *x = a, *y = b;
    if (x->low != y->low)
        return x->low < y->low ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Lists a module's CUs with their ranges, once. */
static void list_cus(struct symbolizer *sym, struct module *mod, Dwarf *dw)
{
    size_t n = 0, cap = 0;
    struct unit_range *list = NULL;
    Dwarf_Off offset = 0, next;
    size_t header;
    mod->cus_listed = true;
    for (; dwarf_nextcu(dw, offset, &next, &header, NULL, NULL, NULL) == 0; offset = next) {
        Dwarf_Die cu;
        if (!dwarf_offdie(dw, offset + header, &cu) || dwarf_tag(&cu) != DW_TAG_compile_unit)
            continue;
        Dwarf_Addr base, low, high;
        for (ptrdiff_t off = 0; (off = dwarf_ranges(&cu, off, &base, &low, &high)) > 0;) {
            if (low >= high)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct unit_range *fresh = realloc(list, cap * sizeof(*fresh));
                if (!fresh) {
                    sym->oom = true;
                    free(list);
                    return;
                }
                list = fresh;
            }
            list[n++] = (struct unit_range){low, high, offset + header};
        }
    }
    if (n) {
        qsort(list, n, sizeof(*list), compare_unit_ranges);
        mod->cus = lts_arena_alloc(&sym->arena, n * sizeof(*list));
        if (mod->cus) {
            memcpy(mod->cus, list, n * sizeof(*list));
            mod->ncus = n;
        } else {
            sym->oom = true;
        }
    }
    free(list);
}

/* The CU holding pc. libdwfl (0.188) finds CUs through .debug_aranges only, which clang does
 * not emit: such files are searched through the CUs' own ranges. */
static Dwarf_Die *unit_at(struct symbolizer *sym, struct module *mod, uint64_t pc, Dwarf_Die *mem,
                          Dwarf_Addr *dwarf_bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod->dwfl, pc, dwarf_bias);
    if (cu)
        return cu;
    Dwarf *dw = dwfl_module_getdwarf(mod->dwfl, dwarf_bias);
    if (!dw)
        return NULL;
    if (!mod->cus_listed)
        list_cus(sym, mod, dw);
    Dwarf_Addr at = pc - *dwarf_bias;
    size_t lo = 0, hi = mod->ncus;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mod->cus[mid].low <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || at >= mod->cus[lo - 1].high)
        return NULL;
    return dwarf_offdie(dw, mod->cus[lo - 1].offset, mem);
}

/* The line-table row at pc: libdwfl's lookup, else the CU's own table (see unit_at). */
static void source_line(struct symbolizer *sym, Dwfl_Module *dm, uint64_t pc, Dwarf_Die *cu,
                        Dwarf_Addr dwarf_bias, struct sym_frame *f)
{
    const char *src = NULL;
    int line = 0, column = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(dm, pc);
    if (dl) {
        Dwarf_Addr at;
        src = dwfl_lineinfo(dl, &at, &line, &column, NULL, NULL);
        cu = dwfl_linecu(dl);
    } else if (cu) {
        Dwarf_Line *l = dwarf_getsrc_die(cu, pc - dwarf_bias);
        if (l && (src = dwarf_linesrc(l, NULL, NULL)) && dwarf_lineno(l, &line) != 0)
            line = 0;
    }
    if (src) {
        f->file = source_path(sym, src, cu);
        f->line = line > 0 ? (unsigned)line : 0;
    }
}

static bool is_function_scope(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* Fills the scratch frames for pc (= return address - 1) in a ready module. */
static void describe(struct symbolizer *sym, struct module *mod, uint64_t pc,
                     const struct sym_frame *base)
{
    Dwfl_Module *dm = mod->dwfl;
    struct sym_frame f = *base;
    Dwarf_Addr dwarf_bias = 0;
    Dwarf_Die cu_mem, *cu = unit_at(sym, mod, pc, &cu_mem, &dwarf_bias);
    source_line(sym, dm, pc, cu, dwarf_bias, &f);
    Dwarf_Die *chain = NULL;
    int nchain = cu ? scope_chain(sym, dm, cu, pc - dwarf_bias, &chain) : 0;

    for (int i = 0; i < nchain; i++) {
        int tag = dwarf_tag(&chain[i]);
        if (!is_function_scope(tag))
            continue; /* lexical blocks */
        f.function = die_function(sym, &chain[i]);
        f.inlined = tag == DW_TAG_inlined_subroutine;
        if (!f.inlined) {
            if (!f.function)
                f.function = symtab_function(sym, dm, pc);
            push_frame(sym, &f);
            free(chain);
            return;
        }
        push_frame(sym, &f);
        call_site(sym, &chain[i], &f.file, &f.line);
    }
    /* No DWARF, or an inline chain without its container: the symbol table names the code.
     * With no function scope at all, a line found by address belongs to some other code (the
     * nearest row of another unit, say after _start): better none than a wrong one. */
    bool any_scope = false;
    for (int i = 0; i < nchain; i++)
        any_scope |= is_function_scope(dwarf_tag(&chain[i]));
    free(chain);
    if (!any_scope) {
        f.file = NULL;
        f.line = 0;
    }
    f.function = symtab_function(sym, dm, pc);
    f.inlined = 0;
    push_frame(sym, &f);
}

/* ---- interface ----------------------------------------------------------------------------- */

int sym_open(const struct lts_snapshot *s, FILE *warn, struct symbolizer **out,
             struct lts_error *err)
{
    *out = NULL;
    struct symbolizer *sym = calloc(1, sizeof(*sym));
    if (!sym)
        return lts_fail(err, "out of memory");
    sym->s = s;
    sym->warn = warn;
    sym->nmodules = s->modules ? s->nmodules : 0;
    size_t nsegments = 0;
    for (size_t i = 0; i < sym->nmodules; i++)
        nsegments += s->modules[i].segments ? s->modules[i].nsegments : 0;
    sym->modules = calloc(sym->nmodules + 1, sizeof(*sym->modules));
    sym->ranges = calloc(nsegments + 1, sizeof(*sym->ranges));
    sym->dwfl = dwfl_begin(&callbacks);
    if (!sym->modules || !sym->ranges || !sym->dwfl)
        goto fail;

    for (size_t i = 0; i < sym->nmodules; i++) {
        const struct lts_module *m = &s->modules[i];
        struct module *mod = &sym->modules[i];
        mod->lts = m;
        mod->path = m->path ? m->path : "";
        const char *slash = strrchr(mod->path, '/');
        mod->name = intern(sym, slash && slash[1] ? slash + 1 : mod->path);
        if (!mod->name)
            goto fail;
        for (uint32_t j = 0; m->segments && j < m->nsegments; j++) {
            const struct lts_segment *seg = &m->segments[j];
            if (seg->size == 0 || seg->start + seg->size < seg->start)
                continue;
            sym->ranges[sym->nranges++] = (struct range){seg->start, seg->start + seg->size, i};
        }
    }
    qsort(sym->ranges, sym->nranges, sizeof(*sym->ranges), compare_ranges);
    *out = sym;
    return 0;

fail:
    lts_fail(err, "%s", sym->dwfl ? "out of memory" : "libdw cannot start");
    sym_close(sym);
    return -1;
}

size_t sym_resolve(struct symbolizer *sym, uint64_t address, const struct sym_frame **frames)
{
    return sym_resolve_at(sym, address, SYM_ANY_TIME, frames);
}

size_t sym_resolve_at(struct symbolizer *sym, uint64_t address, uint64_t when_cs,
                      const struct sym_frame **frames)
{
    /* A return address may sit just past its function (a call as its last instruction), even
     * past its module's last byte: the call itself is at address - 1. */
    uint64_t pc = address - 1;
    struct module *mod = address ? module_at(sym, pc, when_cs) : NULL;
    struct entry_key key;
    memset(&key, 0, sizeof(key)); /* hashed as bytes */
    key.address = address;
    key.module = mod ? (uint64_t)(mod - sym->modules) : UINT64_MAX;
    struct entry *e = cache_find(sym, key);
    if (e) {
        *frames = e->frames;
        return e->n;
    }
    sym->nscratch = 0;
    sym->oom = false;
    struct sym_frame base = {.address = address, .offset = address};
    if (mod) {
        base.module = mod->name;
        base.offset = address - mod->lts->bias;
        if (mod->state == MODULE_UNSEEN)
            module_load(sym, mod);
        if (mod->state == MODULE_READY)
            describe(sym, mod, pc, &base);
    }
    if (sym->nscratch == 0)
        push_frame(sym, &base);
    if (!sym->oom && (e = cache_add(sym, key))) {
        *frames = e->frames;
        return e->n;
    }
    /* Out of memory: 0, with the address unnamed and uncached in a frame the next such call
     * overwrites, for callers that only print. */
    sym->spare = base;
    *frames = &sym->spare;
    return 0;
}

int sym_data(struct symbolizer *sym, uint64_t address, const char **module, const char **symbol,
             uint64_t *offset)
{
    struct module *mod = module_at(sym, address, SYM_ANY_TIME);
    *symbol = NULL;
    *offset = 0;
    if (!mod)
        return 0;
    *module = mod->name;
    if (mod->state == MODULE_UNSEEN)
        module_load(sym, mod);
    if (mod->state != MODULE_READY)
        return 1;
    GElf_Off off;
    GElf_Sym elf_sym;
    const char *name = dwfl_module_addrinfo(mod->dwfl, address, &off, &elf_sym, NULL, NULL, NULL);
    if (name && name[0] && off < (elf_sym.st_size ? elf_sym.st_size : 1)) {
        const char *readable = demangle(sym, name);
        *symbol = readable ? readable : intern(sym, name);
        *offset = off;
    }
    return 1;
}

void sym_close(struct symbolizer *sym)
{
    if (!sym)
        return;
    if (sym->dwfl)
        dwfl_end(sym->dwfl);
    for (size_t i = 0; sym->modules && i < sym->nmodules; i++)
        if (sym->modules[i].session)
            dwfl_end(sym->modules[i].session);
    free(sym->modules);
    free(sym->ranges);
    hashmap_free(&sym->strings);
    hashmap_free(&sym->cache);
    hashmap_free(&sym->units);
    free(sym->scratch);
    free(sym->collected);
    free(sym->demangled);
    lts_arena_free(sym->arena);
    free(sym);
}
