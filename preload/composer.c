/* composer.c — composes a snapshot from the shim's tables: META, MODULES, MAPS, BLOCKS,
 * SAMPLES, STACKS, THREADS, MISUSE, COUNTERS (docs/FORMAT.md), each as records of the
 * snapshot library (snapshot/record.h), written by its encoder into an outfile. The block
 * table is scanned one shard at a time; block contents are copied with process_vm_readv on
 * our own pid, which fails cleanly (never faults) if another thread freed and unmapped a
 * block meanwhile. Never calls malloc: transient arrays are mmap'd and released at the end.
 *
 * The snapshot is written in leaktag's files thread (fdtable.h) while the asking thread waits,
 * or by the asking thread where there is none; a lock makes it one snapshot at a time. The
 * reachability verdict (LEAKTAG_REACH, verdict.h) is taken before the blocks are written, and
 * its REACH_SCAN, REACH_ROOTS and REACH sections follow the counters; MODULE_TIMES follows
 * MODULES. Blocks come from the nurseries and then the table, shard by shard (nursery.h), and
 * the thread table's per-thread totals are computed from that scan. Modules come from the
 * registry (modules.c): a normal snapshot rescans it first, in the asking thread (the loader's
 * lock, while copying the list only); the final one lists what exits.c left there, waiting 1 s
 * at most for a rescan under way. Samples: after the blocks, the first LEAKTAG_SAMPLE_BYTES of
 * up to LEAKTAG_SAMPLES blocks per stack (the first met in the scan), copied after the scan,
 * outside every shard lock, a batch of blocks per process_vm_readv: a block freed during the
 * copy shows the bytes of its next owner or of the allocator's free lists (or none, when its
 * pages went back to the kernel) under its old address. LEAKTAG_SAMPLES=all takes every block
 * (a census), written as one zstd frame (SAMPLES_ZSTD: the writer compresses the section as it
 * streams it, zstd's memory from leaktag's mappings). LEAKTAG_SAMPLE_BYTES=0 leaves the
 * command line out too. Any failure prints one line "cannot write snapshot N to PATH: error",
 * removes the temporary file and leaves the program and the tables untouched. A process keeps
 * its newest LEAKTAG_KEEP (20) snapshots: writing one more removes its oldest, if that name
 * still holds the file it wrote (device and inode). At fork the prepare handler takes the
 * snapshot lock, so that the child never inherits a half-done snapshot; a fork child's
 * snapshots carry its pid and count from 1. */
#include "composer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCCtx_advanced: memory of our own */
#include <zstd.h>

#include "config.h"
#include "clock.h"
#include "compiler.h"
#include "control.h"
#include "fdtable.h"
#include "format.h"
#include "log.h"
#include "mem.h"
#include "misuse.h"
#include "modules.h"
#include "options.h"
#include "outfile.h"
#include "procfs.h"
#include "record.h"
#include "stacks.h"
#include "nursery.h"
#include "table.h"
#include "unwind.h"
#include "tracker.h"
#include "verdict.h"
#include "writer.h"

#define SAMPLES_MAX (1u << 20)          /* sampled blocks per snapshot, all stacks together */
#define CENSUS_MAX (1u << 26)           /* with LEAKTAG_SAMPLES=all */
#define SAMPLE_BATCH 64                 /* blocks per process_vm_readv call */
#define SAMPLE_BATCH_BYTES (256u << 10) /* and the bytes they may take together */
#define WRITE_BUFFER_BYTES (1u << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t sequence; /* snapshots attempted by this process */

/* The snapshots this process keeps (LEAKTAG_KEEP), oldest first from `kept_next`: mapped
 * on the first snapshot, touched one entry per snapshot. */
struct kept {
    uint64_t dev, ino;
    char path[LT_PATH_MAX];
};
static struct kept *kept;
static unsigned kept_next;

/* A snapshot is in place: the oldest kept one goes if there are LEAKTAG_KEEP already. */
static void keep(const struct lt_outfile *out)
{
    if (!lt_opt.keep)
        return;
    if (!kept && !(kept = lt_mem_map_scratch(lt_opt.keep * sizeof(*kept)))) {
        lt_log_once("cannot remember snapshots to remove (out of memory); keeping them all");
        return;
    }
    struct kept *slot = &kept[kept_next];
    kept_next = (kept_next + 1) % lt_opt.keep;
    if (slot->path[0])
        lt_outfile_remove(slot->path, slot->dev, slot->ino);
    memcpy(slot->path, out->path, sizeof(slot->path));
    slot->dev = out->dev;
    slot->ino = out->ino;
}

void lt_composer_init(void)
{
    lt_outfile_init();
    char output[LT_PATH_MAX];
    lt_outfile_template(output, sizeof(output), lt_opt.output);
    lt_control_init(output);
}

uint64_t lt_composer_count(void)
{
    return __atomic_load_n(&leaktag_control.snapshots, __ATOMIC_RELAXED);
}

void lt_composer_fork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

void lt_composer_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

void lt_composer_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    sequence = 0; /* the child is a process of its own: its snapshots count from 1 */
    if (kept)     /* and the parent's files are the parent's */
        memset(kept, 0, lt_opt.keep * sizeof(*kept));
    kept_next = 0;
    lt_control_fork_child();
}

/* ---- META --------------------------------------------------------------------------------- */

static void meta_uint(struct lts_writer *w, const char *key, uint64_t v)
{
    lts_put_meta_uint(w, key, v);
}

static void meta_str(struct lts_writer *w, const char *key, const char *v, size_t n)
{
    lts_put_meta_text(w, key, v, n);
}

static void write_meta(struct lts_writer *w, uint32_t seq, const char *reason, uint32_t requests,
                       pid_t sender, uint32_t now_cs, const struct lt_proc_status *st)
{
    char buf[8192];
    lts_writer_begin(w, LT_SECTION_META);
    meta_uint(w, "pid", (uint64_t)getpid());
    meta_uint(w, "ppid", (uint64_t)getppid());
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    meta_str(w, "exe", buf, n > 0 ? (size_t)n : 0);
    /* The command line may hold a password: LEAKTAG_SAMPLE_BYTES=0, the setting for
     * processes with secrets, leaves it out with the block contents. */
    n = lt_opt.sample_bytes ? lt_proc_read("/proc/self/cmdline", buf, sizeof(buf)) : 0;
    if (n > 0 && buf[n - 1] == '\0')
        n--; /* arguments stay NUL-separated; the last NUL is dropped */
    if (lt_opt.sample_bytes)
        meta_str(w, "cmdline", buf, n > 0 ? (size_t)n : 0);
    struct utsname u;
    if (uname(&u) == 0)
        meta_str(w, "hostname", u.nodename, strlen(u.nodename));
    meta_str(w, "leaktag_version", LEAKTAG_VERSION, strlen(LEAKTAG_VERSION));
    meta_uint(w, "seq", seq);
    meta_str(w, "reason", reason, strlen(reason));
    if (requests) /* snapshot signals answered by this one (those during the last included) */
        meta_uint(w, "requests", requests);
    if (sender > 0) { /* who sent the snapshot signal: a user's kill, or the program itself */
        meta_uint(w, "signal_sender_pid", (uint64_t)sender);
        char path[64];
        lt_format(path, sizeof(path), "/proc/%d/comm", (int)sender);
        n = lt_proc_read(path, buf, sizeof(buf));
        while (n > 0 && buf[n - 1] == '\n')
            n--;
        meta_str(w, "signal_sender", buf, n > 0 ? (size_t)n : 0);
    }
    int64_t wall = lt_clock_ns(CLOCK_REALTIME), mono = lt_clock_ns(CLOCK_MONOTONIC_COARSE);
    meta_uint(w, "time_unix_ns", (uint64_t)wall);
    meta_uint(w, "process_start_unix_ns", lt_proc_start_time_ns());
    /* Block times are centiseconds since the tracker's clock origin; this places it. */
    meta_uint(w, "clock_origin_unix_ns", (uint64_t)(wall - (mono - lt_clock_origin_ns)));
    meta_uint(w, "now_cs", now_cs);
    size_t len = lt_options_describe(buf, sizeof(buf));
    meta_str(w, "options", buf, lt_min(len, sizeof(buf) - 1));
    meta_uint(w, "depth", lt_opt.depth);
    meta_uint(w, "sample_bytes", lt_opt.sample_bytes);
    meta_uint(w, "samples_per_stack", lt_opt.samples);
    meta_uint(w, "sample_interval_bytes", lt_opt.sample); /* 0: every block is recorded */
    meta_uint(w, "page_size", (uint64_t)sysconf(_SC_PAGESIZE));
    meta_uint(w, "pointer_bits", sizeof(void *) * 8);
    meta_uint(w, "vm_size_bytes", st->vm_size);
    meta_uint(w, "vm_peak_bytes", st->vm_peak);
    meta_uint(w, "rss_bytes", st->vm_rss);
    meta_uint(w, "rss_peak_bytes", st->vm_hwm);
    meta_uint(w, "rss_anon_bytes", st->rss_anon);
    meta_uint(w, "rss_file_bytes", st->rss_file);
    meta_uint(w, "os_threads", st->threads);
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0)
        meta_uint(w, "rlimit_stack_bytes", rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur);
    if (getrlimit(RLIMIT_AS, &rl) == 0)
        meta_uint(w, "rlimit_as_bytes", rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur);
    /* User address space of this ABI: what a 32-bit process ran out of in the seed's case. */
    meta_uint(w, "address_space_bytes", lt_arch_address_space());
    lts_writer_end(w);
}

/* ---- MODULES ------------------------------------------------------------------------------ */

struct modules_ctx {
    struct lts_writer *w;
    struct lts_module_time *times; /* one per module written, for MODULE_TIMES */
    size_t count, max;
};

static void write_module(const struct lt_module *m, void *raw)
{
    struct modules_ctx *ctx = raw;
    if (ctx->count == ctx->max)
        return;
    ctx->times[ctx->count++] = (struct lts_module_time){m->loaded_cs, m->unloaded_cs};
    struct lts_segment segments[lt_array_size(m->segment)];
    for (unsigned i = 0; i < m->segments; i++)
        segments[i] = (struct lts_segment){m->segment[i].start,
                                           m->segment[i].end - m->segment[i].start,
                                           m->segment[i].offset, m->segment[i].flags};
    lts_put_module(ctx->w, &(struct lts_module){.path = m->path,
                                                .bias = m->bias,
                                                .build_id = m->build_id,
                                                .build_id_len = m->build_id_size,
                                                .nsegments = m->segments,
                                                .segments = segments});
}

/* MODULES and MODULE_TIMES from one listing of the registry (it may change in between).
 * A normal snapshot has brought the registry up to date first (write_locked, with the
 * loader's lock, in the asking thread); the final one of a process that ends uses it as it
 * is and waits a bounded time for it (another thread may be stuck inside the loader). */
static void write_modules(struct lts_writer *w, bool final)
{
    size_t bytes = LT_MODULES_MAX * sizeof(struct lts_module_time);
    struct modules_ctx ctx = {.w = w, .times = lt_mem_map_scratch(bytes), .max = LT_MODULES_MAX};
    if (!ctx.times)
        return;
    lts_writer_begin(w, LT_SECTION_MODULES);
    if (lt_modules_each(write_module, &ctx, (final ? 1 : 60) * 1000000000ll) != 0)
        lt_log("the module list is busy; this snapshot has none (frames are bare addresses)");
    lts_writer_end(w);
    lts_writer_begin(w, LT_SECTION_MODULE_TIMES);
    for (size_t i = 0; i < ctx.count; i++)
        lts_put_module_time(w, &ctx.times[i]);
    lts_writer_end(w);
    lt_mem_unmap(ctx.times, bytes);
}

/* ---- MAPS ---------------------------------------------------------------------------------- */

struct stack_range {
    uint64_t lo, hi;
};

struct maps_ctx {
    struct lts_writer *w;
    struct stack_range *stacks;
    unsigned nstacks;
};

static enum lt_map_kind classify(const struct lt_proc_map *m, const struct maps_ctx *c)
{
    if (!strcmp(m->path, "[heap]"))
        return LT_MAP_HEAP;
    if (!strcmp(m->path, "[stack]"))
        return LT_MAP_MAIN_STACK;
    if (!strcmp(m->path, "[vdso]") || !strcmp(m->path, "[vvar]") ||
        !strcmp(m->path, "[vsyscall]") || !strcmp(m->path, "[vvar_vclock]"))
        return LT_MAP_SPECIAL;
    if (m->inode || m->path[0] == '/')
        return LT_MAP_FILE;
    for (unsigned i = 0; i < c->nstacks; i++)
        if (m->start < c->stacks[i].hi && m->end > c->stacks[i].lo)
            return m->perms[0] == '-' ? LT_MAP_GUARD : LT_MAP_THREAD_STACK;
    if (!strncmp(m->perms, "---", 3))
        return LT_MAP_GUARD;
    return LT_MAP_ANON;
}

static void write_map(const struct lt_proc_map *m, void *ctx)
{
    struct maps_ctx *c = ctx;
    struct lts_map rec = {
        .start = m->start,
        .size = m->end - m->start,
        .offset = m->offset,
        .inode = m->inode,
        .rss = m->rss,
        .private_dirty = m->private_dirty,
        .swap = m->swap,
        .anonymous = m->anonymous,
        .path = m->path,
        .kind = (uint8_t)classify(m, c),
    };
    memcpy(rec.perms, m->perms, 4);
    lts_put_map(c->w, &rec);
}

static void write_maps(struct lts_writer *w, char *scratch, size_t scratch_size)
{
    /* Thread stacks are anonymous mappings; the registry knows where they are. */
    uint32_t nthreads = lt_threads_count();
    size_t bytes = (size_t)lt_max(nthreads, 1u) * sizeof(struct stack_range);
    struct maps_ctx c = {.w = w, .stacks = lt_mem_map_scratch(bytes)};
    for (uint32_t i = 0; c.stacks && i < nthreads; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (t && (atomic_load(&t->state) & LT_THREAD_ALIVE) && t->stack_size)
            c.stacks[c.nstacks++] = (struct stack_range){t->stack_addr,
                                                         t->stack_addr + t->stack_size};
    }
    lts_writer_begin(w, LT_SECTION_MAPS);
    lt_proc_maps(write_map, &c, scratch, scratch_size);
    lts_writer_end(w);
    if (c.stacks)
        lt_mem_unmap(c.stacks, bytes);
}

/* ---- BLOCKS and SAMPLES ------------------------------------------------------------------- */

struct thread_total {
    uint64_t blocks, bytes;
};

struct sample {
    uint64_t addr, size;
    uint32_t stack;
};

struct scan {
    struct lts_writer *w;
    uint32_t now_cs;
    uint64_t blocks, bytes;
    struct thread_total *threads;
    uint32_t nthreads;
    uint16_t *taken; /* samples taken per stack */
    uint32_t nstacks;
    struct sample *samples;
    uint32_t nsamples, max_samples;
};

static void visit_block(const struct lt_block *b, void *ctx)
{
    struct scan *s = ctx;
    lts_put_block(
        s->w, &(struct lts_block){.addr = b->addr, /* the table only holds 8-aligned addresses */
                                  .size = b->size,
                                  .stack = b->stack,
                                  .thread = b->thread,
                                  .age_cs = s->now_cs > b->time_cs ? s->now_cs - b->time_cs : 0,
                                  .kind = b->kind});
    s->blocks++;
    s->bytes += b->size;
    if (b->thread < s->nthreads) {
        s->threads[b->thread].blocks++;
        s->threads[b->thread].bytes += b->size;
    }
    if (b->stack < s->nstacks && s->taken[b->stack] < lt_opt.samples &&
        s->nsamples < s->max_samples) {
        s->taken[b->stack]++;
        s->samples[s->nsamples++] = (struct sample){b->addr, b->size, b->stack};
    }
}

/* Copies up to n bytes at addr; 0 if the memory is gone. Never faults. */
static size_t read_own(void *dst, uint64_t addr, size_t n)
{
    struct iovec local = {dst, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return got > 0 ? (size_t)got : 0;
}

/* zstd's memory, from leaktag's own mappings (never the tracked allocator), with the size in
 * front for the free. */
static void *zstd_alloc(void *opaque, size_t size)
{
    (void)opaque;
    uint64_t *p = lt_mem_map_scratch(size + 16);
    if (!p)
        return NULL;
    p[0] = size + 16;
    return p + 2;
}

static void zstd_free(void *opaque, void *address)
{
    (void)opaque;
    if (address) {
        uint64_t *p = (uint64_t *)address - 2;
        lt_mem_unmap(p, p[0]);
    }
}

static void write_samples(struct lts_writer *w, const struct scan *s)
{
    /* A census (LEAKTAG_SAMPLES=all) is most of the file, and mostly text: compressed. */
    ZSTD_CCtx *cctx = NULL;
    char *zbuf = NULL;
    size_t zcap = ZSTD_CStreamOutSize();
    if (lt_opt.samples == LT_SAMPLES_ALL) {
        cctx = ZSTD_createCCtx_advanced(
            (ZSTD_customMem){.customAlloc = zstd_alloc, .customFree = zstd_free});
        zbuf = lt_mem_map_scratch(zcap);
    }
    if (cctx && zbuf)
        lts_writer_begin_zstd(w, LT_SECTION_SAMPLES_ZSTD, cctx, zbuf, zcap);
    else
        lts_writer_begin(w, LT_SECTION_SAMPLES);
    /* Blocks are copied a batch at a time: up to SAMPLE_BATCH of them in a buffer of
     * SAMPLE_BATCH_BYTES, or one block's worth when LEAKTAG_SAMPLE_BYTES is larger. */
    size_t per = lt_opt.sample_bytes;
    size_t cap = lt_max(per, SAMPLE_BATCH_BYTES);
    char *buf = per ? lt_mem_map_scratch(cap) : NULL;
    for (uint32_t first = 0, n; buf && first < s->nsamples; first += n) {
        struct iovec local[SAMPLE_BATCH], remote[SAMPLE_BATCH];
        size_t want = 0;
        for (n = 0; n < SAMPLE_BATCH && first + n < s->nsamples; n++) {
            const struct sample *sm = &s->samples[first + n];
            size_t len = (size_t)lt_min((uint64_t)per, sm->size);
            if (n && want + len > cap)
                break;
            local[n] = (struct iovec){buf + want, len};
            remote[n] = (struct iovec){(void *)(uintptr_t)sm->addr, len};
            want += len;
        }
        /* One call for the batch; if a block vanished the call stops there, and the
         * batch is read again block by block. */
        ssize_t got = process_vm_readv(getpid(), local, n, remote, n, 0);
        for (uint32_t i = 0; i < n; i++) {
            const struct sample *sm = &s->samples[first + i];
            size_t len = local[i].iov_len;
            if (got != (ssize_t)want)
                len = read_own(local[i].iov_base, sm->addr, len);
            lts_put_sample(
                w, &(struct lts_sample){sm->addr, sm->stack, (uint32_t)len, local[i].iov_base});
        }
    }
    if (buf)
        lt_mem_unmap(buf, cap);
    lts_writer_end(w);
    if (cctx)
        ZSTD_freeCCtx(cctx);
    if (zbuf)
        lt_mem_unmap(zbuf, zcap);
}

/* ---- STACKS, THREADS, MISUSE, COUNTERS -------------------------------------------------- */

static void write_stacks(struct lts_writer *w, uint32_t count)
{
    lts_writer_begin(w, LT_SECTION_STACKS);
    for (uint32_t id = 0; id < count; id++) {
        unsigned depth = 0;
        const uint64_t *frames = lt_stacks_get(id, &depth);
        if (!frames)
            depth = 0;
        lts_put_stack(w, &(struct lts_stack){depth, frames});
    }
    lts_writer_end(w);
}

static void current_name(const struct lt_thread *t, char name[16])
{
    memcpy(name, t->name, 16);
    name[15] = '\0';
    if (!(atomic_load(&t->state) & LT_THREAD_ALIVE))
        return;
    char path[64], comm[32];
    lt_format(path, sizeof(path), "/proc/self/task/%d/comm", (int)t->tid);
    ssize_t n = lt_proc_read(path, comm, sizeof(comm));
    if (n > 0) {
        if (comm[n - 1] == '\n')
            comm[--n] = '\0';
        memset(name, 0, 16);
        memcpy(name, comm, lt_min((size_t)n, (size_t)15));
    }
}

static void write_threads(struct lts_writer *w, const struct scan *s)
{
    lts_writer_begin(w, LT_SECTION_THREADS);
    uint32_t n = lt_threads_count();
    for (uint32_t i = 0; i < n; i++) {
        struct lt_thread *t = lt_thread_get(i);
        if (!t)
            continue;
        uint32_t state = atomic_load(&t->state);
        struct thread_total tot = i < s->nthreads ? s->threads[i] : (struct thread_total){0};
        /* Threads that are alive or still own live blocks; the rest only add to counters. */
        if (!(state & LT_THREAD_ALIVE) && !tot.blocks)
            continue;
        char name[16];
        current_name(t, name);
        lts_put_thread(w, &(struct lts_thread){
                              .idx = t->idx,
                              .tid = (uint64_t)t->tid,
                              .name = name,
                              .state = state,
                              .start_cs = t->start_cs,
                              .exit_cs = t->exit_cs,
                              .stack_size = t->stack_size,
                              .stack_addr = t->stack_addr,
                              .guard_size = t->guard_size,
                              .start_routine = t->start_routine,
                              .creator = t->creator,
                              .live_blocks = tot.blocks,
                              .live_bytes = tot.bytes,
                              .allocs = atomic_load_explicit(&t->allocs, memory_order_relaxed),
                              .frees = atomic_load_explicit(&t->frees, memory_order_relaxed)});
    }
    lts_writer_end(w);
}

static void write_misuse(struct lts_writer *w, struct lt_misuse *list, unsigned max)
{
    unsigned n = lt_min(lt_misuse_list(list, max), max);
    lts_writer_begin(w, LT_SECTION_MISUSE);
    for (unsigned i = 0; i < n; i++)
        lts_put_misuse(w, &(struct lts_misuse){(uint8_t)list[i].type, list[i].alloc_stack,
                                               list[i].release_stack, list[i].alloc_kind,
                                               list[i].release_kind, list[i].count});
    lts_writer_end(w);
}

static void counter(struct lts_writer *w, const char *name, uint64_t v)
{
    lts_put_counter(w, name, v);
}

static void write_counters(struct lts_writer *w, const struct scan *s, uint32_t stacks)
{
    struct lt_totals t;
    lt_tracker_totals(&t);
    struct lt_table_stats ts;
    lt_table_stats(&ts);
    lts_writer_begin(w, LT_SECTION_COUNTERS);
    counter(w, "live_blocks", s->blocks);
    counter(w, "live_bytes", s->bytes);
    counter(w, "peak_live_bytes", lt_max(t.peak_live_bytes, s->bytes));
    counter(w, "allocations", t.allocations);
    counter(w, "frees", t.frees);
    counter(w, "bytes_allocated", t.bytes_allocated);
    counter(w, "bytes_freed", t.bytes_freed);
    counter(w, "unknown_frees", t.unknown_frees);
    counter(w, "mismatches", t.mismatches);
    counter(w, "untracked_blocks", t.untracked_blocks);
    counter(w, "untracked_bytes", t.untracked_bytes);
    counter(w, "threads_seen", t.threads_seen);
    counter(w, "threads_alive", t.threads_alive);
    counter(w, "stacks", stacks);
    counter(w, "tracker_bytes", lt_mem_in_use());
    counter(w, "table_slots", ts.slots);
    counter(w, "table_migrations", ts.migrations);
    counter(w, "table_lost_records", ts.lost_records);
    counter(w, "unwind_fallbacks", lt_unwind_fallbacks()); /* stacks libunwind captured */
    counter(w, "guards_recovered", lt_guards_recovered()); /* longjmps out of a hook */
    struct lt_nursery_stats ns;
    lt_nursery_stats(&ns);
    counter(w, "nurseries", ns.nurseries);
    counter(w, "nursery_evictions", ns.evictions);       /* young blocks moved to the table */
    counter(w, "nursery_remote_frees", ns.remote_frees); /* freed from another's nursery */
    counter(w, "nursery_growths", ns.growths);
    lts_writer_end(w);
}

/* ---- the whole file ---------------------------------------------------------------------- */

/* The reachability verdict (LEAKTAG_REACH), taken before the blocks are written: blocks
 * allocated after it are written too, and read as not scanned. */
/* The thread a snapshot is written for (set under the lock, by that thread): the verdict
 * leaves it running and takes its stack above leaktag's frames as a root. */
static struct lt_verdict_caller asking;

static void take_verdict(struct lt_verdict *v)
{
    lt_verdict_take(v, &asking);
    if (v->status) { /* every time: a reason that changes, or stays, is the user's to see */
        lt_log("no reachability verdict with snapshot %u: %s", sequence,
               v->why ? v->why : "unknown error");
        return;
    }
    uint64_t blocks[4] = {0};
    for (uint64_t i = 0; i < v->n; i++)
        blocks[v->state[i]]++;
    if (!lt_opt.quiet)
        lt_log("reachability: %llu blocks scanned, %llu definitely lost, %llu indirectly lost, "
               "%llu possibly lost, %llu reachable; %u threads stopped %llu us (fork %llu us), "
               "scan %llu ms, %llu MiB scanned",
               (unsigned long long)v->n, (unsigned long long)blocks[LT_VERDICT_DEFINITELY_LOST],
               (unsigned long long)blocks[LT_VERDICT_INDIRECTLY_LOST],
               (unsigned long long)blocks[LT_VERDICT_POSSIBLY_LOST],
               (unsigned long long)blocks[LT_VERDICT_REACHABLE], v->threads,
               (unsigned long long)(v->pause_ns / 1000), (unsigned long long)(v->fork_ns / 1000),
               (unsigned long long)(v->scan_ns / 1000000),
               (unsigned long long)(v->bytes_scanned >> 20));
}

static void write_reach(struct lts_writer *w, const struct lt_verdict *v)
{
    lts_writer_begin(w, LT_SECTION_REACH_SCAN);
    lts_put_reach_scan(
        w, &(struct lts_reach_scan){.status = v->status,
                                    .why = v->status ? (v->why ? v->why : "unknown error") : "",
                                    .pause_ns = v->pause_ns,
                                    .fork_ns = v->fork_ns,
                                    .scan_ns = v->scan_ns,
                                    .bytes_scanned = v->bytes_scanned,
                                    .blocks = v->status ? 0 : v->n,
                                    .threads = v->threads});
    lts_writer_end(w);
    if (v->status)
        return;
    lts_writer_begin(w, LT_SECTION_REACH_ROOTS);
    for (uint32_t i = 0; i < v->nroots; i++)
        lts_put_reach_root(w, &(struct lts_reach_root){.type = (uint8_t)v->roots[i].kind,
                                                       .tid = (uint64_t)v->roots[i].tid,
                                                       .lo = v->roots[i].lo,
                                                       .hi = v->roots[i].hi});
    lts_writer_end(w);
    lts_writer_begin(w, LT_SECTION_REACH);
    for (uint64_t i = 0; i < v->n; i++) {
        uint32_t via = v->via[i];
        struct lts_reach r = {.addr = v->addr[i], .state = v->state[i]};
        if (via != LT_REACH_VIA_NONE) {
            r.via_type = via & LT_REACH_VIA_ROOT ? LT_VIA_ROOT : LT_VIA_BLOCK;
            r.via = via & ~LT_REACH_VIA_ROOT;
            r.via_addr = v->via_addr[i];
        }
        lts_put_reach(w, &r);
    }
    lts_writer_end(w);
}

static int write_locked(struct lt_thread *self, const char *reason, uint32_t requests, pid_t sender,
                        bool final);
static int compose(struct lt_thread *self, const char *reason, uint32_t requests, pid_t sender,
                   bool final);

static const char *error_text(int err)
{
    const char *text = strerrordesc_np(err);
    return text ? text : "unknown error";
}

/* The last snapshot of a process that is ending: a snapshot under way in another thread gets
 * a bounded time to finish (it may never: that thread could be stuck, or gone with the
 * crash). */
int lt_composer_write_final(struct lt_thread *self, const char *reason)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    if (pthread_mutex_timedlock(&lock, &until) != 0) {
        lt_log("a snapshot under way did not finish in 3 s; no final snapshot (%s)", reason);
        return -ETIMEDOUT;
    }
    return write_locked(self, reason, 0, 0, true);
}

int lt_composer_write(struct lt_thread *self, const char *reason, uint32_t requests, pid_t sender)
{
    pthread_mutex_lock(&lock);
    return write_locked(self, reason, requests, sender, false);
}

/* With the lock held; releases it. */
static LT_TLS bool composing; /* this thread is writing a snapshot */

bool lt_composer_busy_here(void)
{
    return composing;
}

struct job {
    char reason[64];
    uint32_t requests;
    pid_t sender;
    bool final;
    int err;
};

/* The one job under way (the lock serializes them): static, not on the asking thread's
 * stack, which a longjmp out of leaktag_snapshot could abandon while the files thread
 * still writes the result. */
static struct job job;

static void compose_job(void *raw)
{
    struct job *j = raw;
    bool was = composing; /* (set already when the asking thread runs it itself) */
    composing = true;
    j->err = compose(lt_self(), j->reason, j->requests, j->sender, j->final);
    composing = was;
}

/* In leaktag's files thread, whose descriptor table is its own (fdtable.h), while this one
 * waits; in this thread when there is none (a single-threaded process, an in-handler
 * snapshot). */
static int write_locked(struct lt_thread *self, const char *reason, uint32_t requests, pid_t sender,
                        bool final)
{
    (void)self;
    job = (struct job){.requests = requests,
                       .sender = sender,
                       .final = final,
                       .err = -ECANCELED /* until it has run */};
    lt_format(job.reason, sizeof(job.reason), "%s", reason);
    /* The module registry, in this thread: it may hold the loader's lock (a snapshot asked
     * for inside a dl_iterate_phdr callback), which is recursive for it alone. */
    if (!final)
        lt_modules_rescan();
    pid_t me = (pid_t)syscall(SYS_gettid);
    /* Leaktag's own thread has no application frames; another caller's begin above the
     * frame that entered leaktag. */
    uint64_t app_sp = me == lt_threads_leaktag_tid()
                          ? 0
                          : (lt_tls.roots_from ? lt_tls.roots_from : lt_tls.guard_frame);
    asking = (struct lt_verdict_caller){
        .tid = me,
        .sp = app_sp,
        /* the stack the application's frames are on: a fatal signal's final snapshot is
         * written on leaktag's own stack */
        .here = app_sp ? app_sp : (uint64_t)(uintptr_t)__builtin_frame_address(0),
    };
    composing = true;
    if (!lt_fdtable_run(compose_job, &job, 0))
        compose_job(&job);
    composing = false;
    int err = job.err;
    pthread_mutex_unlock(&lock);
    return err;
}

static int compose(struct lt_thread *self, const char *reason, uint32_t requests, pid_t sender,
                   bool final)
{
    uint32_t seq = ++sequence;
    struct lt_outfile out;
    int err = lt_outfile_open(&out, lt_opt.output, seq);
    if (err) {
        lt_log("cannot write snapshot %u to %s: %s", seq, out.path, error_text(-err));
        return err;
    }
    /* Transient arrays, all from mmap and gone at the end. */
    uint32_t nthreads = lt_threads_count() + 64, nstacks = lt_stacks_count();
    size_t scratch_size = 256 * 1024, buffer_size = WRITE_BUFFER_BYTES;
    size_t threads_bytes = nthreads * sizeof(struct thread_total);
    size_t taken_bytes = (size_t)lt_max(nstacks, 1u) * sizeof(uint16_t);
    uint32_t max_samples = (uint32_t)lt_min((uint64_t)nstacks * lt_opt.samples, SAMPLES_MAX);
    if (lt_opt.samples == LT_SAMPLES_ALL) { /* a census: room for every live block */
        struct lt_totals totals;
        lt_tracker_totals(&totals);
        uint64_t live = totals.allocations > totals.frees ? totals.allocations - totals.frees : 0;
        max_samples = (uint32_t)lt_min(live + live / 8 + 1024, CENSUS_MAX);
    }
    size_t samples_bytes = (size_t)lt_max(max_samples, 1u) * sizeof(struct sample);
    size_t misuse_bytes = LT_MISUSE_MAX * sizeof(struct lt_misuse);
    char *scratch = lt_mem_map_scratch(scratch_size);
    char *buffer = lt_mem_map_scratch(buffer_size);
    struct lts_writer w;
    struct scan s = {
        .w = &w,
        .now_cs = lt_clock_cs(),
        .threads = lt_mem_map_scratch(threads_bytes),
        .nthreads = nthreads,
        .taken = lt_mem_map_scratch(taken_bytes),
        .nstacks = nstacks,
        .samples = lt_mem_map_scratch(samples_bytes),
        .max_samples = max_samples,
    };
    struct lt_misuse *misuse = lt_mem_map_scratch(misuse_bytes);
    if (!scratch || !buffer || !s.threads || !s.taken || !s.samples || !misuse) {
        err = -ENOMEM;
        lt_outfile_abort(&out);
    } else {
        struct lt_verdict verdict = {.status = -ENOENT};
        if (lt_opt.reach)
            take_verdict(&verdict);
        lts_writer_init(&w, out.fd, buffer, buffer_size);
        struct lt_proc_status st;
        lt_proc_status(&st);
        write_meta(&w, seq, reason, requests, sender, s.now_cs, &st);
        write_modules(&w, final);
        write_maps(&w, scratch, scratch_size);
        lts_writer_begin(&w, LT_SECTION_BLOCKS);
        lt_nursery_scan(self, visit_block, &s);
        lts_writer_end(&w);
        write_samples(&w, &s);
        /* After the scan: every stack a written block refers to exists by now. */
        uint32_t stacks = lt_stacks_count();
        write_stacks(&w, stacks);
        write_threads(&w, &s);
        write_misuse(&w, misuse, LT_MISUSE_MAX);
        write_counters(&w, &s, stacks);
        if (lt_opt.reach)
            write_reach(&w, &verdict);
        lt_verdict_free(&verdict);
        err = lt_outfile_commit(&out, lts_writer_finish(&w));
    }
    if (err) {
        lt_log("cannot write snapshot %u to %s: %s", seq, out.path, error_text(-err));
    } else {
        lt_control_written(out.path);
        keep(&out);
        if (!lt_opt.quiet)
            lt_log("snapshot %u written to %s (%llu live blocks, %llu bytes)", seq, out.path,
                   (unsigned long long)s.blocks, (unsigned long long)s.bytes);
    }
    lt_mem_unmap(scratch, scratch_size);
    lt_mem_unmap(buffer, buffer_size);
    lt_mem_unmap(s.threads, threads_bytes);
    lt_mem_unmap(s.taken, taken_bytes);
    lt_mem_unmap(s.samples, samples_bytes);
    lt_mem_unmap(misuse, misuse_bytes);
    return err;
}
