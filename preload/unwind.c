/* unwind.c — stack capture with libunwind (UNW_LOCAL_ONLY, per-thread caching).
 * Called inside malloc hooks with the reentrancy guard held: whatever libunwind allocates
 * goes straight to the real allocator. Preserves errno (libunwind probes memory). */
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <stdbool.h>

#include "compiler.h"
#include "modules.h"
#include "options.h"

/* Our hook, the tracker and unw_backtrace itself sit above the caller's frame. */
#define OWN_FRAMES_MAX 8

static uint64_t own_start, own_end;

int lt_unwind_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    Dl_info info;
    if (dladdr((void *)lt_unwind_init, &info) && info.dli_fbase)
        lt_modules_text((uint64_t)(uintptr_t)info.dli_fbase, &own_start, &own_end);
    return 0;
}

int lt_unwind_is_own(uint64_t ip)
{
    return ip - own_start < own_end - own_start;
}

unsigned lt_unwind_capture_slots(uint64_t *frames, uint64_t *slots, unsigned max,
                                 const void *caller, const uint64_t *ra_slot)
{
    int saved_errno = errno;
    unw_context_t context;
    unw_cursor_t cursor;
    unsigned depth = 0;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0)
        goto out;
    /* Our own frames first: step until the caller's frame, recognised by its return
     * address and by where that address is stored (CFA - 8 on x86-64). */
    bool found = false;
    for (unsigned skipped = 0; depth < max;) {
        unw_word_t ip, sp;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 ||
            unw_get_reg(&cursor, UNW_REG_SP, &sp) != 0)
            break;
        if (!found) {
            found = ip == (unw_word_t)caller && sp - 8 == (unw_word_t)ra_slot;
            if (!found && ++skipped > OWN_FRAMES_MAX)
                break;
        }
        if (found) {
            frames[depth] = ip;
            slots[depth] = sp - 8; /* where the call that returns to ip left it */
            depth++;
        }
        if (unw_step(&cursor) <= 0)
            break;
    }
    if (!found)
        depth = 0;
out:
    errno = saved_errno;
    return depth;
}

unsigned lt_unwind_capture(uint64_t *frames, unsigned max, const void *caller)
{
    int saved_errno = errno;
    void *buf[LT_MAX_DEPTH + OWN_FRAMES_MAX];
    int n = unw_backtrace(buf, (int)lt_min(max + OWN_FRAMES_MAX, lt_array_size(buf)));
    errno = saved_errno;
    int start = 0;
    while (start < n && start < OWN_FRAMES_MAX && buf[start] != caller)
        start++;
    if (start == n || start == OWN_FRAMES_MAX) {
        /* The caller's frame was not where expected (a tail call, a signal frame): fall
         * back to dropping leading frames that are ours. */
        start = 0;
        while (start < n && lt_unwind_is_own((uint64_t)buf[start]))
            start++;
    }
    unsigned depth = (unsigned)lt_min((unsigned)(n - start), max);
    for (unsigned i = 0; i < depth; i++)
        frames[i] = (uint64_t)buf[start + i];
    return depth;
}
