/* control.h — what a running shim tells the `leaktag` command, and the one thing it takes
 * from it: the snapshot signal whose handler is really installed, where snapshots go, how
 * many were written and the last one's path, leaktag's thread — and `requests`, which
 * `leaktag --pid` counts up (process_vm_writev) to ask for a snapshot without a signal the
 * application may own; leaktag's thread looks at it five times a second. `leaktag --pid`
 * reads the block from the target's memory (process_vm_readv, after finding libleaktag.so in
 * /proc/PID/maps and the exported symbol leaktag_control in its file), never from
 * /proc/PID/environ: programs rewrite their environment (nginx, for its process title), and
 * an option the shim refused is not the one in force. Fixed-width fields at the same
 * offsets for 32- and 64-bit processes; a reader checks magic, version and size, and retries
 * while `sequence` is odd (the shim is updating the block). Only `requests` is written from
 * outside. */
#ifndef LT_CONTROL_H
#define LT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_CONTROL_SYMBOL "leaktag_control"
#define LT_CONTROL_MAGIC "leaktag-control" /* 15 characters and the NUL: 16 bytes */
#define LT_CONTROL_VERSION 2u
#define LT_CONTROL_PATH_MAX 4096

struct lt_control {
    char magic[16];
    uint32_t version;
    uint32_t size;      /* sizeof(struct lt_control) */
    int32_t pid;        /* the process these figures are of (a fork child renews it) */
    int32_t signal;     /* the snapshot signal, once its disposition is set; 0: none */
    uint32_t sequence;  /* odd while the shim is changing what follows */
    int32_t worker_tid; /* leaktag's thread, which answers `requests`; 0: none yet */
    uint32_t flags;     /* LT_CONTROL_* */
    uint32_t requests;  /* counted up by `leaktag --pid`: one snapshot answers all */
    uint64_t snapshots; /* written by this process so far */
    char output[LT_CONTROL_PATH_MAX]; /* LEAKTAG_OUTPUT as an absolute template */
    char last[LT_CONTROL_PATH_MAX];   /* path of the last snapshot written, "" before one */
};

/* flags: a process-directed `signal` (kill) is answered: the handler is installed (not when
 * the program ignores the signal). */
#define LT_CONTROL_KILL_ANSWERED 1u
/* flags: `requests` is answered: leaktag's thread runs, or starts at the program's next
 * allocation (the program took the snapshot signal for itself, or blocks it). */
#define LT_CONTROL_REQUESTS 2u

_Static_assert(offsetof(struct lt_control, worker_tid) == 36 &&
                   offsetof(struct lt_control, requests) == 44 &&
                   offsetof(struct lt_control, snapshots) == 48 &&
                   offsetof(struct lt_control, output) == 56 &&
                   sizeof(struct lt_control) == 56 + 2 * LT_CONTROL_PATH_MAX,
               "the control block has one layout for every pointer width");

/* The shim's copy, exported under LT_CONTROL_SYMBOL. */
extern struct lt_control leaktag_control;

/* The shim's side. */
void lt_control_init(const char *output);        /* with the absolute output template */
void lt_control_signal(int sig, uint32_t flags); /* sig's disposition is set */
/* Requests counted up by `leaktag --pid` since the last call (leaktag's thread only). */
uint32_t lt_control_take_requests(void);
void lt_control_worker(int tid);           /* leaktag's thread runs (0: it is gone) */
void lt_control_written(const char *path); /* a snapshot is in place */
void lt_control_fork_child(void);          /* in a fork child: its own pid, no snapshots,
                                              no requests */

#endif
