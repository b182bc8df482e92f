/* test_render_dump.c — render_dump.c, --dump and --dump-index (docs/REPORT.md), on models
 * built in memory (model_fixture.h) whose leak blocks carry a census: the dump holds every
 * captured byte of the shown groups' blocks, one block after another, over what the file
 * held before; the index gives each block's offset, length, address, size, group and
 * allocation site after a '#' header; hidden groups and older snapshots of a --diff add
 * nothing; the files are created 0600 and never written through a symbolic link. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "render.h"
#include "render_fixture.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_render_dump.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    static const char *const names[] = {"dump", "index", "link", "target", "link-index", "old"};
    char path[128];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

static const char *path_of(const char *name)
{
    static char paths[4][128];
    static unsigned next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
    return p;
}

/* The whole file, NUL-terminated; its size in *n. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    assert_non_null(mem);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, mem);
    fclose(f);
    fclose(mem);
    *n = size;
    return buf;
}

/* What leak block i holds (model_fixture.c): its census text. */
static size_t leak_text(uint32_t i, char *buf, size_t size)
{
    int n = snprintf(buf, size, "GET /q?channelid=%d&seq=%u GET channelid=%d",
                     i % 3 ? 4099 : 4100, i, i % 3 ? 4099 : 4100);
    assert_true(n > 0 && (size_t)n < size);
    return (size_t)n;
}

static const struct spec census = {
    .time_ns = 1, .leak_blocks = 30, .cache_blocks = CACHE_BLOCKS, .census = true};

/* Every leak block's bytes, in the group's order of its blocks; one index line for each. */
static void test_dump_and_index(void **state)
{
    (void)state;
    struct model m;
    fixture_model(&m, &census, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    const struct group *leak = fixture_group_of(&m.grouping, 1);
    size_t rank = (size_t)(leak - m.grouping.groups) + 1;
    assert_int_equal(leak->nsamples, 30);
    /* a longer file there before: the dump replaces it */
    FILE *old = fopen(path_of("dump"), "w");
    assert_non_null(old);
    for (int i = 0; i < 100000; i++)
        fputc('X', old);
    fclose(old);
    struct lts_error err;
    assert_int_equal(render_dump(&m, path_of("dump"), path_of("index"), &err), 0);

    /* the blocks follow one another in the group's order of them (its samples'); each of
     * the 30 once, each with its own census text */
    char want[30 * LEAK_SIZE], text[LEAK_SIZE];
    bool seen[30] = {false};
    size_t at = 0;
    size_t n;
    char *index = slurp(path_of("index"), &n);
    const char *line = index;
    assert_int_equal(line[0], '#'); /* the header */
    line = strchr(line, '\n') + 1;
    for (size_t k = 0; k < leak->nsamples; k++) {
        uint64_t addr = leak->samples[k].sample->addr;
        uint32_t i = (uint32_t)((addr - FIRST_BLOCK) / 0x100);
        assert_true(i < 30 && !seen[i]);
        seen[i] = true;
        size_t len = leak_text(i, text, sizeof(text));
        memcpy(want + at, text, len);
        /* offset, length, address, size, group (#rank, as the text report numbers groups),
         * allocated at: tab-separated */
        uint64_t offset, address, size;
        unsigned length;
        size_t group;
        char site[64];
        int fields = sscanf(line, "%" SCNu64 "\t%u\t0x%" SCNx64 "\t%" SCNu64 "\t#%zu\t%63[^\n]",
                            &offset, &length, &address, &size, &group, site);
        assert_int_equal(fields, 6);
        assert_int_equal(offset, at);
        assert_int_equal(length, len);
        assert_int_equal(address, addr);
        assert_int_equal(size, LEAK_SIZE);
        assert_int_equal(group, rank);
        assert_string_equal(site, "0x401000");
        line = strchr(line, '\n') + 1;
        at += len;
    }
    assert_int_equal(*line, '\0'); /* no line for the cache: it has no samples */
    size_t dump_size;
    char *dump = slurp(path_of("dump"), &dump_size);
    assert_int_equal(dump_size, at);
    assert_memory_equal(dump, want, at);
    free(dump);
    free(index);
    fixture_release(&m);
}

/* A group not shown adds nothing; with --diff, only the newest snapshot's blocks. */
static void test_shown_groups_newest_snapshot(void **state)
{
    (void)state;
    struct model m;
    struct lts_error err;
    /* --min-bytes 4000: only the cache (5,000 bytes, no samples) is shown */
    fixture_model(&m, &census, 1,
                  &(struct model_options){.group.by = GROUP_BY_STACK, .min_bytes = 4000});
    assert_int_equal(render_dump(&m, path_of("dump"), path_of("index"), &err), 0);
    size_t n;
    char *dump = slurp(path_of("dump"), &n);
    assert_int_equal(n, 0);
    free(dump);
    char *index = slurp(path_of("index"), &n);
    assert_int_equal(index[0], '#');
    assert_int_equal(count_of(index, "\n"), 1); /* the header alone */
    free(index);
    fixture_release(&m);

    /* 10 leak blocks, then 30: the dump is the 30 of the newest */
    struct spec sp[2] = {census, census};
    sp[0].leak_blocks = 10;
    fixture_model(&m, sp, 2, &(struct model_options){.group.by = GROUP_BY_STACK});
    assert_int_equal(render_dump(&m, path_of("dump"), NULL, &err), 0);
    size_t total = 0;
    char text[LEAK_SIZE];
    for (uint32_t i = 0; i < 30; i++)
        total += leak_text(i, text, sizeof(text));
    dump = slurp(path_of("dump"), &n);
    assert_int_equal(n, total);
    /* block 29's text is there, once */
    leak_text(29, text, sizeof(text));
    assert_int_equal(count_of(dump, text), 1);
    free(dump);
    fixture_release(&m);
}

/* 0600 whatever the umask; a symbolic link at the path is refused, its target untouched. */
static void test_private_and_no_links(void **state)
{
    (void)state;
    struct model m;
    struct lts_error err;
    fixture_model(&m, &census, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    unlink(path_of("dump"));
    unlink(path_of("index"));
    mode_t mask = umask(0);
    int rc = render_dump(&m, path_of("dump"), path_of("index"), &err);
    umask(mask);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(path_of("dump"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(path_of("index"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    FILE *target = fopen(path_of("target"), "w");
    assert_non_null(target);
    fputs("keep", target);
    fclose(target);
    assert_int_equal(symlink(path_of("target"), path_of("link")), 0);
    assert_int_equal(render_dump(&m, path_of("link"), NULL, &err), -1);
    assert_non_null(strstr(err.message, path_of("link")));
    /* the index too */
    assert_int_equal(symlink(path_of("target"), path_of("link-index")), 0);
    assert_int_equal(render_dump(&m, path_of("dump"), path_of("link-index"), &err), -1);
    assert_non_null(strstr(err.message, path_of("link-index")));
    size_t n;
    char *kept = slurp(path_of("target"), &n);
    assert_string_equal(kept, "keep");
    free(kept);
    fixture_release(&m);
}

/* Entries of the test directory whose name starts with prefix. */
static size_t entries_named(const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* An old dump readable by others is replaced by a private one, not rewritten in place; a
 * dump whose index cannot be written leaves neither file, nor a temporary. */
static void test_whole_or_nothing(void **state)
{
    (void)state;
    struct model m;
    struct lts_error err;
    fixture_model(&m, &census, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    int fd = open(path_of("old"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0644), 0);
    close(fd);
    assert_int_equal(render_dump(&m, path_of("old"), NULL, &err), 0);
    struct stat st;
    assert_int_equal(stat(path_of("old"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    assert_int_equal(render_dump(&m, path_of("fresh"), "/nonexistent-leaktag-dir/index", &err),
                     -1);
    assert_non_null(strstr(err.message, "/nonexistent-leaktag-dir/index"));
    assert_int_equal(access(path_of("fresh"), F_OK), -1);
    assert_int_equal(entries_named(".fresh"), 0);
    assert_int_equal(entries_named("fresh"), 0);
    fixture_release(&m);
}

/* The index is one line of six tab-separated columns per block, whatever a name holds. */
static void test_index_columns(void **state)
{
    (void)state;
    struct model m;
    struct lts_error err;
    fixture_model(&m, &census, 1, &(struct model_options){.group.by = GROUP_BY_STACK});
    /* the leak's site named as a JIT might name it */
    struct stack_frames *sf = (struct stack_frames *)frames_of(m.snaps[0].frames, 1);
    sf->site.name = "handle\trequest\n";
    assert_int_equal(render_dump(&m, path_of("dump"), path_of("index"), &err), 0);
    size_t n;
    char *index = slurp(path_of("index"), &n);
    size_t lines = 0;
    for (char *line = strtok(index, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        size_t tabs = 0;
        for (const char *c = line; *c; c++)
            tabs += *c == '\t';
        assert_int_equal(tabs, 5);
    }
    assert_true(lines > 1);
    free(index);
    fixture_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_and_index),
        cmocka_unit_test(test_shown_groups_newest_snapshot),
        cmocka_unit_test(test_private_and_no_links),
        cmocka_unit_test(test_whole_or_nothing),
        cmocka_unit_test(test_index_columns),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
