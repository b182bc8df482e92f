/* tracker.c — start-up, the allocation/release bookkeeping and fork handling.
 * Runs inside malloc hooks with the guard held: never calls malloc itself, never takes a
 * lock on the common path (new stacks and misuse reports take one, out of line).
 *
 * Sampled mode (LEAKTAG_SAMPLE=<bytes>|on, on being 512 KiB): each thread counts bytes down
 * from an exponentially distributed interval, and only the allocation that crosses zero is
 * recorded, with its stack. The test is one subtraction, made before any guard (tracker.h:
 * lt_sampled_skip_alloc): an allocation short of the sampling point calls the real allocator
 * at once, and so does a free that the table's counting filter (2^16 16-bit counters by
 * address, lt_table_filter) rules out. Nurseries are off, and unknown frees are not reported
 * (most blocks were never recorded). Snapshots carry sample_interval_bytes; the report
 * multiplies each sampled block by 1/P(sampled) = 1/(1 - e^(-size/mean)) (analyzer/group.c),
 * which makes its block and byte counts unbiased estimates. Counters: each thread's live-byte
 * change is folded into the shared figure, and the peak, every 64 KiB. While one thread
 * (re)starts leaktag's thread (LT_STATE_RESTARTING), the others keep tracking: a free that
 * skipped the table would leave a stale record for the address's next owner. */
#include "tracker.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "misuse.h"
#include "modules.h"
#include "nursery.h"
#include "options.h"
#include "procfs.h"
#include "stackcache.h"
#include "stacks.h"
#include "unwind.h"

_Atomic int lt_state = LT_STATE_OFF;

/* Live bytes as last published by the threads, and its high-water mark. Each thread folds
 * its changes in once they pass PUBLISH_BYTES, so the peak is exact to that much per thread
 * and the hot path touches no shared cache line. */
#define PUBLISH_BYTES (64 * 1024)
static _Atomic int64_t published_live_bytes;
static _Atomic uint64_t peak_live_bytes;

extern char **environ;

static void fork_prepare(void)
{
    lt_enter();
    lt_stacks_fork_prepare();
    lt_misuse_fork_prepare();
    lt_modules_fork_prepare();
    lt_table_fork_prepare();
}

static void fork_parent(void)
{
    lt_table_fork_parent();
    lt_modules_fork_parent();
    lt_misuse_fork_parent();
    lt_stacks_fork_parent();
    lt_leave();
}

static void fork_child(void)
{
    lt_table_fork_child();
    lt_nursery_fork_child(lt_tls.self);
    lt_modules_fork_child();
    lt_misuse_fork_child();
    lt_stacks_fork_child();
    lt_threads_after_fork_child(lt_tls.self);
    lt_leave();
}

/* A thread has ended: its young blocks go to the shared table, where any thread finds them;
 * its stack cache is freed (destructors that still allocate in it unwind the slow way). */
static void release_thread(struct lt_thread *self, struct lt_thread *t)
{
    lt_nursery_release(self, t);
    struct lt_stackcache *cache = t->stack_cache;
    t->stack_cache = NULL;
    lt_stackcache_free(cache);
}

/* The LEAKTAG_* variables when environ is not set yet: a first allocation from a program's
 * .preinit_array comes before glibc sets it. /proc/self/environ holds the environment the
 * process started with, which is what environ would show then. Read once, into static
 * memory (no malloc here). */
static char **early_environment(void)
{
    static char text[256 * 1024];
    static char *vars[128];
    ssize_t n = lt_proc_read("/proc/self/environ", text, sizeof(text));
    size_t count = 0;
    for (ssize_t at = 0; at < n && count + 1 < lt_array_size(vars); at += strlen(text + at) + 1)
        if (!strncmp(text + at, "LEAKTAG_", 8))
            vars[count++] = text + at;
    vars[count] = NULL;
    return vars;
}

static int start(void)
{
    lt_clock_init();
    lt_options_load(environ ? environ : early_environment());
    int err = lt_backend_init();
    if (err) {
        lt_log("no malloc after leaktag's to forward to (a static executable, or libc.so "
               "preloaded ahead of leaktag); not tracking");
        return err;
    }
    char owner[256];
    if (lt_backend_shadowed(owner, sizeof(owner))) {
        lt_log("%s replaces malloc ahead of leaktag: nothing can be tracked; the program "
               "runs as without leaktag",
               owner);
        return -EEXIST;
    }
    lt_mem_starting(true);
    err = lt_threads_init(release_thread);
    err = err ? err : lt_table_init();
    err = err ? err : lt_nursery_init();
    err = err ? err : lt_stacks_init();
    err = err ? err : lt_unwind_init();
    lt_mem_starting(false);
    if (err) {
        lt_log("cannot start (errno %d); the program runs untracked", -err);
        return err;
    }
    if (lt_opt.sample)
        lt_table_enable_filter();
    if (lt_atfork(fork_prepare, fork_parent, fork_child))
        lt_log("pthread_atfork failed; a forked child may not be tracked correctly");
    return 0;
}

static _Atomic uint64_t guards_recovered;

static bool on_thread_stack(const struct lt_thread *t, uintptr_t addr)
{
    return t->stack_size && addr >= t->stack_addr && addr - t->stack_addr < t->stack_size;
}

bool lt_guard_abandoned(uintptr_t frame)
{
    /* A handler on the same stack runs below the frame it interrupted; one on an alternate
     * stack (which may lie anywhere, even in a frame above) or on leaktag's own stack proves
     * nothing, so only frames of the thread's own stack, outside any alternate stack, count. */
    struct lt_thread *self = lt_tls.self;
    if (!self || frame < lt_tls.guard_frame || !on_thread_stack(self, frame) ||
        !on_thread_stack(self, lt_tls.guard_frame))
        return false;
    stack_t alternate;
    if (sigaltstack(NULL, &alternate) != 0 || (alternate.ss_flags & SS_ONSTACK))
        return false;
    if (atomic_load_explicit(&self->hook_seq, memory_order_relaxed) & 1)
        lt_table_leave(self);
    if (atomic_fetch_add_explicit(&guards_recovered, 1, memory_order_relaxed) == 0)
        lt_log("a signal handler left leaktag's hook by longjmp; tracking resumes (snapshots "
               "count these as guards_recovered)");
    lt_tls.guard = 0;
    return true;
}

uint64_t lt_guards_recovered(void)
{
    return atomic_load_explicit(&guards_recovered, memory_order_relaxed);
}

static void (*restart_fn)(void);

void lt_tracker_request_restart(void (*fn)(void))
{
    /* Async-signal-safe: a store and a CAS. Only a running tracker is diverted. */
    restart_fn = fn;
    int on = LT_STATE_ON;
    atomic_compare_exchange_strong_explicit(&lt_state, &on, LT_STATE_RESTART, memory_order_acq_rel,
                                            memory_order_relaxed);
}

int lt_tracker_init(void)
{
    int state = atomic_load_explicit(&lt_state, memory_order_acquire);
    if (lt_likely(state == LT_STATE_ON))
        return 0;
    /* Other threads keep tracking while one restarts: the tables are whole, and a free
     * that skipped them would leave a stale record behind for the address's next owner. */
    if (state == LT_STATE_RESTARTING)
        return 0;
    if (state == LT_STATE_RESTART) {
        if (atomic_compare_exchange_strong(&lt_state, &state, LT_STATE_RESTARTING)) {
            lt_enter();
            restart_fn();
            lt_leave();
            atomic_store_explicit(&lt_state, LT_STATE_ON, memory_order_release);
            return 0;
        }
        if (state == LT_STATE_RESTARTING || state == LT_STATE_ON)
            return 0; /* another thread took the restart */
    }
    if (state == LT_STATE_OFF &&
        atomic_compare_exchange_strong(&lt_state, &state, LT_STATE_STARTING)) {
        /* Whatever start-up allocates (dlsym, libunwind) is served untracked. */
        lt_enter();
        int err = start();
        lt_leave();
        atomic_store_explicit(&lt_state, err ? LT_STATE_FAILED : LT_STATE_ON, memory_order_release);
        return err;
    }
    /* Another thread is starting us, or start-up failed: this call goes untracked. */
    return -EAGAIN;
}

static LT_NOINLINE void publish(struct lt_thread *self)
{
    int64_t delta = self->unpublished_bytes;
    self->unpublished_bytes = 0;
    int64_t live = atomic_fetch_add_explicit(&published_live_bytes, delta, memory_order_relaxed) +
                   delta;
    uint64_t peak = atomic_load_explicit(&peak_live_bytes, memory_order_relaxed);
    while (live > 0 && (uint64_t)live > peak &&
           !atomic_compare_exchange_weak_explicit(&peak_live_bytes, &peak, (uint64_t)live,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static inline void account_bytes(struct lt_thread *self, int64_t delta)
{
    if (lt_unlikely(self->shared)) {
        /* Entries shared by several threads cannot buffer: publish every change. */
        int64_t live = atomic_fetch_add(&published_live_bytes, delta) + delta;
        uint64_t peak = atomic_load(&peak_live_bytes);
        while (live > 0 && (uint64_t)live > peak &&
               !atomic_compare_exchange_weak(&peak_live_bytes, &peak, (uint64_t)live))
            ;
        return;
    }
    self->unpublished_bytes += delta;
    if (lt_unlikely(self->unpublished_bytes > PUBLISH_BYTES ||
                    self->unpublished_bytes < -PUBLISH_BYTES))
        publish(self);
}

/* Recently seen stacks of this thread, so that a known stack costs a compare instead of a
 * probe of the shared stack table. Keyed by the return address in call-site mode and by
 * the 64-bit stack hash otherwise (the table itself also trusts a matching hash only after
 * comparing frames; here a hash collision would need two live stacks to collide in 64 bits). */
#define STACK_CACHE 64
static LT_TLS struct {
    uint64_t key;
    uint32_t id;
} stack_cache[STACK_CACHE];

static inline unsigned cache_slot(uint64_t key)
{
    return (unsigned)((key ^ key >> 7 ^ key >> 17) & (STACK_CACHE - 1));
}

/* One block counted into this thread's counters: blocks and bytes (allocated, or freed) and
 * the live-byte change. Usually three plain updates of the thread's own cache line. */
static inline void count(struct lt_thread *self, _Atomic uint64_t *blocks, _Atomic uint64_t *bytes,
                         uint64_t size, int64_t live_delta)
{
    if (lt_likely(!self->shared)) {
        atomic_store_explicit(blocks, atomic_load_explicit(blocks, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        atomic_store_explicit(bytes, atomic_load_explicit(bytes, memory_order_relaxed) + size,
                              memory_order_relaxed);
        self->unpublished_bytes += live_delta;
        if (lt_unlikely(self->unpublished_bytes > PUBLISH_BYTES ||
                        self->unpublished_bytes < -PUBLISH_BYTES))
            publish(self);
        return;
    }
    atomic_fetch_add_explicit(blocks, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(bytes, size, memory_order_relaxed);
    account_bytes(self, live_delta);
}

/* The thread keeps coming back to more stacks than its cache holds: a cache twice the size
 * replaces it (empty: it refills from the next misses). A signal handler in this thread sees
 * either cache whole. Out of memory: the old one stays. */
static LT_COLD void grow_stack_cache(struct lt_thread *self, struct lt_stackcache *old)
{
    struct lt_stackcache *bigger = lt_stackcache_new(old->stack_lo, old->stack_hi, old->sets * 2,
                                                     old->frame_size);
    if (!bigger)
        return;
    atomic_signal_fence(memory_order_seq_cst);
    self->stack_cache = bigger;
    atomic_signal_fence(memory_order_seq_cst);
    lt_stackcache_free(old);
}

/* The slow part of capture_stack: unwinding (full mode) and the shared stack table. With
 * ra_slot (an allocation), the unwind also records where each return address lives and
 * fills the thread's validated stack cache; without (a misuse report), it does not. */
static LT_NOINLINE uint32_t capture_stack_slow(struct lt_thread *self, const void *caller,
                                               const uint64_t *ra_slot)
{
    uint64_t frames[LT_MAX_DEPTH], slots[LT_MAX_DEPTH];
    uint64_t key, hash;
    unsigned depth = 0;
    if (lt_opt.depth == 1) {
        frames[0] = key = (uintptr_t)caller;
        depth = 1;
        hash = lt_stacks_hash(frames, 1);
    } else {
        struct lt_stackcache *cache = self ? self->stack_cache : NULL;
        if (!cache && self && ra_slot && (atomic_load(&self->state) & LT_THREAD_ALIVE) &&
            !(atomic_load(&self->state) & LT_THREAD_EXITED)) {
            if (!self->stack_size)
                lt_thread_note_stack(self);
            if (self->stack_size)
                cache = self->stack_cache = lt_stackcache_new(
                    self->stack_addr, self->stack_addr + self->stack_size, LT_STACKCACHE_SETS_MIN,
                    lt_unwind_frame_size);
        }
        uint64_t lo = self ? self->stack_addr : 0, hi = self ? lo + self->stack_size : 0;
        if (cache)
            depth = lt_unwind_capture_slots(frames, slots, lt_opt.depth, caller, ra_slot, lo, hi,
                                            &cache->memo);
        if (!depth) {
            cache = NULL;
            depth = lt_unwind_capture(frames, lt_opt.depth, caller, lo, hi);
        }
        key = hash = lt_stacks_hash(frames, depth);
        unsigned slot = cache_slot(key);
        uint32_t id;
        if (lt_likely(stack_cache[slot].key == key))
            id = stack_cache[slot].id;
        else if ((id = lt_stacks_intern_hashed(frames, depth, hash)) != LT_STACK_NONE) {
            stack_cache[slot].key = key;
            stack_cache[slot].id = id;
        }
        if (cache && id != LT_STACK_NONE &&
            lt_stackcache_store(cache, (uintptr_t)caller, frames, slots, depth, id) > cache->sets)
            grow_stack_cache(self, cache);
        return id;
    }
    uint32_t id = lt_stacks_intern_hashed(frames, depth, hash);
    if (id != LT_STACK_NONE) {
        unsigned slot = cache_slot(key);
        stack_cache[slot].key = key;
        stack_cache[slot].id = id;
    }
    return id;
}

/* A known call site (call-site mode) or a stack the thread's stack cache still holds costs
 * a few instructions; everything else goes out of line. */
static inline uint32_t capture_stack(struct lt_thread *self, const void *caller,
                                     const uint64_t *ra_slot)
{
    if (lt_opt.depth == 1) {
        unsigned slot = cache_slot((uintptr_t)caller);
        if (lt_likely(stack_cache[slot].key == (uintptr_t)caller))
            return stack_cache[slot].id;
    } else if (lt_likely(self->stack_cache != NULL)) {
        uint32_t id = lt_stackcache_find(self->stack_cache, (uintptr_t)caller, ra_slot);
        if (lt_likely(id != LT_STACKCACHE_MISS))
            return id;
    }
    return capture_stack_slow(self, caller, ra_slot);
}

/* Once a block went unrecorded, a free of an address leaktag never saw is no longer
 * evidence of misuse: it may be that block. */
static _Atomic bool dropped_blocks;

static LT_COLD void untracked(struct lt_thread *self, size_t size)
{
    atomic_store_explicit(&dropped_blocks, true, memory_order_relaxed);
    lt_thread_add(self, &self->untracked_blocks, 1);
    lt_thread_add(self, &self->untracked_bytes, size);
}

/* Sampled mode (LEAKTAG_SAMPLE=M): the bytes between two sampled blocks are exponentially
 * distributed with mean M, so a block of n bytes is sampled with probability 1 - exp(-n/M)
 * whatever the pattern of sizes: the report divides by it for unbiased estimates. */
static LT_NOINLINE int64_t sample_interval(struct lt_tls *t)
{
    if (!t->rng)
        t->rng = (((uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15ull) ^
                  (uint64_t)lt_clock_ns(CLOCK_MONOTONIC)) |
                 1;
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    double u = ((t->rng >> 11) + 0.5) / 9007199254740992.0; /* uniform in (0, 1) */
    double interval = -log(u) * (double)lt_opt.sample;
    return interval < 1 ? 1 : interval > 1e15 ? (int64_t)1e15 : (int64_t)interval;
}

/* The countdown went to zero or below (lt_track_alloc already subtracted size). */
bool lt_sample_crossed(size_t size)
{
    struct lt_tls *t = &lt_tls;
    if (lt_unlikely(!t->rng)) {
        /* The thread's first allocation: start from a random point like every later one,
         * or each thread's first block would be sampled for sure. */
        t->sample_left = sample_interval(t) - (int64_t)size;
        if (t->sample_left > 0)
            return false;
    }
    /* Crossed the sampling point: this block is sampled; draw the next point. A block that
     * spans several points is sampled once (its probability accounts for that). */
    do
        t->sample_left += sample_interval(t);
    while (t->sample_left <= 0);
    return true;
}

/* errno: a successful allocation or a free must leave it alone. Nothing on these paths sets
 * it except slow paths (unwinding, mmap), which save and restore it themselves. */
void lt_track_alloc_slow(void *p, size_t size, enum lt_kind kind, const void *caller,
                         const uint64_t *ra_slot)
{
    struct lt_thread *self = lt_self();
    if (!lt_nursery_of(self))
        lt_table_prefetch((uintptr_t)p); /* the shared table's slot, while the stack is taken */
    struct lt_block b = {
        .addr = (uintptr_t)p,
        .size = size,
        .stack = capture_stack(self, caller, ra_slot),
        .time_cs = lt_clock_cs(),
        .thread = self->idx,
        .kind = (uint8_t)kind,
    };
    if (lt_likely(lt_nursery_insert(self, &b) == 0)) {
        count(self, &self->allocs, &self->bytes_allocated, size, (int64_t)size);
    } else {
        untracked(self, size);
    }
}

static LT_COLD void note_mismatch(struct lt_thread *self, const struct lt_block *b,
                                  enum lt_release how, const void *caller)
{
    lt_thread_add(self, &self->mismatches, 1);
    lt_misuse_note(LT_MISUSE_MISMATCH, b->stack, capture_stack_slow(NULL, caller, NULL), b->kind,
                   how);
}

static inline void commit_release(struct lt_thread *self, const struct lt_block *b,
                                  enum lt_release how, const void *caller)
{
    count(self, &self->frees, &self->bytes_freed, b->size, -(int64_t)b->size);
    if (lt_unlikely(!lt_kind_matches(b->kind, how)))
        note_mismatch(self, b, how, caller);
}

void lt_track_commit_release(const struct lt_block *b, enum lt_release how, const void *caller)
{
    commit_release(lt_self(), b, how, caller);
}

LT_COLD void lt_track_unknown_release(enum lt_release how, const void *caller)
{
    if (lt_opt.sample)
        return; /* sampled mode: most blocks were never recorded, so this is normal */
    struct lt_thread *self = lt_self();
    lt_thread_add(self, &self->unknown_frees, 1);
    if (atomic_load_explicit(&dropped_blocks, memory_order_relaxed))
        return; /* counted, but not a misuse site: it may be a block left unrecorded */
    lt_misuse_note(LT_MISUSE_UNKNOWN_FREE, LT_STACK_NONE, capture_stack_slow(NULL, caller, NULL),
                   LT_KIND_COUNT, how);
}

void lt_track_release(void *p, enum lt_release how, const void *caller)
{
    struct lt_thread *self = lt_self();
    struct lt_block b;
    if (lt_likely(lt_nursery_remove(self, (uintptr_t)p, &b)))
        commit_release(self, &b, how, caller);
    else
        lt_track_unknown_release(how, caller);
}

bool lt_track_detach(void *p, struct lt_block *out)
{
    return lt_nursery_remove(lt_self(), (uintptr_t)p, out);
}

void lt_track_restore(const struct lt_block *b)
{
    struct lt_thread *self = lt_self();
    if (lt_nursery_insert(self, b) != 0)
        untracked(self, b->size);
}

void lt_track_forget(void *p)
{
    struct lt_thread *self = lt_self();
    struct lt_block b;
    if (lt_nursery_remove(self, (uintptr_t)p, &b)) {
        lt_thread_add(self, &self->allocs, (uint64_t)-1);
        lt_thread_add(self, &self->bytes_allocated, -b.size);
        account_bytes(self, -(int64_t)b.size);
    }
}

void lt_tracker_totals(struct lt_totals *out)
{
    *out = (struct lt_totals){0};
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i <= n; i++) {
        struct lt_thread *t = lt_thread_get(i < n ? i : LT_THREAD_OVERFLOW);
        if (!t)
            continue;
        out->allocations += atomic_load_explicit(&t->allocs, memory_order_relaxed);
        out->frees += atomic_load_explicit(&t->frees, memory_order_relaxed);
        out->bytes_allocated += atomic_load_explicit(&t->bytes_allocated, memory_order_relaxed);
        out->bytes_freed += atomic_load_explicit(&t->bytes_freed, memory_order_relaxed);
        out->unknown_frees += atomic_load_explicit(&t->unknown_frees, memory_order_relaxed);
        out->mismatches += atomic_load_explicit(&t->mismatches, memory_order_relaxed);
        out->untracked_blocks += atomic_load_explicit(&t->untracked_blocks, memory_order_relaxed);
        out->untracked_bytes += atomic_load_explicit(&t->untracked_bytes, memory_order_relaxed);
        uint32_t state = atomic_load_explicit(&t->state, memory_order_relaxed);
        if (i < n && !(state & LT_THREAD_INTERNAL)) { /* leaktag's own thread is not counted */
            out->threads_seen++;
            if (state & LT_THREAD_ALIVE)
                out->threads_alive++;
        }
    }
    uint64_t live = out->bytes_allocated - out->bytes_freed;
    uint64_t peak = atomic_load_explicit(&peak_live_bytes, memory_order_relaxed);
    out->peak_live_bytes = live > peak ? live : peak;
}

void *lt_track_resize(void *p, size_t n, size_t m, enum lt_kind kind, const void *caller,
                      const uint64_t *ra_slot)
{
    struct lt_block old;
    lt_tls.moving = 1;
    lt_compiler_barrier();
    bool had = p && lt_track_detach(p, &old);
    void *q = kind == LT_KIND_REALLOC ? lt_real.realloc(p, n) : lt_real.reallocarray(p, n, m);
    size_t bytes = n;
    /* An overflowing reallocarray fails with ENOMEM and leaves p alone; a product that
     * wrapped to 0 must not pass for realloc(p, 0), which frees p. */
    bool overflow = kind != LT_KIND_REALLOC && __builtin_mul_overflow(n, m, &bytes);
    bool released = p && (q || (bytes == 0 && !overflow)); /* glibc: realloc(p, 0) frees p */
    if (released) {
        if (had)
            lt_track_commit_release(&old, LT_RELEASE_FREE, caller);
        else
            lt_track_unknown_release(LT_RELEASE_FREE, caller);
    } else if (had) {
        lt_track_restore(&old);
    }
    if (q)
        lt_track_alloc(q, bytes, kind, caller, ra_slot);
    lt_compiler_barrier();
    lt_tls.moving = 0;
    return q;
}

LT_COLD void *lt_new_fallback(const char *next_name, size_t size, size_t align, bool nothrow,
                              bool tracked)
{
    static const struct std_nothrow {
        char c;
    } nothrow_tag;
    /* libstdc++'s by its symbol version first: an allocator loaded before it (jemalloc
     * exports every operator new, unversioned) would hand out memory that our delete
     * returns to a different allocator. */
    void *next = lt_backend_next(next_name, align ? "CXXABI_1.3.11" : "GLIBCXX_3.4");
    /* No C++ runtime after us: still honour the throwing contract, with libstdc++'s thrower
     * if one is loaded. Looked up here, inside the hook: a failed dlsym allocates dlerror's
     * message, which must not count as the program's block (nor its free as unknown). */
    void (*throw_bad_alloc)(
        void) = next ? NULL : (void (*)(void))lt_backend_next("_ZSt17__throw_bad_allocv", NULL);
    if (tracked)
        lt_hook_end();
    void *p = NULL;
    if (!next) {
        if (!nothrow) {
            if (throw_bad_alloc)
                throw_bad_alloc();
            lt_log("operator new failed and no C++ runtime can throw std::bad_alloc");
            abort();
        }
    } else if (align && nothrow) {
        p = ((void *(*)(size_t, size_t, const void *))next)(size, align, &nothrow_tag);
    } else if (align) {
        p = ((void *(*)(size_t, size_t))next)(size, align);
    } else if (nothrow) {
        p = ((void *(*)(size_t, const void *))next)(size, &nothrow_tag);
    } else {
        p = ((void *(*)(size_t))next)(size);
    }
    if (tracked) {
        lt_enter(); /* only reached when nothing was thrown */
        if (p)
            lt_track_forget(p);
    }
    return p;
}
