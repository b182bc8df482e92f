/* main.c — leaktag-report's command line: options, reading the snapshots, building the model
 * (model.h), then one renderer (render.h). Bad input of any kind ends in one line
 * "leaktag-report: FILE: what is wrong (at offset N)" and exit status 2; it never crashes.
 *
 * A progress line goes to stderr on a terminal only, once a second has passed. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dump.h"
#include "model.h"
#include "output.h"
#include "render.h"
#include "size.h"
#include "units.h"

#define EXIT_BAD_INPUT 2

static void usage(FILE *out)
{
    fputs("usage: leaktag-report [options] SNAPSHOT\n"
          "       leaktag-report [options] --diff OLD NEW [NEWER...]\n"
          "\n"
          "Groups the heap blocks still live in a leaktag snapshot by where they were\n"
          "allocated, and shows their threads, bytes and the strings inside them. With\n"
          "--diff, compares snapshots of one program, oldest first: groups that grew in every\n"
          "interval are the leak suspects and come first.\n"
          "\n"
          "  --by stack|site|function|thread  grouping (default stack; site = frame 0;\n"
          "                                   thread = thread name, numbers folded: router-*)\n"
          "  --fold REGEX       skip frames whose function matches (wrappers, pools)\n"
          "  --top N            groups shown (default 20, 0 = all)\n"
          "  --min-bytes N      only groups with at least N live bytes (64K, 1.5M)\n"
          "  --min-age SECONDS  only blocks at least that old\n"
          "  --lost             only groups with lost blocks (definitely or indirectly: a\n"
          "                     snapshot taken with LEAKTAG_REACH=1)\n"
          "  --grep REGEX       count matches (PCRE, as grep -P) in each group's samples\n"
          "  --format text|json|collapsed|pprof|html  (collapsed: for flamegraph.pl,\n"
          "                     speedscope; pprof: gzipped profile.proto for go tool pprof;\n"
          "                     html: one page with a flame graph, for any browser)\n"
          "  --output FILE      write the report there (complete or not at all), not stdout\n"
          "  --samples N        samples shown per group (default 3 in text, 64 in JSON)\n"
          "  --color auto|always|never\n"
          "  --dump FILE        write the captured bytes of the groups shown, block after\n"
          "                     block (for xxd, grep -a); --dump-index FILE: where each starts\n"
          "  --dump-raw         print the snapshot's records as text (debugging)\n"
          "  --version, --help\n",
          out);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("leaktag-report: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see --help)\n", stderr);
    va_end(ap);
    exit(EXIT_BAD_INPUT);
}

static uint64_t parse_size(const char *text, const char *option)
{
    uint64_t v;
    if (!lts_size_parse(text, &v))
        die_usage("%s: '%s' is not a size (such as 4096, 64K, 1.5GiB)", option, text);
    return v;
}

/* A whole number from 0 to max (--top, --samples): no fractions, no suffixes. */
static uint64_t parse_count(const char *text, const char *option, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno || text[0] == '-' || v > max)
        die_usage("%s: '%s' is not a whole number up to %llu", option, text,
                  (unsigned long long)max);
    return v;
}

/* ---- main ----------------------------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A progress line on stderr, only on a terminal and only once a second has passed. */
static double started;
static bool progress_shown;

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void progress(const char *fmt, ...)
{
    if (!isatty(STDERR_FILENO) || seconds() - started < 1.0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\rleaktag-report: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\033[K", stderr);
    va_end(ap);
    progress_shown = true;
}

static void progress_done(void)
{
    if (progress_shown)
        fputs("\r\033[K", stderr);
}

int main(int argc, char **argv)
{
    enum {
        OPT_BY = 256,
        OPT_FOLD,
        OPT_TOP,
        OPT_MIN_BYTES,
        OPT_MIN_AGE,
        OPT_GREP,
        OPT_FORMAT,
        OPT_SAMPLES,
        OPT_COLOR,
        OPT_DIFF,
        OPT_DUMP,
        OPT_VERSION,
        OPT_LOST,
        OPT_DUMP_BYTES,
        OPT_DUMP_INDEX,
        OPT_OUTPUT
    };
    static const struct option longopts[] = {
        {"by", required_argument, NULL, OPT_BY},
        {"fold", required_argument, NULL, OPT_FOLD},
        {"top", required_argument, NULL, OPT_TOP},
        {"min-bytes", required_argument, NULL, OPT_MIN_BYTES},
        {"min-age", required_argument, NULL, OPT_MIN_AGE},
        {"grep", required_argument, NULL, OPT_GREP},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"color", required_argument, NULL, OPT_COLOR},
        {"colour", required_argument, NULL, OPT_COLOR},
        {"diff", no_argument, NULL, OPT_DIFF},
        {"lost", no_argument, NULL, OPT_LOST},
        {"dump", required_argument, NULL, OPT_DUMP_BYTES},
        {"dump-index", required_argument, NULL, OPT_DUMP_INDEX},
        {"dump-raw", no_argument, NULL, OPT_DUMP},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    started = seconds();
    struct model_options opt = {.top = 20};
    struct render_options ropt = {.samples_shown = 3, .strings_shown = 10};
    bool samples_given = false;
    enum {
        FORMAT_TEXT,
        FORMAT_JSON,
        FORMAT_COLLAPSED,
        FORMAT_PPROF,
        FORMAT_HTML
    } format = FORMAT_TEXT;
    const char *output_path = NULL;
    const char *color = "auto";
    bool diff = false, dump = false;
    const char *dump_path = NULL, *dump_index_path = NULL;
    double min_age = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BY:
            if (!strcmp(optarg, "stack"))
                opt.group.by = GROUP_BY_STACK;
            else if (!strcmp(optarg, "site"))
                opt.group.by = GROUP_BY_SITE;
            else if (!strcmp(optarg, "function"))
                opt.group.by = GROUP_BY_FUNCTION;
            else if (!strcmp(optarg, "thread"))
                opt.group.by = GROUP_BY_THREAD;
            else
                die_usage("--by: '%s' is not stack, site, function or thread", optarg);
            break;
        case OPT_FOLD: opt.fold_pattern = optarg; break;
        case OPT_GREP: opt.grep_pattern = optarg; break;
        case OPT_TOP: opt.top = (size_t)parse_count(optarg, "--top", SIZE_MAX); break;
        case OPT_MIN_BYTES: opt.min_bytes = parse_size(optarg, "--min-bytes"); break;
        case OPT_MIN_AGE: {
            char *end;
            min_age = strtod(optarg, &end);
            if (end == optarg || *end || !(min_age >= 0 && min_age <= 1e9)) /* NaN too */
                die_usage("--min-age: '%s' is not a number of seconds", optarg);
            break;
        }
        case OPT_FORMAT:
            if (!strcmp(optarg, "text"))
                format = FORMAT_TEXT;
            else if (!strcmp(optarg, "json"))
                format = FORMAT_JSON;
            else if (!strcmp(optarg, "collapsed"))
                format = FORMAT_COLLAPSED;
            else if (!strcmp(optarg, "pprof"))
                format = FORMAT_PPROF;
            else if (!strcmp(optarg, "html"))
                format = FORMAT_HTML;
            else
                die_usage("--format: '%s' is not text, json, collapsed, pprof or html", optarg);
            break;
        case OPT_SAMPLES:
            ropt.samples_shown = (unsigned)parse_count(optarg, "--samples", 1000000);
            samples_given = true;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
                die_usage("--color: '%s' is not auto, always or never", optarg);
            color = optarg;
            break;
        case OPT_DIFF: diff = true; break;
        case OPT_LOST: opt.lost_only = true; break;
        case OPT_DUMP_BYTES: dump_path = optarg; break;
        case OPT_DUMP_INDEX: dump_index_path = optarg; break;
        case OPT_DUMP: dump = true; break;
        case OPT_OUTPUT: output_path = optarg; break;
        case OPT_VERSION: printf("leaktag-report %s\n", LEAKTAG_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_BAD_INPUT;
        }
    }
    size_t nfiles = (size_t)(argc - optind);
    if (nfiles == 0)
        die_usage("no snapshot given");
    if (!diff && nfiles > 1)
        die_usage("%zu snapshots given: compare several with --diff", nfiles);
    if (diff && nfiles < 2)
        die_usage("--diff needs at least two snapshots, oldest first");
    if (dump && nfiles != 1)
        die_usage("--dump-raw takes one snapshot");
    if (dump_index_path && !dump_path)
        die_usage("--dump-index goes with --dump FILE");
    if (format == FORMAT_PPROF && !output_path && isatty(STDOUT_FILENO))
        die_usage("--format pprof writes gzipped protobuf: give --output FILE or redirect it");
    opt.group.min_age_cs = (uint64_t)(min_age * 100 + 0.5);
    ropt.color = !strcmp(color, "always") || (!strcmp(color, "auto") && !output_path &&
                                              isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));

    struct lts_error e;
    struct content_regex *grep = NULL, *fold = NULL;
    if (opt.grep_pattern && !(grep = content_regex_compile(opt.grep_pattern, &e)))
        die_usage("--grep '%s': %s", opt.grep_pattern, e.message);
    if (opt.fold_pattern && !(fold = content_regex_compile(opt.fold_pattern, &e)))
        die_usage("--fold '%s': %s", opt.fold_pattern, e.message);
    opt.group.grep = grep;
    opt.fold = fold;

    struct analysis *snaps = calloc(nfiles, sizeof(*snaps));
    if (!snaps) {
        fprintf(stderr, "leaktag-report: out of memory\n");
        return 1;
    }
    struct model m = {.snaps = snaps, .nsnaps = nfiles}; /* model_free releases what is read */
    int rc = 0;
    for (size_t i = 0; i < nfiles && !rc; i++) {
        const char *path = argv[optind + (int)i];
        progress("reading %s", path);
        snaps[i].path = path;
        if (lts_open(path, &snaps[i].snap, &e) != 0) {
            progress_done();
            if (e.has_offset)
                fprintf(stderr, "leaktag-report: %s: %s (at offset %" PRIu64 ")\n", path, e.message,
                        e.offset);
            else
                fprintf(stderr, "leaktag-report: %s: %s\n", path, e.message);
            rc = EXIT_BAD_INPUT;
        }
    }
    if (!rc && !dump && opt.lost_only && !group_has_scan(snaps[nfiles - 1].snap)) {
        const struct lts_snapshot *last = snaps[nfiles - 1].snap;
        fprintf(stderr, "leaktag-report: %s: --lost needs a reachability scan, and %s\n",
                snaps[nfiles - 1].path,
                last->nreach_scan ? last->reach_scan[0].why
                                  : "it was taken without one (LEAKTAG_REACH=1)");
        rc = EXIT_BAD_INPUT;
    }
    if (!rc && dump) {
        lts_dump_raw(stdout, snaps[0].snap);
    } else if (!rc) {
        for (size_t i = 1; i < nfiles; i++) {
            if (strcmp(snaps[i].snap->exe, snaps[0].snap->exe))
                fprintf(stderr,
                        "leaktag-report: warning: %s is of %s, %s of %s; comparing "
                        "anyway\n",
                        snaps[i].path, snaps[i].snap->exe, snaps[0].path, snaps[0].snap->exe);
            if (snaps[i].snap->time_unix_ns < snaps[i - 1].snap->time_unix_ns)
                fprintf(stderr,
                        "leaktag-report: warning: %s is older than %s; give snapshots "
                        "oldest first\n",
                        snaps[i].path, snaps[i - 1].path);
        }
        size_t blocks = 0;
        for (size_t i = 0; i < nfiles; i++)
            blocks += snaps[i].snap->nblocks;
        char count[32];
        progress("grouping %s blocks", units_count(count, sizeof(count), blocks));
        /* JSON lists more samples than text shows (a program reads them), not all: a
         * census has one per block. Collapsed stacks need no content at all. */
        if (format == FORMAT_JSON && !samples_given)
            ropt.samples_shown = JSON_SAMPLES_DEFAULT;
        opt.keep_samples = format == FORMAT_COLLAPSED || format == FORMAT_PPROF
                               ? 0
                               : ropt.samples_shown;
        opt.count_contents = format != FORMAT_COLLAPSED && format != FORMAT_PPROF;
        if (model_build(&m, snaps, nfiles, &opt, stderr, &e) != 0) {
            progress_done();
            fprintf(stderr, "leaktag-report: %s\n", e.message);
            rc = 1;
        }
    }
    if (!rc && !dump) {
        progress("writing the report");
        progress_done();
        if (dump_path && render_dump(&m, dump_path, dump_index_path, &e) != 0) {
            fprintf(stderr, "leaktag-report: %s\n", e.message);
            rc = 1;
        }
        struct output o = {stdout, NULL, NULL};
        if (!rc && output_path && output_open(&o, output_path, &e) != 0) {
            fprintf(stderr, "leaktag-report: %s\n", e.message);
            rc = 1;
        }
        if (!rc) {
            switch (format) {
            case FORMAT_TEXT: render_text(o.out, &m, &ropt); break;
            case FORMAT_JSON: render_json(o.out, &m); break;
            case FORMAT_COLLAPSED: render_collapsed(o.out, &m); break;
            case FORMAT_PPROF: rc = render_pprof(o.out, &m, &e) != 0; break;
            case FORMAT_HTML: rc = render_html(o.out, &m, &e) != 0; break;
            }
            if (rc)
                fprintf(stderr, "leaktag-report: %s\n", e.message);
            if (output_close(&o, !rc, &e) != 0) {
                fprintf(stderr, "leaktag-report: %s\n", e.message);
                rc = 1;
            }
        }
    }
    model_free(&m);
    content_regex_free(grep);
    content_regex_free(fold);
    return rc;
}
