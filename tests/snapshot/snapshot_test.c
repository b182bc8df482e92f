/* Snapshot scenarios, run under LD_PRELOAD=libleaktag.so with LEAKTAG_OUTPUT=DIR/snap.%p.%n.lts.
 * The program produces a snapshot, then reads it back with the analyzer's reader and checks
 * it against what it knows it holds.
 *   snapshot_test signal8      8 threads churn; SIGUSR2; exact stable set per thread
 *   snapshot_test storm        100 SIGUSR2 as fast as possible during churn; every file parses
 *   snapshot_test api          leaktag_snapshot(); interval snapshots (LEAKTAG_INTERVAL=1)
 *   snapshot_test fork         parent and child snapshots, each with its own blocks
 *   snapshot_test chain        an application SIGUSR2 handler installed later still runs
 *   snapshot_test sample-race  sampling blocks that other threads free (and unmap) at once
 *   snapshot_test once         one leaktag_snapshot("once"); prints its return value
 *   snapshot_test many N       N leaktag_snapshot("many") in a row
 *   snapshot_test chdir-once   the same after chdir("/"): relative paths stay put
 *   snapshot_test read FILE    (without the shim) prints "SEQ REASON BLOCKS" of a snapshot
 * Prints "ok" on stderr and exits 0 on success. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../preload/check.h"
#include "leaktag.h"
#include "reader.h"

static const char *outdir;

static void snapshot_path(char *buf, size_t size, pid_t pid, unsigned seq)
{
    snprintf(buf, size, "%s/snap.%d.%u.lts", outdir, (int)pid, seq);
}

/* Waits (up to 20 s) for snapshot `seq` of `pid` to exist. */
static void wait_for(pid_t pid, unsigned seq)
{
    char path[4096];
    snapshot_path(path, sizeof(path), pid, seq);
    for (int i = 0; i < 2000; i++) {
        if (access(path, F_OK) == 0)
            return;
        usleep(10000);
    }
    fprintf(stderr, "snapshot %s never appeared\n", path);
    exit(1);
}

static struct lts_snapshot *load(pid_t pid, unsigned seq)
{
    char path[4096];
    snapshot_path(path, sizeof(path), pid, seq);
    struct lts_snapshot *s;
    struct lts_error err;
    if (lts_open(path, &s, &err) != 0) {
        fprintf(stderr, "%s: %s (at offset %llu)\n", path, err.message,
                (unsigned long long)err.offset);
        exit(1);
    }
    return s;
}

static void *volatile sink;

/* ---- signal8 ------------------------------------------------------------------------------ */

#define WORKERS 8
#define RING 256
static void *stable[WORKERS][64];
static _Atomic int ready, stop;

__attribute__((noinline)) static void *stable_alloc(int worker, size_t size)
{
    char *p = malloc(size);
    snprintf(p, size, "stable-%d-block", worker); /* the content the sample must show */
    __asm__ __volatile__("" ::: "memory");
    return p;
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[16];
    snprintf(name, sizeof(name), "worker-%d", id);
    pthread_setname_np(pthread_self(), name);
    for (int i = 0; i < 50 + id; i++)
        stable[id][i] = stable_alloc(id, 1000 + (size_t)id);
    atomic_fetch_add(&ready, 1);
    void *ring[RING] = {0};
    unsigned seed = (unsigned)id * 7919u + 1;
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % RING;
        free(ring[k]);
        ring[k] = malloc(16 + (seed >> 16) % 497); /* below 1000: never a stable size */
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    return NULL;
}

static int in_function(uint64_t ip, void *fn)
{
    Dl_info a, b;
    return dladdr((void *)(uintptr_t)(ip - 1), &a) && dladdr(fn, &b) && a.dli_saddr == b.dli_saddr;
}

static int test_signal8(void)
{
    pthread_t t[WORKERS];
    for (intptr_t i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker_main, (void *)i);
    while (atomic_load(&ready) < WORKERS)
        usleep(1000);
    usleep(50000); /* let the churn run */
    kill(getpid(), SIGUSR2);
    wait_for(getpid(), 1);
    atomic_store(&stop, 1);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);

    struct lts_snapshot *s = load(getpid(), 1);
    CHECK(!strcmp(s->reason, "signal"));
    CHECK(s->seq == 1 && s->pid == (uint64_t)getpid());
    CHECK(lts_counter(s, "live_blocks", 0) == s->nblocks);
    for (int w = 0; w < WORKERS; w++) {
        size_t found = 0;
        uint32_t thread = UINT32_MAX, stack = UINT32_MAX;
        for (size_t i = 0; i < s->nblocks; i++) {
            const struct lts_block *b = &s->blocks[i];
            if (b->size != 1000 + (uint64_t)w)
                continue;
            int known = 0;
            for (int j = 0; j < 50 + w; j++)
                known |= (uint64_t)(uintptr_t)stable[w][j] == b->addr;
            CHECK(known);
            CHECK(thread == UINT32_MAX || thread == b->thread);
            CHECK(stack == UINT32_MAX || stack == b->stack);
            thread = b->thread;
            stack = b->stack;
            found++;
        }
        CHECK(found == 50 + (size_t)w);
        const struct lts_thread *th = lts_thread(s, thread);
        char name[16];
        snprintf(name, sizeof(name), "worker-%d", w);
        CHECK(th && !strcmp(th->name, name));
        CHECK(th->live_blocks >= found);
        /* frame 0 is the code that called malloc */
        CHECK(s->stacks[stack].depth >= 2);
        CHECK(in_function(s->stacks[stack].frames[0], (void *)stable_alloc));
        /* All workers allocate through the same call path: one stack, eight threads. */
        int sampled = 0;
        for (size_t i = 0; i < s->nsamples; i++) {
            const struct lts_sample *sm = &s->samples[i];
            int k;
            char tail[8];
            if (sm->stack == stack && sm->len == 256 &&
                sscanf((const char *)sm->bytes, "stable-%d-bloc%1s", &k, tail) == 2 &&
                k >= 0 && k < WORKERS)
                sampled++;
        }
        CHECK(sampled == 8); /* LEAKTAG_SAMPLES default */
    }
    /* Churn blocks: each worker holds at most RING at any moment; a scan during churn may
     * also see a few that were freed and replaced while it ran, never more than double. */
    size_t churn = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        churn += s->blocks[i].size < 1000;
    CHECK(churn <= 2 * WORKERS * RING + 64);
    /* The thread inventory: every worker listed with its stack reservation. */
    size_t listed = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        if (!strncmp(s->threads[i].name, "worker-", 7)) {
            listed++;
            CHECK(s->threads[i].stack_size >= 64 * 1024);
        }
    CHECK(listed == WORKERS);
    lts_close(s);
    for (int w = 0; w < WORKERS; w++)
        for (int j = 0; j < 50 + w; j++)
            free(stable[w][j]);
    return 0;
}

/* ---- storm -------------------------------------------------------------------------------- */

static _Atomic unsigned app_signals;

static void app_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&app_signals, 1);
}

static void *churn_main(void *arg)
{
    (void)arg;
    void *ring[RING] = {0};
    unsigned seed = 99;
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % RING;
        free(ring[k]);
        ring[k] = malloc(16 + (seed >> 16) % 2000);
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    return NULL;
}

static unsigned count_snapshots(pid_t pid)
{
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "snap.%d.", (int)pid);
    DIR *d = opendir(outdir);
    unsigned n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d)
        closedir(d);
    return n;
}

static int test_storm(void)
{
    signal(SIGUSR2, app_handler); /* so that the same program also runs without the shim */
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn_main, NULL);
    for (int i = 0; i < 100; i++)
        kill(getpid(), SIGUSR2);
    /* Wait until snapshots stop coming. */
    unsigned last = 0;
    for (int quiet = 0, rounds = 0; quiet < 100 && rounds < 3000 && leaktag_stats; rounds++) {
        usleep(10000);
        unsigned n = count_snapshots(getpid());
        quiet = n == last && n > 0 ? quiet + 1 : 0;
        last = n;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&app_signals) >= 1);
    if (leaktag_stats) {
        unsigned n = count_snapshots(getpid());
        CHECK(n >= 1 && n <= 100);
        uint64_t answered = 0;
        for (unsigned seq = 1; seq <= n; seq++) {
            struct lts_snapshot *s = load(getpid(), seq);
            CHECK(!strcmp(s->reason, "signal") && s->seq == seq);
            answered += lts_meta_number(s, "requests", 0);
            lts_close(s);
        }
        /* Signals that came during a snapshot are answered by the next: every one the
         * handler saw (the kernel merges some before that) is counted in one snapshot. */
        CHECK(answered == atomic_load(&app_signals));
        fprintf(stderr, "storm: %u snapshots answer the %u signals delivered (of 100 sent)\n", n,
                atomic_load(&app_signals));
    }
    /* What the program prints must not depend on leaktag. */
    unsigned long sum = 0;
    for (unsigned long i = 0; i < 1000000; i++)
        sum += i % 7;
    printf("storm result %lu\n", sum);
    return 0;
}

/* ---- api + interval ----------------------------------------------------------------------- */

static int test_api(void)
{
    void *keep = malloc(4242);
    sink = keep;
    CHECK(leaktag_snapshot != NULL);
    CHECK(leaktag_snapshot("api-test") == 0);
    struct lts_snapshot *s = load(getpid(), 1);
    CHECK(!strcmp(s->reason, "api-test"));
    int seen = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        seen += s->blocks[i].addr == (uint64_t)(uintptr_t)keep && s->blocks[i].size == 4242;
    CHECK(seen == 1);
    lts_close(s);
    /* LEAKTAG_INTERVAL=1: two more within three seconds */
    wait_for(getpid(), 3);
    s = load(getpid(), 2);
    CHECK(!strcmp(s->reason, "interval"));
    lts_close(s);
    s = load(getpid(), 3);
    CHECK(!strcmp(s->reason, "interval"));
    lts_close(s);
    struct leaktag_stats st = {.struct_size = sizeof(st)};
    CHECK(leaktag_stats(&st) == 0 && st.snapshots >= 3);
    return 0; /* exit: the at-exit snapshot is checked by the driver */
}

/* ---- fork --------------------------------------------------------------------------------- */

static int count_size(const struct lts_snapshot *s, uint64_t size)
{
    int n = 0;
    for (size_t i = 0; i < s->nblocks; i++)
        n += s->blocks[i].size == size;
    return n;
}

static int test_fork(void)
{
    void *inherited[10];
    for (int i = 0; i < 10; i++)
        inherited[i] = malloc(3001);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        free(inherited[0]);
        for (int i = 0; i < 7; i++)
            sink = malloc(3002);
        _exit(leaktag_snapshot("child") == 0 ? 0 : 1);
    }
    for (int i = 0; i < 5; i++)
        sink = malloc(3003); /* the parent's own, after the fork */
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status));
    CHECK(leaktag_snapshot("parent") == 0);

    struct lts_snapshot *c = load(child, 1), *p = load(getpid(), 1);
    CHECK(c->pid == (uint64_t)child && !strcmp(c->reason, "child") && c->seq == 1);
    CHECK(count_size(c, 3001) == 9 && count_size(c, 3002) == 7 && count_size(c, 3003) == 0);
    CHECK(p->pid == (uint64_t)getpid() && !strcmp(p->reason, "parent"));
    CHECK(count_size(p, 3001) == 10 && count_size(p, 3002) == 0 && count_size(p, 3003) == 5);
    /* In the child only the forking thread is alive. */
    size_t alive = 0;
    for (size_t i = 0; i < c->nthreads; i++)
        alive += (c->threads[i].state & 1) && !(c->threads[i].state & 4);
    CHECK(alive == 1);
    lts_close(c);
    lts_close(p);
    return 0;
}

/* ---- chain -------------------------------------------------------------------------------- */

static _Atomic int siginfo_calls;

static void app_siginfo(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    if (sig == SIGUSR2 && info && info->si_pid == getpid())
        atomic_fetch_add(&siginfo_calls, 1);
}

static int test_chain(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = app_siginfo;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGUSR2, &sa, &old) == 0);
    CHECK(old.sa_handler == SIG_DFL); /* the application sees its own view */
    kill(getpid(), SIGUSR2);
    wait_for(getpid(), 1);
    for (int i = 0; i < 200 && !atomic_load(&siginfo_calls); i++)
        usleep(10000);
    CHECK(atomic_load(&siginfo_calls) == 1);
    CHECK(sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_sigaction == app_siginfo);
    /* signal() takes over the application's handler; leaktag's stays underneath */
    CHECK(signal(SIGUSR2, app_handler) == (void (*)(int))(void *)app_siginfo);
    kill(getpid(), SIGUSR2);
    wait_for(getpid(), 2);
    for (int i = 0; i < 200 && !atomic_load(&app_signals); i++)
        usleep(10000);
    CHECK(atomic_load(&app_signals) == 1 && atomic_load(&siginfo_calls) == 1);
    /* More changes than leaktag keeps copies of: each returns the one before it. */
    void (*previous)(int) = app_handler;
    for (int i = 0; i < 40; i++) {
        void (*next)(int) = i % 2 ? app_handler : SIG_IGN;
        CHECK(signal(SIGUSR2, next) == previous);
        previous = next;
    }
    kill(getpid(), SIGUSR2);
    wait_for(getpid(), 3);
    for (int i = 0; i < 200 && atomic_load(&app_signals) < 2; i++)
        usleep(10000);
    CHECK(atomic_load(&app_signals) == 2);
    return 0;
}

/* ---- sample-race -------------------------------------------------------------------------- */

static void *freeing_main(void *arg)
{
    (void)arg;
    unsigned seed = 5;
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        /* Large blocks are mmap'd by glibc: freeing them unmaps the memory at once. */
        size_t size = seed % 4 == 0 ? 200000 + seed % 50000 : 64 + seed % 4000;
        char *p = malloc(size);
        memset(p, 'x', size < 256 ? size : 256);
        sched_yield();
        free(p);
    }
    return NULL;
}

static int test_sample_race(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, freeing_main, NULL);
    for (unsigned seq = 1; seq <= 30; seq++) {
        CHECK(leaktag_snapshot("race") == 0);
        struct lts_snapshot *s = load(getpid(), seq);
        lts_close(s);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}

static int test_once(int change_dir)
{
    for (int i = 0; i < 20000; i++) /* enough blocks that the file does not fit in 16 KiB */
        sink = malloc(100);
    if (change_dir)
        CHECK(chdir("/") == 0);
    printf("leaktag_snapshot returned %d\n", leaktag_snapshot("once"));
    return 0;
}

static int read_file(const char *path)
{
    struct lts_snapshot *s;
    struct lts_error err;
    if (lts_open(path, &s, &err) != 0) {
        fprintf(stderr, "%s: %s (at offset %llu)\n", path, err.message,
                (unsigned long long)err.offset);
        return 1;
    }
    printf("%llu %s %zu\n", (unsigned long long)s->seq, s->reason, s->nblocks);
    lts_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "many")) {
        for (int i = 0, n = atoi(argv[2]); i < n; i++)
            if (leaktag_snapshot("many") != 0)
                return 1;
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "read"))
        return read_file(argv[2]);
    outdir = getenv("SNAPSHOT_DIR");
    if (argc < 2 || !outdir) { /* (further arguments are ignored: a test puts a "secret" there) */
        fprintf(stderr, "usage: SNAPSHOT_DIR=DIR snapshot_test SCENARIO\n");
        return 2;
    }
    fprintf(stderr, "%s: start\n", argv[1]);
    int rc = !strcmp(argv[1], "signal8")       ? test_signal8()
             : !strcmp(argv[1], "storm")       ? test_storm()
             : !strcmp(argv[1], "api")         ? test_api()
             : !strcmp(argv[1], "fork")        ? test_fork()
             : !strcmp(argv[1], "chain")       ? test_chain()
             : !strcmp(argv[1], "sample-race") ? test_sample_race()
             : !strcmp(argv[1], "once")        ? test_once(0)
             : !strcmp(argv[1], "chdir-once")  ? test_once(1)
                                               : 2;
    if (rc == 0)
        fprintf(stderr, "%s: ok\n", argv[1]);
    return rc;
}
