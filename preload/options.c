/* options.c — the one table of LEAKTAG_* options: name, default, parser, help.
 * Reads environ once, without allocating; an invalid value warns once and keeps the default. */
#include "options.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "compiler.h"
#include "log.h"
#include "size.h"

struct lt_options lt_opt = {
    .depth = 32,
    .output = "leaktag.%e.%p.%n.lts",
    .signal = SIGUSR2,
    .interval = 0,
    .at_exit = true,
    .quiet = false,
    .samples = 8,
    .sample_bytes = 256,
    .max_memory = 0,
    .sample = 0,
    .backend = LT_BACKEND_LIBC,
    .keep = 20,
};

typedef bool (*parse_fn)(const char *text, void *dest, long min, long max);
typedef void (*show_fn)(char *buf, size_t size, const void *value);

struct option {
    struct lt_option_doc doc;
    parse_fn parse;
    show_fn show; /* the value in force, as the variable would spell it */
    void *dest;
    long min, max;
};

static bool parse_unsigned(const char *text, void *dest, long min, long max)
{
    if (!*text)
        return false;
    unsigned long long v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (unsigned long long)max)
            return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v < (unsigned long long)min || v > (unsigned long long)max)
        return false;
    *(unsigned *)dest = (unsigned)v;
    return true;
}

/* A byte count in the grammar every leaktag program reads ("64M", "1.5GiB", "500000"). */
static bool parse_bytes(const char *text, void *dest, long min, long max)
{
    (void)min, (void)max;
    uint64_t v;
    if (!lts_size_parse(text, &v))
        return false;
    *(unsigned long long *)dest = v;
    return true;
}

/* Sampling: a mean interval in bytes, "on" for 512 KiB (as tcmalloc and jemalloc), "off". */
static bool parse_sample(const char *text, void *dest, long min, long max)
{
    if (!strcasecmp(text, "on") || !strcasecmp(text, "yes")) {
        *(unsigned long long *)dest = 512 * 1024;
        return true;
    }
    if (!strcasecmp(text, "off") || !strcasecmp(text, "no")) {
        *(unsigned long long *)dest = 0;
        return true;
    }
    unsigned long long v;
    if (!parse_bytes(text, &v, min, max) || v > (1ull << 40))
        return false;
    *(unsigned long long *)dest = v;
    return true;
}

static bool parse_backend(const char *text, void *dest, long min, long max)
{
    (void)min, (void)max;
    if (!strcasecmp(text, "libc") || !strcasecmp(text, "next")) {
        *(int *)dest = LT_BACKEND_LIBC;
        return true;
    }
    if (!strcasecmp(text, "jemalloc")) {
        *(int *)dest = LT_BACKEND_JEMALLOC;
        return true;
    }
    return false;
}

static void show_backend(char *buf, size_t size, const void *value)
{
    lt_format(buf, size, "%s", *(const int *)value == LT_BACKEND_JEMALLOC ? "jemalloc" : "libc");
}

static bool parse_bool(const char *text, void *dest, long min, long max)
{
    (void)min, (void)max;
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < lt_array_size(yes); i++) {
        if (!strcasecmp(text, yes[i])) {
            *(bool *)dest = true;
            return true;
        }
        if (!strcasecmp(text, no[i])) {
            *(bool *)dest = false;
            return true;
        }
    }
    return false;
}

static bool parse_path(const char *text, void *dest, long min, long max)
{
    (void)min;
    size_t len = strlen(text);
    if (len == 0 || len >= (size_t)max)
        return false;
    memcpy(dest, text, len + 1);
    return true;
}

static const struct {
    const char *name;
    int number;
} signal_names[] = {
    {"USR1", SIGUSR1},   {"USR2", SIGUSR2}, {"HUP", SIGHUP},   {"URG", SIGURG},
    {"WINCH", SIGWINCH}, {"PWR", SIGPWR},   {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM},
};

/* Signals leaktag must never take over: they kill, stop, or report faults. */
static bool signal_usable(long n)
{
    switch (n) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
    case SIGCHLD: return false;
    }
    return n > 0 && n < 65;
}

static bool parse_signal(const char *text, void *dest, long min, long max)
{
    (void)min, (void)max;
    if (!strcasecmp(text, "off") || !strcasecmp(text, "none") || !strcmp(text, "0")) {
        *(int *)dest = 0;
        return true;
    }
    if (!strncasecmp(text, "SIG", 3))
        text += 3;
    for (size_t i = 0; i < lt_array_size(signal_names); i++) {
        if (!strcasecmp(text, signal_names[i].name)) {
            *(int *)dest = signal_names[i].number;
            return true;
        }
    }
    unsigned n;
    if (!parse_unsigned(text, &n, 1, 64) || !signal_usable(n))
        return false;
    *(int *)dest = (int)n;
    return true;
}

static const char *signal_name(int sig)
{
    for (size_t i = 0; i < lt_array_size(signal_names); i++)
        if (signal_names[i].number == sig)
            return signal_names[i].name;
    return NULL;
}

const char *lt_options_signal_name(int sig, char *buf, size_t size)
{
    const char *name = sig ? signal_name(sig) : "off";
    if (name)
        lt_format(buf, size, "%s", name);
    else
        lt_format(buf, size, "%d", sig);
    return buf;
}

static void show_unsigned(char *buf, size_t size, const void *value)
{
    lt_format(buf, size, "%u", *(const unsigned *)value);
}

/* LEAKTAG_SAMPLES: a count per stack, or all (every live block: a census). */
static bool parse_samples(const char *text, void *dest, long min, long max)
{
    if (!strcmp(text, "all")) {
        *(unsigned *)dest = LT_SAMPLES_ALL;
        return true;
    }
    return parse_unsigned(text, dest, min, max);
}

static void show_samples(char *buf, size_t size, const void *value)
{
    unsigned v = *(const unsigned *)value;
    if (v == LT_SAMPLES_ALL)
        lt_format(buf, size, "all");
    else
        lt_format(buf, size, "%u", v);
}

static void show_bool(char *buf, size_t size, const void *value)
{
    lt_format(buf, size, "%d", *(const bool *)value ? 1 : 0);
}

static void show_bytes(char *buf, size_t size, const void *value)
{
    lt_format(buf, size, "%llu", *(const unsigned long long *)value);
}

static void show_path(char *buf, size_t size, const void *value)
{
    lt_format(buf, size, "%s", (const char *)value);
}

static void show_signal(char *buf, size_t size, const void *value)
{
    lt_options_signal_name(*(const int *)value, buf, size);
}

static const struct option options[] = {
    {{"LEAKTAG_DEPTH", "32", "1..64",
      "Frames recorded per allocation stack. 1 records only the call site (no unwinding), "
      "the cheapest mode."},
     parse_unsigned,
     show_unsigned,
     &lt_opt.depth,
     1,
     LT_MAX_DEPTH},
    {{"LEAKTAG_OUTPUT", "leaktag.%e.%p.%n.lts", "path template",
      "Where snapshots go: %p pid, %n snapshot number (from 1), %e the name the program "
      "was started as (argv[0], as ps shows it), "
      "%t unix time, %% a percent sign. A relative path is taken from the directory the "
      "process started in."},
     parse_path,
     show_path,
     lt_opt.output,
     0,
     LT_PATH_MAX},
    {{"LEAKTAG_SIGNAL", "USR2",
      "USR1, USR2, HUP, URG, WINCH, PWR, PROF, VTALRM (SIG prefix optional), a number (not "
      "KILL, STOP, SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS, CHLD), off",
      "Signal that triggers a snapshot (kill -USR2 PID; leaktag --pid needs none). Left at "
      "the default, the signal stays the program's wherever it has a handler of its own or "
      "ignores it: then a kill reaches only the program, and no snapshot is taken. Given "
      "explicitly, it is leaktag's: a handler of the program's is chained, both run."},
     parse_signal,
     show_signal,
     &lt_opt.signal,
     0,
     0},
    {{"LEAKTAG_INTERVAL", "0", "seconds, 0 = off",
      "Also write a snapshot every this many seconds."},
     parse_unsigned,
     show_unsigned,
     &lt_opt.interval,
     0,
     86400 * 365},
    {{"LEAKTAG_AT_EXIT", "1", "0/1, no/yes, false/true, off/on",
      "Write a snapshot of the blocks still live when the process ends, however it ends: "
      "exit or return from main, _exit, _Exit, quick_exit, abort, or a signal whose default "
      "action ends it (while the program leaves that at its default); the process then ends "
      "exactly as it would have."},
     parse_bool,
     show_bool,
     &lt_opt.at_exit,
     0,
     0},
    {{"LEAKTAG_QUIET", "0", "0/1, no/yes, false/true, off/on",
      "Do not print a line for each snapshot written (errors are still printed)."},
     parse_bool,
     show_bool,
     &lt_opt.quiet,
     0,
     0},
    {{"LEAKTAG_SAMPLES", "8", "0..1024, all",
      "Blocks per stack whose first bytes are copied into a snapshot; all copies every live "
      "block's (a census: the report's strings and --grep then count over all of them)."},
     parse_samples,
     show_samples,
     &lt_opt.samples,
     0,
     1024},
    {{"LEAKTAG_SAMPLE_BYTES", "256", "0..16777216",
      "Bytes copied from the start of each sampled block; 0 captures no content at all and "
      "leaves the command line out too (for processes that hold secrets)."},
     parse_unsigned,
     show_unsigned,
     &lt_opt.sample_bytes,
     0,
     LT_FORMAT_SAMPLE_BYTES_MAX},
    {{"LEAKTAG_MAX_MEMORY", "0", "a size (64M, 1.5GiB), 0 = no limit",
      "Cap on leaktag's own memory (tables, stacks, threads). Past it, new blocks are not "
      "tracked: one line says so, untracked_blocks counts them, the program runs on."},
     parse_bytes,
     show_bytes,
     &lt_opt.max_memory,
     0,
     0},
    {{"LEAKTAG_SAMPLE", "0", "a size (64K, 1.5M; at most 1T), on (= 512K), off",
      "Sampled mode: record a block about every this many bytes allocated (Poisson "
      "sampling by bytes), for near-zero overhead. Reports then show unbiased estimates of "
      "blocks and bytes per group, marked as such."},
     parse_sample,
     show_bytes,
     &lt_opt.sample,
     0,
     0},
    {{"LEAKTAG_KEEP", "20", "0..1000, 0 = all",
      "Snapshots this process keeps: when it writes one more, its oldest is removed (only if "
      "the file is still the one it wrote). Bounds the disk a flood of snapshot signals can "
      "fill."},
     parse_unsigned,
     show_unsigned,
     &lt_opt.keep,
     0,
     1000},
    {{"LEAKTAG_BACKEND", "libc", "libc (or next), jemalloc",
      "Where the program's memory comes from: libc is the next malloc in the chain (glibc, or "
      "jemalloc if the program links it); jemalloc serves every block from libjemalloc.so.2 "
      "through its mallocx API (glibc's behaviour at the malloc interface is kept), in a "
      "program that links jemalloc or under libleaktag-jemalloc.so (leaktag --backend "
      "jemalloc picks it)."},
     parse_backend,
     show_backend,
     &lt_opt.backend,
     0,
     0},
    {{"LEAKTAG_REACH", "0", "0/1, no/yes, false/true, off/on",
      "With each snapshot, a reachability scan of the live process: which blocks nothing "
      "points at any more (definitely lost, indirectly lost, possibly lost, reachable, as "
      "valgrind says at exit). Threads stop only while a copy-on-write image of the process "
      "is made (with ptrace); the scan runs in that copy."},
     parse_bool,
     show_bool,
     &lt_opt.reach,
     0,
     0},
};

const struct lt_option_doc *lt_options_docs(size_t *count)
{
    static struct lt_option_doc docs[lt_array_size(options)];
    for (size_t i = 0; i < lt_array_size(options); i++)
        docs[i] = options[i].doc;
    *count = lt_array_size(options);
    return docs;
}

static const char *env_value(char **envp, const char *name)
{
    size_t len = strlen(name);
    for (char **e = envp; e && *e; e++) {
        if (!strncmp(*e, name, len) && (*e)[len] == '=')
            return *e + len + 1;
    }
    return NULL;
}

int lt_options_set(const char *name, const char *value)
{
    for (size_t i = 0; i < lt_array_size(options); i++) {
        const struct option *o = &options[i];
        if (!strcmp(o->doc.name, name))
            return o->parse(value, o->dest, o->min, o->max) ? 0 : -EINVAL;
    }
    return -ENOENT;
}

void lt_options_load(char **envp)
{
    for (size_t i = 0; i < lt_array_size(options); i++) {
        const struct option *o = &options[i];
        const char *value = env_value(envp, o->doc.name);
        if (!value)
            continue;
        if (lt_options_set(o->doc.name, value) != 0)
            lt_log("%s=\"%s\" is not valid (%s); using %s", o->doc.name, value, o->doc.values,
                   o->doc.default_text);
        else if (o->dest == &lt_opt.signal)
            lt_opt.signal_chosen = true;
    }
}

size_t lt_options_describe(char *buf, size_t size)
{
    size_t len = 0;
    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < lt_array_size(options); i++) {
        char value[LT_PATH_MAX];
        options[i].show(value, sizeof(value), options[i].dest);
        len += (size_t)lt_format(buf + lt_min(len, size), size - lt_min(len, size), "%s%s=%s",
                                 i ? " " : "", options[i].doc.name, value);
    }
    return len;
}
