/* report.c — leaktag-report: command line, reading snapshots, grouping, then one renderer.
 * Bad input of any kind ends in one line "leaktag-report: FILE: what is wrong (at offset N)"
 * and exit status 2; it never crashes. */
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dump.h"
#include "format.h"

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
          "  --min-bytes N      only groups with at least N live bytes (K, M, G suffixes)\n"
          "  --min-age SECONDS  only blocks at least that old\n"
          "  --grep REGEX       count matches (PCRE, as grep -P) in each group's samples\n"
          "  --format text|json|collapsed     (collapsed: for flamegraph.pl, speedscope)\n"
          "  --samples N        samples shown per group in text (default 3)\n"
          "  --color auto|always|never\n"
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
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !(v >= 0)) /* !(v >= 0): NaN too */
        die_usage("%s: '%s' is not a size", option, text);
    switch (*end) {
    case 'k': case 'K': v *= 1024, end++; break;
    case 'm': case 'M': v *= 1024 * 1024, end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024, end++; break;
    }
    if (*end == 'i' || *end == 'B')
        end += *end == 'i' ? 1 : 0, end += *end == 'B' ? 1 : 0;
    if (*end || !(v < 18446744073709551616.0)) /* 2^64: past it, the conversion is undefined */
        die_usage("%s: '%s' is not a size", option, text);
    return (uint64_t)v;
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

/* ---- shared helpers for the renderers ------------------------------------------------------- */

bool report_shows(const struct report *r, size_t i)
{
    return r->shown && r->shown[i];
}

/* --min-bytes first, then --top of what is left: under --diff, groups are sorted by growth,
 * so the ones --min-bytes drops are not all at the end. */
static bool select_shown(struct report *r)
{
    size_t n = r->grouping.ngroups, kept = 0;
    r->shown = calloc(n ? n : 1, sizeof(*r->shown));
    if (!r->shown)
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct group *g = &r->grouping.groups[i];
        bool big = g->bytes >= r->min_bytes ||
                   (r->nsnaps > 1 && (uint64_t)llabs(g->delta_bytes) >= r->min_bytes);
        if (big && (!r->top || kept < r->top)) {
            r->shown[i] = true;
            kept++;
        }
    }
    return true;
}

const char *report_bytes(char *buf, size_t size, int64_t bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    uint64_t v = bytes < 0 ? (uint64_t)-bytes : (uint64_t)bytes;
    const char *sign = bytes < 0 ? "-" : "";
    if (v < 1024) {
        snprintf(buf, size, "%s%" PRIu64 " B", sign, v);
        return buf;
    }
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 5) {
        d /= 1024;
        u++;
    }
    snprintf(buf, size, d >= 100 ? "%s%.0f %s" : "%s%.1f %s", sign, d, unit[u]);
    return buf;
}

const char *report_age(char *buf, size_t size, uint64_t cs)
{
    uint64_t s = cs / 100;
    if (s < 60)
        snprintf(buf, size, "%.1fs", (double)cs / 100);
    else if (s < 3600)
        snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
    return buf;
}

const char *report_count(char *buf, size_t size, uint64_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < size; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *report_frame_name(char *buf, size_t size, const struct sym_frame *f)
{
    if (f->function)
        return f->function; /* whole: C++ names run to tens of kilobytes */
    if (f->module)
        snprintf(buf, size, "%s+0x%" PRIx64, f->module, f->offset);
    else
        snprintf(buf, size, "0x%" PRIx64, f->address);
    return buf;
}

static int cmp_pair(const void *x, const void *y)
{
    const uint64_t *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

const struct lts_block *report_sample_block(const struct analysis *a, const struct lts_sample *sm)
{
    /* A sorted (address, index) index, built on first use and kept with the analysis. */
    static const struct analysis *indexed;
    static uint64_t *pairs;
    const struct lts_snapshot *s = a->snap;
    if (indexed != a) {
        free(pairs);
        pairs = malloc((s->nblocks + 1) * 2 * sizeof(uint64_t));
        if (!pairs) {
            indexed = NULL;
            return NULL;
        }
        for (size_t i = 0; i < s->nblocks; i++) {
            pairs[2 * i] = s->blocks[i].addr;
            pairs[2 * i + 1] = i;
        }
        qsort(pairs, s->nblocks, 2 * sizeof(uint64_t), cmp_pair);
        indexed = a;
    }
    size_t lo = 0, hi = s->nblocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pairs[2 * mid] == sm->addr)
            return &s->blocks[pairs[2 * mid + 1]];
        if (pairs[2 * mid] < sm->addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
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

static void release(struct report *r, struct content_regex *grep, struct content_regex *fold)
{
    group_free(&r->grouping);
    free(r->shown);
    for (size_t i = 0; r->snaps && i < r->nsnaps; i++) {
        sym_close(r->snaps[i].sym);
        free(r->snaps[i].fold_skip);
        lts_close(r->snaps[i].snap);
    }
    free(r->snaps);
    content_regex_free(grep);
    content_regex_free(fold);
}

int main(int argc, char **argv)
{
    enum { OPT_BY = 256, OPT_FOLD, OPT_TOP, OPT_MIN_BYTES, OPT_MIN_AGE, OPT_GREP, OPT_FORMAT,
           OPT_SAMPLES, OPT_COLOR, OPT_DIFF, OPT_DUMP, OPT_VERSION };
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
        {"dump-raw", no_argument, NULL, OPT_DUMP},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    started = seconds();
    struct report r = {.top = 20, .samples_shown = 3, .strings_shown = 10};
    enum report_format format = FORMAT_TEXT;
    const char *color = "auto";
    bool diff = false, dump = false;
    double min_age = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BY:
            if (!strcmp(optarg, "stack"))
                r.gopt.by = GROUP_BY_STACK;
            else if (!strcmp(optarg, "site"))
                r.gopt.by = GROUP_BY_SITE;
            else if (!strcmp(optarg, "function"))
                r.gopt.by = GROUP_BY_FUNCTION;
            else if (!strcmp(optarg, "thread"))
                r.gopt.by = GROUP_BY_THREAD;
            else
                die_usage("--by: '%s' is not stack, site, function or thread", optarg);
            break;
        case OPT_FOLD: r.fold_pattern = optarg; break;
        case OPT_GREP: r.grep_pattern = optarg; break;
        case OPT_TOP: r.top = (size_t)parse_count(optarg, "--top", SIZE_MAX); break;
        case OPT_MIN_BYTES: r.min_bytes = parse_size(optarg, "--min-bytes"); break;
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
            else
                die_usage("--format: '%s' is not text, json or collapsed", optarg);
            break;
        case OPT_SAMPLES:
            r.samples_shown = (unsigned)parse_count(optarg, "--samples", 1000000);
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
                die_usage("--color: '%s' is not auto, always or never", optarg);
            color = optarg;
            break;
        case OPT_DIFF: diff = true; break;
        case OPT_DUMP: dump = true; break;
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
    r.gopt.min_age_cs = (uint64_t)(min_age * 100 + 0.5);
    r.color = !strcmp(color, "always") ||
              (!strcmp(color, "auto") && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));

    char err[256];
    struct content_regex *grep = NULL, *fold = NULL;
    if (r.grep_pattern && !(grep = content_regex_compile(r.grep_pattern, err, sizeof(err))))
        die_usage("--grep '%s': %s", r.grep_pattern, err);
    if (r.fold_pattern && !(fold = content_regex_compile(r.fold_pattern, err, sizeof(err))))
        die_usage("--fold '%s': %s", r.fold_pattern, err);
    r.gopt.grep = grep;
    r.gopt.fold = fold;

    r.nsnaps = nfiles;
    r.snaps = calloc(nfiles, sizeof(*r.snaps));
    if (!r.snaps) {
        fprintf(stderr, "leaktag-report: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        const char *path = argv[optind + (int)i];
        struct lts_error e;
        progress("reading %s", path);
        r.snaps[i].path = path;
        if (lts_open(path, &r.snaps[i].snap, &e) != 0) {
            progress_done();
            if (e.has_offset)
                fprintf(stderr, "leaktag-report: %s: %s (at offset %" PRIu64 ")\n", path,
                        e.message, e.offset);
            else
                fprintf(stderr, "leaktag-report: %s: %s\n", path, e.message);
            release(&r, grep, fold);
            return EXIT_BAD_INPUT;
        }
    }
    if (dump) {
        lts_dump_raw(stdout, r.snaps[0].snap);
        release(&r, grep, fold);
        return 0;
    }
    for (size_t i = 1; i < nfiles; i++) {
        if (strcmp(r.snaps[i].snap->exe, r.snaps[0].snap->exe))
            fprintf(stderr, "leaktag-report: warning: %s is of %s, %s of %s; comparing anyway\n",
                    r.snaps[i].path, r.snaps[i].snap->exe, r.snaps[0].path,
                    r.snaps[0].snap->exe);
        if (r.snaps[i].snap->time_unix_ns < r.snaps[i - 1].snap->time_unix_ns)
            fprintf(stderr, "leaktag-report: warning: %s is older than %s; give snapshots "
                            "oldest first\n", r.snaps[i].path, r.snaps[i - 1].path);
    }
    for (size_t i = 0; i < nfiles; i++)
        r.snaps[i].sym = sym_open(r.snaps[i].snap, stderr);

    size_t blocks = 0;
    for (size_t i = 0; i < nfiles; i++)
        blocks += r.snaps[i].snap->nblocks;
    char count[32];
    progress("grouping %s blocks", report_count(count, sizeof(count), blocks));
    if (group_build(r.snaps, nfiles, &r.gopt, &r.grouping, err, sizeof(err)) != 0) {
        progress_done();
        fprintf(stderr, "leaktag-report: %s\n", err);
        release(&r, grep, fold);
        return 1;
    }
    group_sort(&r.grouping);
    if (!select_shown(&r)) {
        progress_done();
        fprintf(stderr, "leaktag-report: out of memory\n");
        release(&r, grep, fold);
        return 1;
    }
    progress("writing the report");
    progress_done();
    switch (format) {
    case FORMAT_TEXT: render_text(stdout, &r); break;
    case FORMAT_JSON: render_json(stdout, &r); break;
    case FORMAT_COLLAPSED: render_collapsed(stdout, &r); break;
    }
    int rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    if (rc)
        fprintf(stderr, "leaktag-report: writing the report failed\n");

    release(&r, grep, fold);
    return rc;
}
