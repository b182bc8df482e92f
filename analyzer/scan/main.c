/* main.c — leaktag-scan's command line. A process that cannot be restarted under the shim is
 * looked at as it is: its memory map, glibc heap, the bytes of its chunks and its threads,
 * read without writing to it. Any failure is one line "leaktag-scan: what is wrong" and exit
 * status 2. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "output.h"
#include "scan.h"
#include "size.h"

#define EXIT_FAILED 2

static void usage(FILE *out)
{
    fputs("usage: leaktag-scan [options] PID\n"
          "       leaktag-scan [options] CORE [--exe BINARY]\n"
          "\n"
          "Looks at a running process, or a core file from gcore or the kernel, without the\n"
          "shim and without a restart: its memory map, glibc malloc's heap by size class (in\n"
          "use, free, cached), what the largest classes' chunks hold, and its threads. It\n"
          "reads the process's memory and never writes to it; it does not stop it unless\n"
          "--freeze is given.\n"
          "\n"
          "  --interval SECONDS  look again after that long (with --count: that many looks in\n"
          "                      all, default 2) and show what grew: mappings, size classes\n"
          "  --count N           looks, --interval apart\n"
          "  --freeze            stop the process for an exact walk (ptrace; it runs on if\n"
          "                      this program dies) and say how long it was stopped\n"
          "  --reach             the verdict: which chunks nothing points at any more\n"
          "                      (definitely, indirectly, possibly lost, reachable, as\n"
          "                      valgrind's), per size class, and who retains the largest\n"
          "                      reachable classes; a core, or a process with --freeze\n"
          "  --lost              the content (strings, --grep, fields, hexdumps, --dump) of\n"
          "                      definitely and indirectly lost chunks only (implies --reach)\n"
          "  --grep REGEX        count the matches (PCRE, as grep -P) in every chunk shown\n"
          "  --top N             size classes shown with their content (default 3)\n"
          "  --size N            show only the chunks of usable size N\n"
          "  --dump FILE         write the bytes of the first class shown (or --size's), chunk\n"
          "                      after chunk, for xxd and grep -a (0600)\n"
          "  --samples N         hexdumps per class (default 2)\n"
          "  --exe BINARY        a core's executable, when not where the core says\n"
          "  --format text|json|html  (json: docs/SCAN.md; html: one page, for any browser)\n"
          "  --output FILE       write there (complete or not at all), not stdout\n"
          "  --color auto|always|never\n"
          "  --version, --help\n",
          out);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("leaktag-scan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_FAILED);
}

static unsigned long long whole(const char *text, const char *option, unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno || text[0] == '-' || v > max)
        die("%s: '%s' is not a whole number up to %llu (see --help)", option, text, max);
    return v;
}

int main(int argc, char **argv)
{
    enum {
        OPT_INTERVAL = 256,
        OPT_COUNT,
        OPT_FREEZE,
        OPT_GREP,
        OPT_TOP,
        OPT_SIZE,
        OPT_DUMP,
        OPT_SAMPLES,
        OPT_EXE,
        OPT_FORMAT,
        OPT_OUTPUT,
        OPT_COLOR,
        OPT_VERSION,
        OPT_REACH,
        OPT_LOST
    };
    static const struct option options[] = {
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"count", required_argument, NULL, OPT_COUNT},
        {"freeze", no_argument, NULL, OPT_FREEZE},
        {"reach", no_argument, NULL, OPT_REACH},
        {"lost", no_argument, NULL, OPT_LOST},
        {"grep", required_argument, NULL, OPT_GREP},
        {"top", required_argument, NULL, OPT_TOP},
        {"size", required_argument, NULL, OPT_SIZE},
        {"dump", required_argument, NULL, OPT_DUMP},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"exe", required_argument, NULL, OPT_EXE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"color", required_argument, NULL, OPT_COLOR},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct scan_options opt = {.top = 3, .samples = 2};
    const char *color = "auto", *output_path = NULL;
    bool count_given = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_INTERVAL: {
            char *end;
            errno = 0;
            opt.interval = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(opt.interval > 0) || opt.interval > 86400)
                die("--interval: '%s' is not a number of seconds up to a day (see --help)", optarg);
            break;
        }
        case OPT_COUNT:
            opt.count = (unsigned)whole(optarg, "--count", 10000);
            count_given = true;
            break;
        case OPT_FREEZE: opt.freeze = true; break;
        case OPT_REACH: opt.reach = true; break;
        case OPT_LOST: opt.reach = opt.lost = true; break;
        case OPT_GREP: opt.grep_pattern = optarg; break;
        case OPT_TOP: opt.top = (size_t)whole(optarg, "--top", 1000); break;
        case OPT_SIZE:
            if (!lts_size_parse(optarg, &opt.size) || opt.size > UINT64_MAX >> 1)
                die("--size: '%s' is not a size (such as 1496, 64K) (see --help)", optarg);
            break;
        case OPT_DUMP: opt.dump_path = optarg; break;
        case OPT_SAMPLES: opt.samples = (size_t)whole(optarg, "--samples", 1000); break;
        case OPT_EXE: opt.exe = optarg; break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "text"))
                opt.format = SCAN_TEXT;
            else if (!strcmp(optarg, "json"))
                opt.format = SCAN_JSON;
            else if (!strcmp(optarg, "html"))
                opt.format = SCAN_HTML;
            else
                die("--format: '%s' is not text, json or html (see --help)", optarg);
            break;
        case OPT_OUTPUT: output_path = optarg; break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
                die("--color: '%s' is not auto, always or never (see --help)", optarg);
            color = optarg;
            break;
        case OPT_VERSION: printf("leaktag-scan %s\n", LEAKTAG_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_FAILED;
        }
    }
    if (optind == argc)
        die("no pid or core file given (see --help)");
    if (argc - optind > 1)
        die("one pid or core file at a time; %d given (see --help)", argc - optind);
    opt.what = argv[optind];
    if (opt.reach && !opt.freeze && scan_is_pid(opt.what))
        die("--%s on a running process needs --freeze: a heap that changes under the mark "
            "gives wrong categories (see --help)",
            opt.lost ? "lost" : "reach");
    if (count_given && !opt.interval)
        die("--count goes with --interval SECONDS (see --help)");
    if (opt.interval)
        opt.count = count_given ? opt.count : 2;
    if (opt.interval && opt.count < 2)
        die("--count: at least 2 looks to see growth (see --help)");
    opt.color = !strcmp(color, "always") ||
                (!strcmp(color, "auto") && !output_path && opt.format == SCAN_TEXT &&
                 isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    struct lts_error e = {{0}};
    if (opt.grep_pattern && !(opt.grep = content_regex_compile(opt.grep_pattern, &e)))
        die("--grep '%s': %s", opt.grep_pattern, e.message);

    struct scan s;
    int rc = scan_run(&s, &opt, &e);
    if (rc == 0) {
        struct output o = {.out = stdout};
        if (output_path && output_open(&o, output_path, &e) != 0)
            rc = -1;
        if (rc == 0) {
            if (opt.format == SCAN_JSON)
                scan_render_json(o.out, &s);
            else if (opt.format == SCAN_HTML)
                scan_render_html(o.out, &s);
            else
                scan_render_text(o.out, &s);
            if (output_close(&o, true, &e) != 0)
                rc = -1;
        }
    }
    scan_free(&s);
    content_regex_free(opt.grep);
    if (rc != 0)
        die("%s", e.message);
    return 0;
}
