/* options.h — every LEAKTAG_* setting, parsed once from the environment.
 * Parsing never allocates; a bad value warns once and keeps the default. */
#ifndef LT_OPTIONS_H
#define LT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "format.h"

#define LT_MAX_DEPTH LT_FORMAT_MAX_DEPTH /* frames per stack, as a snapshot may hold */
#define LT_PATH_MAX 4096
#define LT_SAMPLES_ALL 0xffffffffu /* LEAKTAG_SAMPLES=all: every live block */

enum lt_backend_kind { LT_BACKEND_LIBC, LT_BACKEND_JEMALLOC };

struct lt_options {
    unsigned depth;                /* frames per stack; 1 = call site only */
    char output[LT_PATH_MAX];      /* snapshot path template */
    int signal;                    /* snapshot signal, 0 = none */
    bool signal_chosen;            /* LEAKTAG_SIGNAL was given: leaktag's even where the
                                     program handles it (else the program's action stands) */
    unsigned interval;             /* seconds between automatic snapshots, 0 = off */
    bool at_exit;                  /* snapshot when the process exits */
    bool quiet;                    /* no "snapshot written" lines */
    unsigned samples;              /* byte samples per stack */
    unsigned sample_bytes;         /* bytes per sample, 0 = no content capture */
    unsigned long long max_memory; /* cap on leaktag's own mappings, 0 = none */
    unsigned long long sample;     /* mean bytes between sampled blocks, 0 = every block */
    int backend;                   /* enum lt_backend_kind */
    unsigned keep;                 /* snapshots kept by this process, 0 = all */
    bool reach;                    /* reachability verdict with each snapshot */
};

extern struct lt_options lt_opt;

/* Parses the LEAKTAG_* entries of envp (NULL-terminated) into lt_opt, warning once about
 * each value it refuses. Idempotent. */
void lt_options_load(char **envp);

/* One option by its variable's name: 0, -EINVAL for a value it refuses (lt_opt keeps the
 * old one), -ENOENT for a name that is not an option. Silent. */
int lt_options_set(const char *name, const char *value);

/* "USR2", "off", or the number of a signal without a name here. Returns buf. */
const char *lt_options_signal_name(int sig, char *buf, size_t size);

/* The options in force as "NAME=value NAME=value ..." (for snapshots). Returns the length. */
size_t lt_options_describe(char *buf, size_t size);

/* One row per option, for --help and the generated documentation. */
struct lt_option_doc {
    const char *name;
    const char *default_text;
    const char *values;
    const char *help;
};
const struct lt_option_doc *lt_options_docs(size_t *count);

#endif
