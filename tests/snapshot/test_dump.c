/* Unit tests of dump.c (leaktag-report --dump-raw): every record of a snapshot on a line of
 * its own, numbers as written, and strings a process chose (a thread name, a file name, its
 * command line) escaped so that a newline or a quote in them cannot forge a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dump.h"
#include "format.h"
#include "reader.h"
#include "record.h"
#include "writer.h"

static uint8_t *image;

static struct lts_snapshot *build(void)
{
    int fd = memfd_create("dump", 0);
    char buf[1024];
    struct lts_writer w;
    lts_writer_init(&w, fd, buf, sizeof(buf));
    lts_writer_begin(&w, LT_SECTION_META);
    lts_put_meta_uint(&w, "pid", 4242);
    lts_put_meta_text(&w, "cmdline", "spp_worker -c \"a b\"\n", 20);
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_MODULES);
    static const uint8_t id[4] = {0xde, 0xad, 0xbe, 0xef};
    lts_put_module(&w, &(struct lts_module){.path = "/opt/my app/lib\nx.so", .bias = 0x7f0000000000,
                                            .build_id = id, .build_id_len = 4});
    lts_writer_end(&w);
    static const uint64_t frames[] = {0x401000, 0x401234};
    lts_writer_begin(&w, LT_SECTION_STACKS);
    lts_put_stack(&w, &(struct lts_stack){0, NULL});
    lts_put_stack(&w, &(struct lts_stack){2, frames});
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_THREADS);
    lts_put_thread(&w, &(struct lts_thread){.idx = 0, .tid = 100, .name = "handler-1\nblock 0x1"});
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_BLOCKS);
    lts_put_block(&w, &(struct lts_block){0x10000000, 1496, 1, 0, 700, LT_KIND_NEW});
    lts_writer_end(&w);
    lts_writer_begin(&w, LT_SECTION_COUNTERS);
    lts_put_counter(&w, "live_blocks", 1);
    lts_writer_end(&w);
    assert_int_equal(lts_writer_finish(&w), 0);
    off_t size = lseek(fd, 0, SEEK_END);
    image = malloc((size_t)size);
    assert_int_equal(pread(fd, image, (size_t)size, 0), size);
    close(fd);
    struct lts_snapshot *s;
    struct lts_error err;
    if (lts_parse(image, (size_t)size, &s, &err) != 0)
        fail_msg("lts_parse: %s", err.message);
    return s;
}

static void test_one_line_per_record(void **state)
{
    (void)state;
    struct lts_snapshot *s = build();
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    lts_dump_raw(out, s);
    fclose(out);
    const char *want[] = {
        "version 1",
        "meta pid 4242",
        "meta cmdline \"spp_worker -c \\x22a b\\x22\\x0a\"",
        "counter live_blocks 1",
        "module /opt/my\\x20app/lib\\x0ax.so bias 0x7f0000000000 build-id deadbeef",
        "stack 0",
        "stack 1 0x401000 0x401234",
        "thread 0 tid 100 name \"handler-1\\x0ablock 0x1\" state 0 stack 0 live 0 blocks 0 bytes",
        "block 0x10000000 size 1496 stack 1 thread 0 age 700 kind 9",
    };
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), n++) {
        assert_true(n < sizeof(want) / sizeof(want[0]));
        assert_string_equal(line, want[n]);
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    free(text);
    lts_close(s);
    free(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_line_per_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
