/* shim.c — what only the preloaded library has: its constructor and the public leaktag_*
 * API (include/leaktag.h). The core it drives is in tracker.c and is unit-tested alone. */
#include <errno.h>
#include <string.h>

#include "../include/leaktag.h"
#include "compiler.h"
#include "mem.h"
#include "options.h"
#include "stacks.h"
#include "log.h"
#include "composer.h"
#include "tracker.h"
#include "verdict.h"
#include "arch.h"
#include "worker.h"
#include "exits.h"

extern char **environ;

/* Runs after libc is initialised and before the program's own constructors. Tracking may
 * already be on (the first malloc starts it); what needs a fully working libc is done here. */
__attribute__((constructor(101))) static void on_load(void)
{
    if (lt_tracker_init() != 0)
        return;
    lt_enter();
    lt_thread_note_stack(lt_self());
    lt_verdict_init();
    lt_worker_start();
    lt_exits_init();
    lt_leave();
}

LT_EXPORT int leaktag_snapshot(const char *reason)
{
    if (!lt_tracker_active())
        return -ENODEV;
    char word[64];
    lt_format(word, sizeof(word), "%s", reason && *reason ? reason : "api");
    /* The caller's callee-saved registers (a pointer an -O2 caller keeps in rbx across this
     * call) into this frame, below its frame pointer: the verdict's roots start under them. */
    __builtin_unwind_init();
    struct lt_regs here;
    lt_arch_here(&here);
    lt_enter();
    lt_tls.roots_from = here.sp;
    int err = lt_composer_write(lt_self(), word, 0, 0);
    lt_tls.roots_from = 0;
    lt_leave();
    lt_worker_answer_pending(); /* a signal that came meanwhile found leaktag busy */
    return err;
}

LT_EXPORT int leaktag_stats(struct leaktag_stats *out)
{
    if (!out || out->struct_size < offsetof(struct leaktag_stats, live_blocks))
        return -EINVAL;
    if (!lt_tracker_active())
        return -ENODEV;
    struct lt_totals t;
    lt_tracker_totals(&t);
    struct leaktag_stats s = {
        .struct_size = out->struct_size,
        .version = 1,
        .live_blocks = t.allocations - t.frees,
        .live_bytes = t.bytes_allocated - t.bytes_freed,
        .peak_live_bytes = t.peak_live_bytes,
        .allocations = t.allocations,
        .frees = t.frees,
        .unknown_frees = t.unknown_frees,
        .mismatches = t.mismatches,
        .untracked_blocks = t.untracked_blocks,
        .threads_seen = t.threads_seen,
        .threads_alive = t.threads_alive,
        .stacks = lt_stacks_count() - 1,
        .tracker_bytes = lt_mem_in_use(),
        .snapshots = lt_composer_count(),
        .sample_interval = lt_opt.sample,
    };
    memcpy(out, &s, lt_min((size_t)out->struct_size, sizeof(s)));
    out->struct_size = (uint32_t)lt_min((size_t)out->struct_size, sizeof(s));
    return 0;
}
