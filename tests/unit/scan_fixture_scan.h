/* scan_fixture_scan.h — a leaktag-scan result made in memory, as scan_run leaves it, for the
 * renderers' unit tests (test_scan_text.c, test_scan_json.c, test_scan_html.c): a live target
 * (pid 4242) looked at once or twice, its glibc heap (or a heap that is not glibc's), one
 * size class shown with strings, shapes, --grep matches and a sample, three threads in two
 * families. Every string that came from the target — the process's and threads' names, the
 * executable's and mappings' paths, the function a thread started in, the chunks' strings
 * and bytes, why the heap is not glibc's — holds SCAN_FIXTURE_EVIL. Freed by scan_free.
 * scan_fixture_verdict adds --reach (and --lost): the verdict on the three size classes, with
 * a chain for each, the largest class's from a global whose name holds SCAN_FIXTURE_EVIL (a
 * symbol of the target's); or no verdict and why. */
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

/* The verdict on FIXTURE_CLASS's chunks (they add up to FIXTURE_CHUNKS); the 139,248-byte
 * class's 2 and the 24-byte class's 50 chunks are all reachable. */
#define FIXTURE_DEFINITELY 600u
#define FIXTURE_INDIRECTLY 100u
#define FIXTURE_POSSIBLY 50u
#define FIXTURE_REACHABLE 250u
#define FIXTURE_ROOT "global " SCAN_FIXTURE_EVIL "+0x8 (server)" /* its chain's first step */

struct scan_fixture {
    struct scan s;
    struct scan_options opt;
};

/* looks: 1 or 2 (10 s apart, the heap and the class grown); glibc: whose heap it is. */
void scan_fixture_build(struct scan_fixture *f, unsigned looks, bool glibc);

enum scan_fixture_verdict {
    SCAN_FIXTURE_VERDICT,      /* --reach, and a verdict (needs a glibc heap) */
    SCAN_FIXTURE_VERDICT_LOST, /* --lost: the same, the class shown being its lost chunks */
    SCAN_FIXTURE_NO_VERDICT,   /* --reach and none, `why` as reachability_take words it: the
                                  heap's why if not glibc's, else --freeze missing */
};

/* After scan_fixture_build: --reach and what it gave. */
void scan_fixture_verdict(struct scan_fixture *f, enum scan_fixture_verdict v);

#endif
