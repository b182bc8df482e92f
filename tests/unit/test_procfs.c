/* Unit tests of procfs.c, /proc/self files into caller buffers: lt_proc_read of a file larger
 * than the buffer (cut, NUL-terminated, its length), of a missing file and of a directory
 * (-errno); lt_proc_status against /proc/self/status as the test reads it; lt_proc_maps
 * once per mapping of smaps, the same list as /proc/self/maps with a 64 KiB scratch well
 * under the file's size, and the test's own mappings found: an anonymous one of known size,
 * permissions and resident pages, file mappings of known offset and inode whose paths hold a
 * space and a newline; lt_proc_live_threads counting the threads the test starts, and not a
 * zombie group leader; lt_proc_start_time_ns of a child forked at a known time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"

static char dir[] = "/tmp/leaktag-test-procfs-XXXXXX";
static uint64_t main_entered_ns; /* wall clock at main(): the process started before */

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void write_file(const char *path, const char *content, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
}

static char big[10000];

static void test_read(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    char path[128];
    snprintf(path, sizeof(path), "%s/big", dir);
    write_file(path, big, sizeof(big));

    char buf[100];
    memset(buf, '#', sizeof(buf));
    assert_int_equal(lt_proc_read(path, buf, sizeof(buf)), sizeof(buf) - 1); /* cut */
    assert_memory_equal(buf, big, sizeof(buf) - 1);
    assert_int_equal(buf[sizeof(buf) - 1], '\0');

    static char whole[sizeof(big) + 1]; /* just the room: all of it */
    assert_int_equal(lt_proc_read(path, whole, sizeof(whole)), sizeof(big));
    assert_memory_equal(whole, big, sizeof(big));
    assert_int_equal(whole[sizeof(big)], '\0');

    /* a /proc file (its size 0 to stat, read in pieces) larger than the buffer */
    assert_int_equal(lt_proc_read("/proc/self/smaps", buf, sizeof(buf)), sizeof(buf) - 1);
    assert_int_equal(strlen(buf), sizeof(buf) - 1);

    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(lt_proc_read(path, buf, sizeof(buf)), -ENOENT);
    assert_int_equal(lt_proc_read("/proc/self/no-such-file", buf, sizeof(buf)), -ENOENT);
}

/* read(2) of a directory fails with EISDIR: "the length or -errno" is -EISDIR. */
static void test_read_error(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(lt_proc_read(dir, buf, sizeof(buf)), -EISDIR);
}

/* ---- status ----------------------------------------------------------------------------- */

struct status_fields {
    uint64_t v[9]; /* in lt_proc_status's order, bytes; threads last */
};

static const char *const status_keys[9] = {"VmSize:",  "VmPeak:", "VmRSS:",  "VmHWM:",  "RssAnon:",
                                           "RssFile:", "VmStk:",  "VmData:", "Threads:"};

static void read_status(struct status_fields *f)
{
    memset(f, 0, sizeof(*f));
    FILE *in = fopen("/proc/self/status", "r");
    assert_non_null(in);
    char line[512];
    while (fgets(line, sizeof(line), in))
        for (int k = 0; k < 9; k++) {
            size_t n = strlen(status_keys[k]);
            if (!strncmp(line, status_keys[k], n))
                f->v[k] = strtoull(line + n, NULL, 10) * (k < 8 ? 1024 : 1);
        }
    fclose(in);
}

static pthread_barrier_t barrier;

static void *wait_at_barrier(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier); /* started */
    pthread_barrier_wait(&barrier); /* may end */
    return NULL;
}

static void test_status(void **state)
{
    (void)state;
    pthread_t t[2];
    pthread_barrier_init(&barrier, NULL, 3);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, wait_at_barrier, NULL), 0);
    pthread_barrier_wait(&barrier);

    struct status_fields before, after;
    struct lt_proc_status st;
    read_status(&before);
    assert_int_equal(lt_proc_status(&st), 0);
    read_status(&after);
    const uint64_t got[9] = {st.vm_size,  st.vm_peak,  st.vm_rss,  st.vm_hwm, st.rss_anon,
                             st.rss_file, st.vm_stack, st.vm_data, st.threads};
    for (int k = 0; k < 9; k++) { /* between the test's two reads (they may move) */
        uint64_t lo = before.v[k] < after.v[k] ? before.v[k] : after.v[k];
        uint64_t hi = before.v[k] < after.v[k] ? after.v[k] : before.v[k];
        if (got[k] < lo || got[k] > hi)
            fail_msg("%s %llu, not within [%llu, %llu]", status_keys[k], (unsigned long long)got[k],
                     (unsigned long long)lo, (unsigned long long)hi);
    }
    assert_true(st.vm_size > 0 && st.vm_rss > 0 && st.vm_stack > 0);
    assert_int_equal(st.threads, 3); /* this one and the two waiting */
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
}

/* ---- maps ------------------------------------------------------------------------------- */

#define MAX_MAPS 2048

struct map_line {
    uint64_t start, end, offset, inode;
    char perms[5];
};

static struct map_line listed[MAX_MAPS], seen[MAX_MAPS];
static int nlisted, nseen;

/* What the test looks for among the callbacks. */
struct wanted {
    uint64_t start, end;
    bool found;
    int times;
    struct lt_proc_map m; /* its figures (path copied below) */
    char path[4200];
};

static struct wanted want[4];
static int nwant;

static void collect(const struct lt_proc_map *m, void *ctx)
{
    (void)ctx;
    if (nseen < MAX_MAPS) {
        struct map_line *l = &seen[nseen];
        l->start = m->start, l->end = m->end, l->offset = m->offset, l->inode = m->inode;
        memcpy(l->perms, m->perms, sizeof(l->perms));
    }
    nseen++;
    for (int i = 0; i < nwant; i++)
        if (m->start == want[i].start && m->end == want[i].end) {
            want[i].times++;
            want[i].m = *m;
            snprintf(want[i].path, sizeof(want[i].path), "%s", m->path);
        }
}

/* /proc/self/maps as the test reads it itself, without allocating: the list to compare. */
static void read_maps(void)
{
    static char text[1 << 20];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t len = 0;
    for (ssize_t n; (n = read(fd, text + len, sizeof(text) - 1 - len)) > 0;)
        len += (size_t)n;
    close(fd);
    text[len] = '\0';
    nlisted = 0;
    for (char *line = text; *line && nlisted < MAX_MAPS;) {
        char *nl = strchr(line, '\n');
        struct map_line *l = &listed[nlisted++];
        unsigned long long start, end, offset, inode;
        assert_int_equal(
            sscanf(line, "%llx-%llx %4s %llx %*s %llu", &start, &end, l->perms, &offset, &inode),
            5);
        l->start = start, l->end = end, l->offset = offset, l->inode = inode;
        line = nl ? nl + 1 : line + strlen(line);
    }
}

static size_t smaps_size(void)
{
    static char chunk[65536];
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t total = 0;
    for (ssize_t n; (n = read(fd, chunk, sizeof(chunk))) > 0;)
        total += (size_t)n;
    close(fd);
    return total;
}

/* A file of two pages in the test's directory, mapped shared from its second page. */
static void *map_file(const char *name, size_t page, ino_t *inode)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    static char content[2 * 65536];
    memset(content, 'f', 2 * page);
    write_file(path, content, 2 * page);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *inode = st.st_ino;
    void *p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, (off_t)page);
    close(fd);
    assert_true(p != MAP_FAILED);
    return p;
}

static void test_maps(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* Ten read-write anonymous pages between two PROT_NONE ones (so that no neighbour
     * merges with them), three of them touched. */
    char *reserve = mmap(NULL, 12 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(reserve != MAP_FAILED);
    char *anon = reserve + page;
    assert_int_equal(mprotect(anon, 10 * page, PROT_READ | PROT_WRITE), 0);
    anon[0] = anon[4 * page] = anon[9 * page] = 1;
    /* Two hundred more mappings (pages alternately readable and not): smaps is then far
     * larger than the 64 KiB scratch, which lt_proc_maps refills again and again. */
    char *many = mmap(NULL, 400 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(many != MAP_FAILED);
    for (int i = 0; i < 400; i += 2)
        assert_int_equal(mprotect(many + i * page, page, PROT_READ), 0);
    ino_t space_ino, newline_ino;
    char *spaced = map_file("with a space", page, &space_ino);
    char *newlined = map_file("new\nline", page, &newline_ino);

    nwant = 3;
    want[0] = (struct wanted){(uintptr_t)anon, (uintptr_t)anon + 10 * page};
    want[1] = (struct wanted){(uintptr_t)spaced, (uintptr_t)spaced + page};
    want[2] = (struct wanted){(uintptr_t)newlined, (uintptr_t)newlined + page};
    static char scratch[64 * 1024]; /* the documented least */
    assert_true(smaps_size() > 4 * sizeof(scratch));
    read_maps();
    nseen = 0;
    assert_int_equal(lt_proc_maps(collect, NULL, scratch, sizeof(scratch)), 0);

    /* once per mapping, in the kernel's order, each as /proc/self/maps gives it */
    assert_int_equal(nseen, nlisted);
    for (int i = 0; i < nseen && i < MAX_MAPS; i++) {
        assert_int_equal(seen[i].start, listed[i].start);
        assert_int_equal(seen[i].end, listed[i].end);
        assert_string_equal(seen[i].perms, listed[i].perms);
        assert_int_equal(seen[i].offset, listed[i].offset);
        assert_int_equal(seen[i].inode, listed[i].inode);
    }
    for (int i = 0; i < nwant; i++)
        assert_int_equal(want[i].times, 1);
    /* The kernel hands smaps out in whole records at most a page long, so the 64 KiB
     * scratch never ends in a cut line; one smaller than a record (below the documented
     * least, but every line here fits) makes each read end mid-line, and the cut line is
     * carried over to the next: the same list. */
    static char small[512];
    nseen = 0;
    assert_int_equal(lt_proc_maps(collect, NULL, small, sizeof(small)), 0);
    assert_int_equal(nseen, nlisted);
    for (int i = 0; i < nseen && i < MAX_MAPS; i++) {
        assert_int_equal(seen[i].start, listed[i].start);
        assert_int_equal(seen[i].end, listed[i].end);
        assert_int_equal(seen[i].inode, listed[i].inode);
    }
    for (int i = 0; i < nwant; i++)
        assert_int_equal(want[i].times, 2);

    const struct lt_proc_map *a = &want[0].m;
    assert_string_equal(a->perms, "rw-p");
    assert_string_equal(want[0].path, "");
    assert_int_equal(a->inode, 0);
    assert_int_equal(a->rss, 3 * page); /* the three touched pages */
    assert_int_equal(a->anonymous, 3 * page);
    assert_int_equal(a->private_dirty, 3 * page);
    assert_int_equal(a->swap, 0);

    char path[256];
    const struct lt_proc_map *f = &want[1].m;
    snprintf(path, sizeof(path), "%s/with a space", dir);
    assert_string_equal(want[1].path, path);
    assert_string_equal(f->perms, "r--s");
    assert_int_equal(f->offset, page);
    assert_int_equal(f->inode, space_ino);
    assert_int_equal(f->anonymous, 0);
    /* The kernel writes a newline in a path as \012 (fs/proc/task_mmu.c: seq_file_path with
     * "\n" to escape): the mapping stays one entry, its path as the kernel wrote it. */
    f = &want[2].m;
    snprintf(path, sizeof(path), "%s/new\\012line", dir);
    assert_string_equal(want[2].path, path);
    assert_int_equal(f->inode, newline_ino);
    assert_int_equal(f->offset, page);

    munmap(reserve, 12 * page);
    munmap(many, 400 * page);
    munmap(spaced, page);
    munmap(newlined, page);
}

/* ---- threads ------------------------------------------------------------------------------ */

static int task_entries(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
    closedir(d);
    return n;
}

/* The count once ended threads have left (join returns when the thread cleared its tid,
 * slightly before the kernel has finished with it). */
static int settled_count(int want_count)
{
    int n = lt_proc_live_threads();
    for (int i = 0; i < 1000 && n != want_count; i++) {
        usleep(1000);
        n = lt_proc_live_threads();
    }
    return n;
}

static pid_t leader;

/* In the forked child: waits until the leader, which called pthread_exit, is a zombie. */
static void *outlive_leader(void *arg)
{
    (void)arg;
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)leader);
    for (int i = 0; i < 5000; i++) {
        ssize_t n = lt_proc_read(path, stat, sizeof(stat));
        const char *paren = n > 0 ? strrchr(stat, ')') : NULL;
        if (paren && paren[2] == 'Z')
            _exit(lt_proc_live_threads());
        usleep(1000);
    }
    _exit(100); /* the leader never became a zombie */
}

static void test_live_threads(void **state)
{
    (void)state;
    int before = lt_proc_live_threads();
    assert_int_equal(before, task_entries());
    pthread_t t[3];
    pthread_barrier_init(&barrier, NULL, 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, wait_at_barrier, NULL), 0);
    pthread_barrier_wait(&barrier);
    assert_int_equal(lt_proc_live_threads(), before + 3);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(settled_count(before), before);

    /* A group leader that called pthread_exit stays a zombie while another thread runs:
     * that thread alone is live. */
    pid_t child = fork();
    if (child == 0) {
        leader = getpid();
        pthread_t other;
        if (pthread_create(&other, NULL, outlive_leader, NULL) != 0)
            _exit(101);
        pthread_exit(NULL);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
}

/* ---- start time --------------------------------------------------------------------------- */

static void test_start_time(void **state)
{
    (void)state;
    /* This process started before main, and not long before. */
    uint64_t self = lt_proc_start_time_ns();
    assert_true(self <= main_entered_ns);
    assert_true(main_entered_ns - self < 60ull * 1000000000ull);

    /* A child started between two readings of the clock: the kernel counts its start in
     * clock ticks (truncated: up to one tick early). */
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t tick = 1000000000ull / (uint64_t)hz, slack = 5000000; /* 5 ms */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    uint64_t t0 = now_ns();
    pid_t child = fork();
    if (child == 0) {
        uint64_t start = lt_proc_start_time_ns();
        _exit(write(pipefd[1], &start, sizeof(start)) == sizeof(start) ? 0 : 1);
    }
    uint64_t t1 = now_ns();
    uint64_t start = 0;
    assert_int_equal(read(pipefd[0], &start, sizeof(start)), sizeof(start));
    close(pipefd[0]);
    close(pipefd[1]);
    waitpid(child, NULL, 0);
    assert_true(start + tick + slack >= t0);
    assert_true(start <= t1 + slack);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    main_entered_ns = now_ns();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_live_threads),
        cmocka_unit_test(test_start_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
