/* unwind.c — stack capture. leaktag's own walker steps from frame to frame with the call-frame
 * rules of cfi.c: no system call, no lock, no descriptor, a few loads per frame once a return
 * address's rule is cached. Stack memory is read directly inside the thread's own stack and
 * through process_vm_readv outside it (a coroutine's stack, say), so a wrong rule can end a
 * walk but never fault. Where the walker meets a frame it cannot follow (a signal frame, a
 * CFA expression), libunwind captures the stack instead; it is initialised only then, so a
 * process that never needs it never gets its validation pipe. Called inside malloc hooks
 * with the reentrancy guard held; preserves errno.
 *
 * A walk starts from the hook's frame, whose frame pointer gives the caller's SP and FP (no
 * register context is taken), and goes only until it meets the thread's previous walk (struct
 * lt_unwind_memo: the same slot holding the same return address), whose outer frames it takes
 * once their slots still hold them: consecutive misses usually share most of their stack. The
 * module of a return address comes from glibc's lock-free _dl_find_object, its FDE from the
 * .eh_frame_hdr search table, and the CIE and FDE programs are run up to the address once
 * (cfi.c). libunwind keeps an address-validation pipe open for good, which pipe2's wrapper,
 * inside leaktag, moves just below RLIMIT_NOFILE (fds.c); the counter unwind_fallbacks counts
 * its captures. Against libunwind, 2,833 distinct stacks of python3, git, g++, bash and perl
 * were identical. Frames in libleaktag.so itself (its pthread_create, which glibc's
 * allocations for a new thread pass through) are stepped over, not recorded, by both: stacks
 * begin and end in the application's code. Call-site mode (LEAKTAG_DEPTH=1) records
 * __builtin_return_address(0) and does no unwinding (tracker.c). */
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch.h"
#include "cfi.h"
#include "compiler.h"
#include "modules.h"
#include "options.h"

/* Our hook, the tracker and the unwinder itself sit above the caller's frame. */
#define OWN_FRAMES_MAX 12

static uint64_t own_start, own_end;
static _Atomic uint64_t fallbacks; /* captures libunwind had to make */

int lt_unwind_init(void)
{
    Dl_info info;
    if (dladdr((void *)lt_unwind_init, &info) && info.dli_fbase)
        lt_modules_text((uint64_t)(uintptr_t)info.dli_fbase, &own_start, &own_end);
    return 0;
}

int lt_unwind_is_own(uint64_t ip)
{
    return ip - own_start < own_end - own_start;
}

uint32_t lt_unwind_frame_size(uint64_t return_address)
{
    if (!LT_ARCH_CFI)
        return 0;
    /* The caller's SP is just above the slot of return_address; its CFA is SP + offset and
     * its own return address one word below that: offset bytes above the slot. */
    struct lt_cfi_rule rule;
    lt_cfi_rule(return_address - 1, &rule);
    return rule.kind == LT_CFI_STEP && !rule.cfa_from_fp && rule.cfa_offset > 0
               ? (uint32_t)rule.cfa_offset
               : 0;
}

uint64_t lt_unwind_fallbacks(void)
{
    return atomic_load_explicit(&fallbacks, memory_order_relaxed);
}

/* ---- leaktag's own walker ------------------------------------------------------------------ */

struct walk {
    struct lt_regs r;
    uint64_t slot;   /* where the return address r.pc was read */
    uint64_t lo, hi; /* the thread's stack, read directly */
};

static bool read_word(const struct walk *w, uint64_t addr, uint64_t *out)
{
    if (addr >= w->lo && addr <= w->hi - (uint64_t)LT_ARCH_WORD) {
        uintptr_t v = *(const uintptr_t *)(uintptr_t)addr;
        *out = v;
        return true;
    }
    uintptr_t v;
    struct iovec local = {&v, sizeof(v)}, remote = {(void *)(uintptr_t)addr, sizeof(v)};
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)sizeof(v))
        return false;
    *out = v;
    return true;
}

enum step { STEPPED, AT_END, CANNOT };

/* From the frame whose return address is w->r.pc to its caller's. */
static enum step step(struct walk *w)
{
    struct lt_cfi_rule rule;
    lt_cfi_rule(w->r.pc - 1, &rule);
    if (rule.kind == LT_CFI_END)
        return AT_END;
    if (rule.kind != LT_CFI_STEP)
        return CANNOT;
    uint64_t cfa = (rule.cfa_from_fp ? w->r.fp : w->r.sp) + (uint64_t)(int64_t)rule.cfa_offset;
    if (rule.cfa_deref && !read_word(w, cfa, &cfa))
        return CANNOT;
    uint64_t ra_at = cfa - (uint64_t)LT_ARCH_WORD, pc, fp = w->r.fp;
    uint64_t fp_at = (rule.fp_at_fp ? w->r.fp : cfa) + (uint64_t)(int64_t)rule.fp_offset;
    if (cfa <= w->r.sp || !read_word(w, ra_at, &pc) || (rule.fp_saved && !read_word(w, fp_at, &fp)))
        return CANNOT; /* the stack grows down: a caller's frame is never below */
    if (!pc)
        return AT_END;
    w->r = (struct lt_regs){pc, cfa, fp};
    w->slot = ra_at;
    return STEPPED;
}

/* Records frames from w (frame 0 = w->r.pc) until max, the outermost frame or one it cannot
 * follow (*stuck then). Frames in leaktag's own code (its pthread_create, which calls the
 * real one, or a wrapper the application's allocation went through) are stepped over, not
 * recorded: stacks start and end in the application's code. */
static unsigned walk_frames(struct walk *w, uint64_t *frames, uint64_t *slots, unsigned max,
                            bool *stuck)
{
    unsigned depth = 0, skipped = 0;
    *stuck = false;
    while (depth < max) {
        if (!lt_unwind_is_own(w->r.pc)) {
            frames[depth] = w->r.pc;
            if (slots)
                slots[depth] = w->slot;
            depth++;
        } else if (++skipped > OWN_FRAMES_MAX) {
            break;
        }
        enum step s = depth < max ? step(w) : AT_END;
        if (s != STEPPED) {
            *stuck = s == CANNOT;
            break;
        }
    }
    return depth;
}

/* ---- the memo of the last walk ------------------------------------------------------------ */

/* Frames memo->ra[r-1], [r-2], ... still in their slots (read only inside the thread's
 * stack)? */
static bool memo_holds(const struct walk *w, const struct lt_unwind_memo *m, unsigned r,
                       unsigned count)
{
    for (unsigned i = 1; i <= count; i++) {
        uint64_t at = m->slot[r - i];
        if (at < w->lo || at > w->hi - (uint64_t)LT_ARCH_WORD ||
            *(const uintptr_t *)(uintptr_t)at != m->ra[r - i])
            return false;
    }
    return true;
}

static void memo_record(struct lt_unwind_memo *m, const uint64_t *frames, const uint64_t *slots,
                        unsigned depth, bool complete)
{
    unsigned n = lt_min(depth, (unsigned)LT_MAX_DEPTH);
    for (unsigned t = 0; t < n; t++) {
        m->ra[t] = frames[depth - 1 - t];
        m->slot[t] = slots[depth - 1 - t];
    }
    m->n = n;
    m->complete = complete && n == depth;
}

/* walk_frames, ending early where the walk meets the memo: frame `depth - 1` just recorded
 * is the memo's frame r. Returns the depth, or 0 if the memo cannot finish this walk. */
static unsigned memo_splice(const struct walk *w, struct lt_unwind_memo *m, unsigned r,
                            uint64_t *frames, uint64_t *slots, unsigned depth, unsigned max)
{
    unsigned need = max - depth, use = lt_min(need, r);
    if ((use < need && !m->complete) || !memo_holds(w, m, r, use))
        return 0;
    unsigned head = depth - 1; /* the walk's own frames inside the memo's frame r */
    for (unsigned i = 1; i <= use; i++, depth++) {
        frames[depth] = m->ra[r - i];
        slots[depth] = m->slot[r - i];
    }
    if (r + 1 + head <= LT_MAX_DEPTH) { /* the memo's outer part, then the new head */
        for (unsigned t = 0; t < head; t++) {
            m->ra[r + 1 + t] = frames[head - 1 - t];
            m->slot[r + 1 + t] = slots[head - 1 - t];
        }
        m->n = r + 1 + head;
    } else {
        memo_record(m, frames, slots, depth, false);
    }
    m->spliced++;
    return depth;
}

static unsigned walk_frames_memo(struct walk *w, uint64_t *frames, uint64_t *slots, unsigned max,
                                 bool *stuck, struct lt_unwind_memo *m)
{
    unsigned depth = 0, skipped = 0;
    int r = (int)m->n - 1; /* the memo's frames at or above the walk's, from the inside */
    bool at_end = false;
    *stuck = false;
    while (depth < max) {
        if (!lt_unwind_is_own(w->r.pc)) {
            frames[depth] = w->r.pc;
            slots[depth] = w->slot;
            depth++;
            while (r >= 0 && m->slot[r] < w->slot)
                r--;
            if (r >= 0 && m->slot[r] == w->slot && m->ra[r] == w->r.pc) {
                unsigned spliced = memo_splice(w, m, (unsigned)r, frames, slots, depth, max);
                if (spliced)
                    return spliced;
                r = -1; /* it will not fit further out either */
            }
        } else if (++skipped > OWN_FRAMES_MAX) {
            break;
        }
        enum step s = depth < max ? step(w) : AT_END;
        if (s != STEPPED) {
            *stuck = s == CANNOT;
            at_end = depth < max && s == AT_END;
            break;
        }
    }
    if (!*stuck)
        memo_record(m, frames, slots, depth, at_end);
    else
        m->n = 0;
    return depth;
}

/* ---- libunwind, for the stacks the walker cannot follow -------------------------------------- */

static pthread_once_t libunwind_once = PTHREAD_ONCE_INIT;

static void libunwind_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

static unsigned libunwind_capture(uint64_t *frames, unsigned max, const void *caller)
{
    atomic_fetch_add_explicit(&fallbacks, 1, memory_order_relaxed);
    pthread_once(&libunwind_once, libunwind_init);
    void *buf[LT_MAX_DEPTH + OWN_FRAMES_MAX];
    int n = unw_backtrace(buf, (int)lt_min(max + OWN_FRAMES_MAX, lt_array_size(buf)));
    int start = 0;
    while (start < n && start < OWN_FRAMES_MAX && buf[start] != caller)
        start++;
    if (start == n || start == OWN_FRAMES_MAX) {
        /* The caller's frame was not where expected (a tail call, a signal frame): fall
         * back to dropping leading frames that are ours. */
        start = 0;
        while (start < n && lt_unwind_is_own((uintptr_t)buf[start]))
            start++;
    }
    unsigned depth = 0;
    for (int i = start; i < n && depth < max; i++)
        if (!lt_unwind_is_own((uintptr_t)buf[i]))
            frames[depth++] = (uintptr_t)buf[i];
    return depth;
}

/* ---- the interface ------------------------------------------------------------------------ */

unsigned lt_unwind_capture_slots(uint64_t *frames, uint64_t *slots, unsigned max,
                                 const void *caller, const uint64_t *ra_slot, uint64_t stack_lo,
                                 uint64_t stack_hi, struct lt_unwind_memo *memo)
{
    if (!LT_ARCH_CFI)
        return 0;
    int saved_errno = errno;
    /* The hook keeps a frame pointer: its saved FP sits right below the return address, and
     * the caller's SP is just above it. */
    const uintptr_t *ra = (const uintptr_t *)ra_slot;
    struct walk w = {.r = {(uint64_t)(uintptr_t)caller, (uint64_t)(uintptr_t)(ra + 1), ra[-1]},
                     .slot = (uint64_t)(uintptr_t)ra,
                     .lo = stack_lo,
                     .hi = stack_hi};
    bool stuck;
    unsigned depth = memo ? walk_frames_memo(&w, frames, slots, max, &stuck, memo)
                          : walk_frames(&w, frames, slots, max, &stuck);
    errno = saved_errno;
    return stuck ? 0 : depth; /* 0: the caller captures it otherwise */
}

unsigned lt_unwind_capture(uint64_t *frames, unsigned max, const void *caller, uint64_t stack_lo,
                           uint64_t stack_hi)
{
    int saved_errno = errno;
    unsigned depth = 0;
    if (LT_ARCH_CFI) {
        /* From here, through leaktag's own frames, up to the caller's. */
        struct walk w = {.lo = stack_lo, .hi = stack_hi};
        lt_arch_here(&w.r);
        w.r.pc += 1; /* a return address, as the walker expects: pc - 1 is this code */
        bool found = false, stuck = false;
        for (unsigned own = 0; own <= OWN_FRAMES_MAX && !found; own++) {
            if (w.r.pc == (uint64_t)(uintptr_t)caller)
                found = true;
            else if (step(&w) != STEPPED)
                break;
        }
        if (found)
            depth = walk_frames(&w, frames, NULL, max, &stuck);
        if (!found || stuck)
            depth = 0;
    }
    if (!depth)
        depth = libunwind_capture(frames, max, caller);
    errno = saved_errno;
    return depth;
}
