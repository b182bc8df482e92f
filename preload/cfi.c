/* cfi.c — the .eh_frame interpreter: finds the FDE of a code address (_dl_find_object, then
 * the binary search table of .eh_frame_hdr), runs the CIE's and the FDE's CFA instructions up
 * to the address, and keeps what the unwinder needs: the CFA rule, where the return address
 * and the frame pointer are saved. Rules are cached by address in a lock-free table (each
 * entry a key and a value, the key written last and checked again after the value is
 * read). What it does not follow (expressions, signal frames, 64-bit DWARF, unusual
 * encodings) it reports as unknown, and the caller falls back to libunwind. */
#include "cfi.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>

#include "arch.h"
#include "compiler.h"

#if LT_ARCH_CFI

/* ---- reading DWARF ------------------------------------------------------------------------- */

#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_ULEB128 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB128 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

struct in {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t word_mask(uint64_t v)
{
    return LT_ARCH_WORD == 8 ? v : (uint32_t)v;
}

static bool room(struct in *in, size_t n)
{
    if (in->bad || (size_t)(in->end - in->p) < n) {
        in->bad = true;
        return false;
    }
    return true;
}

static uint64_t get_uleb(struct in *in)
{
    uint64_t v = 0;
    for (unsigned shift = 0; room(in, 1) && shift < 64; shift += 7) {
        uint8_t b = *in->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    in->bad = true;
    return 0;
}

static int64_t get_sleb(struct in *in)
{
    int64_t v = 0;
    unsigned shift = 0;
    for (; room(in, 1) && shift < 64;) {
        uint8_t b = *in->p++;
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= -((int64_t)1 << shift);
            return v;
        }
    }
    in->bad = true;
    return 0;
}

#define GET_FIXED(name, type)             \
    static type name(struct in *in)       \
    {                                     \
        type v = 0;                       \
        if (room(in, sizeof(v))) {        \
            memcpy(&v, in->p, sizeof(v)); \
            in->p += sizeof(v);           \
        }                                 \
        return v;                         \
    }
GET_FIXED(get_u8, uint8_t)
GET_FIXED(get_u16, uint16_t)
GET_FIXED(get_u32, uint32_t)
GET_FIXED(get_u64, uint64_t)

/* A pointer in one of the encodings GNU tools emit. Indirect ones (personality routines)
 * are skipped over, never followed. */
static uint64_t get_encoded(struct in *in, uint8_t enc, uint64_t datarel)
{
    const uint8_t *at = in->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR: v = LT_ARCH_WORD == 8 ? get_u64(in) : get_u32(in); break;
    case PE_ULEB128: v = get_uleb(in); break;
    case PE_UDATA2: v = get_u16(in); break;
    case PE_UDATA4: v = get_u32(in); break;
    case PE_UDATA8: v = get_u64(in); break;
    case PE_SLEB128: v = (uint64_t)get_sleb(in); break;
    case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)get_u16(in); break;
    case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)get_u32(in); break;
    case PE_SDATA8: v = get_u64(in); break;
    default: in->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0: break;
    case PE_PCREL: v += (uint64_t)(uintptr_t)at; break;
    case PE_DATAREL: v += datarel; break;
    default: in->bad = true; return 0;
    }
    return word_mask(v);
}

/* ---- CIE and FDE ------------------------------------------------------------------------- */

struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    bool has_z, signal_frame;
    const uint8_t *insns, *end;
};

static bool parse_cie(const uint8_t *at, struct cie *c)
{
    struct in in = {at, at + 16};
    uint32_t len = get_u32(&in);
    if (len == 0 || len == 0xffffffffu)
        return false; /* 64-bit DWARF: not what GNU tools write into .eh_frame */
    in.end = in.p + len;
    if (get_u32(&in) != 0)
        return false; /* not a CIE */
    uint8_t version = get_u8(&in);
    if (version != 1 && version != 3)
        return false;
    const char *aug = (const char *)in.p;
    size_t aug_len = strnlen(aug, (size_t)(in.end - in.p));
    in.p += aug_len + 1;
    if (aug_len && aug[0] != 'z')
        return false;
    *c = (struct cie){.fde_enc = PE_ABSPTR, .has_z = aug_len != 0, .end = in.end};
    c->code_align = get_uleb(&in);
    c->data_align = get_sleb(&in);
    c->ra_reg = version == 1 ? get_u8(&in) : get_uleb(&in);
    if (c->has_z) {
        uint64_t data_len = get_uleb(&in);
        const uint8_t *data_end = in.p + data_len;
        for (size_t i = 1; i < aug_len && !in.bad; i++) {
            switch (aug[i]) {
            case 'R': c->fde_enc = get_u8(&in); break;
            case 'L': get_u8(&in); break;
            case 'P': get_encoded(&in, get_u8(&in) & ~PE_INDIRECT, 0); break;
            case 'S': c->signal_frame = true; break;
            case 'B': break;
            default: return false;
            }
        }
        in.p = data_end;
    }
    c->insns = in.p;
    return !in.bad && in.p <= in.end;
}

/* ---- the CFA program ---------------------------------------------------------------------- */

/* REG_AT_FP: saved at FP + offset (DW_CFA_expression DW_OP_breg<fp> k, a realigned frame) */
enum { REG_SAME, REG_OFFSET, REG_UNDEFINED, REG_OTHER, REG_AT_FP };

struct reg_rule {
    uint8_t how;
    int64_t offset;
};

struct frame_state {
    uint64_t cfa_reg;
    int64_t cfa_offset;
    bool cfa_deref; /* CFA = *(cfa_reg + cfa_offset): a frame that realigned its stack */
    bool cfa_other; /* another expression: not followed */
    struct reg_rule fp, ra;
};

/* "DW_OP_breg<fp> k" (and "DW_OP_deref" after it when deref), the whole expression: the two
 * a compiler writes for a frame that realigns its stack (i386 main, and x86-64 functions
 * with over-aligned locals) — the CFA read from below the saved FP, the FP saved at FP. */
static bool fp_expression(const uint8_t *p, const uint8_t *end, bool deref, int64_t *k)
{
    if (p >= end || *p != 0x70 + LT_ARCH_DWARF_FP)
        return false;
    struct in e = {p + 1, end};
    *k = get_sleb(&e);
    if (deref && !(e.p < e.end && *e.p++ == 0x06))
        return false;
    return !e.bad && e.p == e.end;
}

#define STATE_STACK 8

struct program {
    struct frame_state now, initial, saved[STATE_STACK];
    unsigned nsaved;
    const struct cie *cie;
    bool unsupported;
};

static struct reg_rule *tracked(struct program *pr, uint64_t reg)
{
    if (reg == LT_ARCH_DWARF_FP)
        return &pr->now.fp;
    if (reg == pr->cie->ra_reg)
        return &pr->now.ra;
    return NULL;
}

static void set_rule(struct program *pr, uint64_t reg, uint8_t how, int64_t offset)
{
    struct reg_rule *r = tracked(pr, reg);
    if (r)
        *r = (struct reg_rule){how, offset};
}

static void restore_rule(struct program *pr, uint64_t reg)
{
    if (reg == LT_ARCH_DWARF_FP)
        pr->now.fp = pr->initial.fp;
    else if (reg == pr->cie->ra_reg)
        pr->now.ra = pr->initial.ra;
}

/* Runs instructions from loc while loc <= pc. Returns false on what it cannot follow. */
static bool run(struct program *pr, const uint8_t *p, const uint8_t *end, uint64_t loc, uint64_t pc)
{
    struct in in = {p, end};
    const struct cie *c = pr->cie;
    while (in.p < in.end && !in.bad && loc <= pc) {
        uint8_t op = get_u8(&in);
        uint8_t low = op & 0x3f;
        switch (op >> 6) {
        case 1: loc += low * c->code_align; continue; /* advance_loc */
        case 2:
            set_rule(pr, low, REG_OFFSET, (int64_t)get_uleb(&in) * c->data_align);
            continue;                            /* offset */
        case 3: restore_rule(pr, low); continue; /* restore */
        }
        uint64_t reg;
        switch (op) {
        case 0x00: break;                                        /* nop */
        case 0x01: loc = get_encoded(&in, c->fde_enc, 0); break; /* set_loc */
        case 0x02: loc += get_u8(&in) * c->code_align; break;    /* advance_loc1 */
        case 0x03: loc += get_u16(&in) * c->code_align; break;   /* advance_loc2 */
        case 0x04: loc += get_u32(&in) * c->code_align; break;   /* advance_loc4 */
        case 0x05:                                               /* offset_extended */
            reg = get_uleb(&in);
            set_rule(pr, reg, REG_OFFSET, (int64_t)get_uleb(&in) * c->data_align);
            break;
        case 0x06: restore_rule(pr, get_uleb(&in)); break;               /* restore_extended */
        case 0x07: set_rule(pr, get_uleb(&in), REG_UNDEFINED, 0); break; /* undefined */
        case 0x08: set_rule(pr, get_uleb(&in), REG_SAME, 0); break;      /* same_value */
        case 0x09:                                                       /* register */
            reg = get_uleb(&in);
            get_uleb(&in);
            set_rule(pr, reg, REG_OTHER, 0);
            break;
        case 0x0a: /* remember_state */
            if (pr->nsaved == STATE_STACK)
                return false;
            pr->saved[pr->nsaved++] = pr->now;
            break;
        case 0x0b: /* restore_state */
            if (!pr->nsaved)
                return false;
            pr->now = pr->saved[--pr->nsaved];
            break;
        case 0x0c: /* def_cfa */
            pr->now.cfa_reg = get_uleb(&in);
            pr->now.cfa_offset = (int64_t)get_uleb(&in);
            pr->now.cfa_other = pr->now.cfa_deref = false;
            break;
        case 0x0d: /* def_cfa_register */
            pr->now.cfa_reg = get_uleb(&in);
            pr->now.cfa_other = pr->now.cfa_deref = false;
            break;
        case 0x0e: /* def_cfa_offset */
            pr->now.cfa_offset = (int64_t)get_uleb(&in);
            pr->now.cfa_other |= pr->now.cfa_deref; /* only for a register rule */
            break;
        case 0x0f: { /* def_cfa_expression */
            uint64_t len = get_uleb(&in);
            const uint8_t *expr = in.p;
            in.p += len;
            int64_t k;
            bool followed = len <= (uint64_t)(in.end - expr) && fp_expression(expr, in.p, true, &k);
            pr->now.cfa_other = !followed;
            pr->now.cfa_deref = followed;
            if (followed) {
                pr->now.cfa_reg = LT_ARCH_DWARF_FP;
                pr->now.cfa_offset = k;
            }
            break;
        }
        case 0x10: { /* expression */
            reg = get_uleb(&in);
            uint64_t len = get_uleb(&in);
            const uint8_t *expr = in.p;
            in.p += len;
            int64_t k;
            if (reg == LT_ARCH_DWARF_FP && len <= (uint64_t)(in.end - expr) &&
                fp_expression(expr, in.p, false, &k))
                set_rule(pr, reg, REG_AT_FP, k);
            else
                set_rule(pr, reg, REG_OTHER, 0);
            break;
        }
        case 0x16: /* val_expression */
            reg = get_uleb(&in);
            in.p += get_uleb(&in);
            set_rule(pr, reg, REG_OTHER, 0);
            break;
        case 0x11: /* offset_extended_sf */
            reg = get_uleb(&in);
            set_rule(pr, reg, REG_OFFSET, get_sleb(&in) * c->data_align);
            break;
        case 0x12: /* def_cfa_sf */
            pr->now.cfa_reg = get_uleb(&in);
            pr->now.cfa_offset = get_sleb(&in) * c->data_align;
            pr->now.cfa_other = false;
            break;
        case 0x13:
            pr->now.cfa_offset = get_sleb(&in) * c->data_align;
            break; /* def_cfa_offset_sf */
        case 0x14: /* val_offset */
            reg = get_uleb(&in);
            get_uleb(&in);
            set_rule(pr, reg, REG_OTHER, 0);
            break;
        case 0x15: /* val_offset_sf */
            reg = get_uleb(&in);
            get_sleb(&in);
            set_rule(pr, reg, REG_OTHER, 0);
            break;
        case 0x2e: get_uleb(&in); break; /* GNU_args_size */
        case 0x2f:                       /* GNU_negative_offset_extended */
            reg = get_uleb(&in);
            set_rule(pr, reg, REG_OFFSET, -(int64_t)get_uleb(&in) * c->data_align);
            break;
        default: return false;
        }
    }
    return !in.bad;
}

/* ---- finding the FDE -------------------------------------------------------------------- */

/* The FDE covering pc, from the .eh_frame_hdr's sorted table (datarel sdata4 pairs, as GNU
 * ld writes it). NULL if there is none. */
static const uint8_t *find_fde(const uint8_t *hdr, uint64_t pc)
{
    struct in in = {hdr, hdr + 16};
    if (get_u8(&in) != 1)
        return NULL;
    uint8_t ptr_enc = get_u8(&in), count_enc = get_u8(&in), table_enc = get_u8(&in);
    in.end = hdr + 64;
    get_encoded(&in, ptr_enc, (uint64_t)(uintptr_t)hdr);
    uint64_t count = get_encoded(&in, count_enc, (uint64_t)(uintptr_t)hdr);
    if (in.bad || table_enc != (PE_DATAREL | PE_SDATA4) || !count)
        return NULL;
    const int32_t *table = (const int32_t *)(const void *)in.p;
    uint64_t base = (uint64_t)(uintptr_t)hdr;
    size_t lo = 0, hi = (size_t)count;
    while (hi - lo > 1) { /* the last entry starting at or before pc */
        size_t mid = lo + (hi - lo) / 2;
        if (word_mask(base + (uint64_t)(int64_t)table[2 * mid]) <= pc)
            lo = mid;
        else
            hi = mid;
    }
    if (word_mask(base + (uint64_t)(int64_t)table[2 * lo]) > pc)
        return NULL;
    return (const uint8_t *)(uintptr_t)word_mask(base + (uint64_t)(int64_t)table[2 * lo + 1]);
}

static void derive(uint64_t pc, struct lt_cfi_rule *out)
{
    *out = (struct lt_cfi_rule){.kind = LT_CFI_UNKNOWN};
    struct dl_find_object obj;
    if (_dl_find_object((void *)(uintptr_t)pc, &obj) != 0 || !obj.dlfo_eh_frame)
        return;
    const uint8_t *fde = find_fde(obj.dlfo_eh_frame, pc);
    if (!fde)
        return;
    struct in in = {fde, fde + 8};
    uint32_t len = get_u32(&in);
    if (len == 0 || len == 0xffffffffu)
        return;
    const uint8_t *after_len = in.p;
    in.end = after_len + len;
    uint32_t cie_offset = get_u32(&in);
    struct cie cie;
    if (!cie_offset || !parse_cie(after_len - cie_offset, &cie) || cie.signal_frame)
        return;
    uint64_t begin = get_encoded(&in, cie.fde_enc, 0);
    uint64_t range = word_mask(get_encoded(&in, cie.fde_enc & 0x0f, 0));
    if (in.bad || pc < begin || pc - begin >= range)
        return;
    if (cie.has_z)
        in.p += get_uleb(&in);
    struct program pr = {.cie = &cie};
    pr.now.ra = (struct reg_rule){REG_SAME, 0};
    if (!run(&pr, cie.insns, cie.end, 0, UINT64_MAX))
        return;
    pr.initial = pr.now;
    if (!run(&pr, in.p, in.end, begin, pc) || pr.now.cfa_other)
        return;
    if (pr.now.ra.how == REG_UNDEFINED) {
        out->kind = LT_CFI_END;
        return;
    }
    if ((pr.now.cfa_reg != LT_ARCH_DWARF_SP && pr.now.cfa_reg != LT_ARCH_DWARF_FP) ||
        pr.now.ra.how != REG_OFFSET || pr.now.ra.offset != -LT_ARCH_WORD ||
        (pr.now.fp.how != REG_OFFSET && pr.now.fp.how != REG_AT_FP && pr.now.fp.how != REG_SAME &&
         pr.now.fp.how != REG_UNDEFINED) ||
        pr.now.cfa_offset < INT32_MIN || pr.now.cfa_offset > INT32_MAX ||
        pr.now.fp.offset < INT16_MIN || pr.now.fp.offset > INT16_MAX)
        return;
    *out = (struct lt_cfi_rule){
        .kind = LT_CFI_STEP,
        .cfa_from_fp = pr.now.cfa_reg == LT_ARCH_DWARF_FP,
        .cfa_deref = pr.now.cfa_deref,
        .fp_saved = pr.now.fp.how == REG_OFFSET || pr.now.fp.how == REG_AT_FP,
        .fp_at_fp = pr.now.fp.how == REG_AT_FP,
        .cfa_offset = (int32_t)pr.now.cfa_offset,
        .fp_offset = (int32_t)pr.now.fp.offset,
    };
}

/* ---- the rule cache ---------------------------------------------------------------------- */

#define CACHE_SLOTS (1u << 14)

static struct {
    _Atomic uint64_t key; /* pc + 1; 0: empty */
    _Atomic uint64_t value;
} cache[CACHE_SLOTS];

static uint64_t pack(const struct lt_cfi_rule *r)
{
    return (uint64_t)r->kind | (uint64_t)r->cfa_from_fp << 2 | (uint64_t)r->fp_saved << 3 |
           (uint64_t)r->cfa_deref << 4 | (uint64_t)r->fp_at_fp << 5 |
           (uint64_t)(uint16_t)(int16_t)r->fp_offset << 16 |
           (uint64_t)(uint32_t)r->cfa_offset << 32;
}

static void unpack(uint64_t v, struct lt_cfi_rule *r)
{
    *r = (struct lt_cfi_rule){
        .kind = (uint8_t)(v & 3),
        .cfa_from_fp = (v >> 2) & 1,
        .fp_saved = (v >> 3) & 1,
        .cfa_deref = (v >> 4) & 1,
        .fp_at_fp = (v >> 5) & 1,
        .fp_offset = (int16_t)(uint16_t)(v >> 16),
        .cfa_offset = (int32_t)(uint32_t)(v >> 32),
    };
}

void lt_cfi_rule(uint64_t pc, struct lt_cfi_rule *out)
{
    uint64_t key = pc + 1, h = pc * 0x9E3779B97F4A7C15ull;
    unsigned slot = (unsigned)(h >> 50) & (CACHE_SLOTS - 1);
    if (atomic_load_explicit(&cache[slot].key, memory_order_acquire) == key) {
        uint64_t v = atomic_load_explicit(&cache[slot].value, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&cache[slot].key, memory_order_relaxed) == key) {
            unpack(v, out);
            return;
        }
    }
    derive(pc, out);
    atomic_store_explicit(&cache[slot].key, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&cache[slot].value, pack(out), memory_order_relaxed);
    atomic_store_explicit(&cache[slot].key, key, memory_order_release);
}

#else /* !LT_ARCH_CFI */

void lt_cfi_rule(uint64_t pc, struct lt_cfi_rule *out)
{
    (void)pc;
    *out = (struct lt_cfi_rule){.kind = LT_CFI_UNKNOWN};
}

#endif
