/* scan_fixture_scan.h — a leaktag-scan result made in memory, as scan_run leaves it, for the
 * renderers' unit tests (test_scan_text.c, test_scan_json.c, test_scan_html.c): a live target
 * (pid 4242) looked at once or twice, its glibc heap (or a heap that is not glibc's), one
 * size class shown with strings, shapes, --grep matches and a sample, three threads in two
 * families. Every string that came from the target — the process's and threads' names, the
 * executable's and mappings' paths, the function a thread started in, the chunks' strings
 * and bytes, why the heap is not glibc's — holds SCAN_FIXTURE_EVIL. Freed by scan_free. */
#ifndef SCAN_FIXTURE_SCAN_H
#define SCAN_FIXTURE_SCAN_H

#include <stdbool.h>

#include "scan.h"

/* Markup, a quote, a newline, a terminal escape, bytes that are not UTF-8, '&', '\''. */
#define SCAN_FIXTURE_EVIL "<i>\"q\"\n\033[2J\377\376&'"

/* The numbers the renderers must show. */
#define FIXTURE_CLASS 1496u       /* the class shown: usable bytes */
#define FIXTURE_CHUNKS 1000u      /* its chunks at the last look */
#define FIXTURE_CHUNKS_FIRST 800u /* and at the first, when there are two */
#define FIXTURE_HEAP_START 0x555555559000ull

struct scan_fixture {
    struct scan s;
    struct scan_options opt;
};

/* looks: 1 or 2 (10 s apart, the heap and the class grown); glibc: whose heap it is. */
void scan_fixture_build(struct scan_fixture *f, unsigned looks, bool glibc);

#endif
