/* cfi.h — how to step out of a frame, from the call-frame information (.eh_frame) of the
 * module that holds the code: the canonical frame address (CFA) as SP or FP plus an offset,
 * the return address saved just below it, and where the caller's FP is saved. The module is
 * found with glibc's lock-free _dl_find_object, the FDE through its .eh_frame_hdr search
 * table; the rule at each code address is worked out once and cached. Never allocates,
 * never takes a lock, reads nothing but loaded modules' unwind tables. x86 family only
 * (arch.h: LT_ARCH_CFI). */
#ifndef LT_CFI_H
#define LT_CFI_H

#include <stdbool.h>
#include <stdint.h>

enum lt_cfi_kind {
    LT_CFI_UNKNOWN = 0, /* no rule leaktag can follow (no FDE, an expression, a signal frame) */
    LT_CFI_STEP = 1,    /* cfa = (SP or FP) + cfa_offset, or the word there (cfa_deref);
                           the return address at cfa - word */
    LT_CFI_END = 2,     /* the outermost frame: the return address is undefined */
};

struct lt_cfi_rule {
    uint8_t kind;     /* enum lt_cfi_kind */
    bool cfa_from_fp; /* CFA = FP + offset (else SP + offset) */
    bool cfa_deref;   /* CFA = the word at FP + offset (a frame that realigned its stack) */
    bool fp_saved;    /* the caller's FP is at cfa + fp_offset (else FP is unchanged) */
    bool fp_at_fp;    /* ... at FP + fp_offset instead */
    int32_t cfa_offset;
    int32_t fp_offset;
};

/* The rule for the frame executing at code address pc (a return address minus 1, so that it
 * lies inside the call instruction's function). */
void lt_cfi_rule(uint64_t pc, struct lt_cfi_rule *out);

#endif
