/* target.h — the process leaktag-scan looks at, as it is: a live one, whose memory is read
 * with process_vm_readv and never written, or an ELF core file (gcore's or the kernel's),
 * whose PT_LOAD segments are its memory. Its mappings, threads and limits, and reads of its
 * memory that may come back short (a page unmapped under a live scan, a segment a core did
 * not keep). */
#ifndef SCAN_TARGET_H
#define SCAN_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum target_map_kind {
    TARGET_MAP_ANON,         /* anonymous memory nothing below claims */
    TARGET_MAP_FILE,         /* a mapped file */
    TARGET_MAP_HEAP,         /* the brk heap: malloc's main arena */
    TARGET_MAP_ARENA,        /* a heap of one of malloc's other arenas (set by mallheap.c) */
    TARGET_MAP_MMAPPED,      /* malloc's mmapped chunks (set by mallheap.c) */
    TARGET_MAP_STACK,        /* the main thread's stack */
    TARGET_MAP_THREAD_STACK, /* another thread's stack, found from its stack pointer */
    TARGET_MAP_GUARD,        /* inaccessible: a stack's guard, an arena's reserve */
    TARGET_MAP_SPECIAL,      /* [vdso], [vvar], [vsyscall] */
};

struct target_map {
    uint64_t start, end, offset;
    uint64_t rss;     /* resident bytes; in a core, the bytes the core holds */
    uint64_t swapped; /* bytes in swap; 0 in a core */
    char perms[5];
    char *path; /* NULL: anonymous */
    enum target_map_kind kind;
    int tid; /* the stack's thread, 0 if none */
};

struct target_thread {
    int tid;
    char name[32];           /* "" when unknown (a core keeps only the process's name) */
    uint64_t sp;             /* its stack pointer, 0 when unknown (running at the moment) */
    size_t map;              /* its stack's mapping, SIZE_MAX when not found */
    uint64_t stack_reserved; /* that mapping and the guard below it */
    uint64_t tcb;            /* its struct pthread (tcb.c), 0 when not found */
    uint64_t start_routine;  /* the function pthread_create ran, 0 when unknown */
    const char *start_name;  /* that function's name (tcb.c), or NULL */
};

struct target {
    bool is_core;
    pid_t pid;
    char name[32];           /* comm */
    char *exe;               /* the executable's path, or NULL */
    char *source;            /* "pid 1234" or the core file's path, for messages */
    unsigned pointer_bytes;  /* 4 or 8 */
    uint64_t address_space;  /* what the process can map: 4 GiB for a 32-bit one here */
    uint64_t vm_size;        /* every mapping together */
    size_t unmeasured_maps;  /* mappings too large to count their pages (over 64 GiB) */
    uint64_t stack_rlimit;   /* RLIMIT_STACK's soft limit; 0 unknown, UINT64_MAX unlimited */
    struct target_map *maps; /* by address */
    size_t nmaps;
    struct target_thread *threads; /* the main thread first */
    size_t nthreads;
    bool gone; /* the process exited under the scan */
    struct target_private *priv;
};

/* `what` is a pid or a core file (exe: the core's executable, NULL to take the path the core
 * names). Returns 0, or -1 with a one-line reason in err (no such process, no permission and
 * why, a static binary, not a core file, a truncated core...). */
int target_open(const char *what, const char *exe, struct target **out, struct lts_error *err);

/* Reads up to len bytes at addr; returns how many were read from the start (0: none). A live
 * target that exited sets t->gone. Never writes to the target. */
size_t target_read(struct target *t, uint64_t addr, void *buf, size_t len);

/* Reads the word of the target's pointer size at addr into *value; false if unreadable. */
bool target_read_word(struct target *t, uint64_t addr, uint64_t *value);

/* The reservation of a thread stack in mapping m: m and the inaccessible guard below it. */
uint64_t target_stack_reserved(const struct target *t, const struct target_map *m);

/* The mapping holding addr, or NULL. */
struct target_map *target_map_at(struct target *t, uint64_t addr);

/* A live target's mappings and threads again (--interval). -1 with err when it is gone. */
int target_refresh(struct target *t, struct lts_error *err);

/* --freeze: stops every thread of a live target (ptrace seize + interrupt: were this program
 * killed, the kernel would let the target run on). Returns 0, or -1 with err. */
int target_freeze(struct target *t, struct lts_error *err);
/* Lets the threads run again (nothing when not frozen). */
void target_thaw(struct target *t);

void target_close(struct target *t);

/* Why reading a live process's memory was refused, given what is known of both sides:
 * owner: the target's uid; self: this program's effective uid; cap_ptrace: whether it holds
 * CAP_SYS_PTRACE; yama: kernel.yama.ptrace_scope (-1: no Yama). Into buf, one sentence. */
void target_explain_refusal(char *buf, size_t size, pid_t pid, uid_t owner, uid_t self,
                            bool cap_ptrace, int yama);

/* Wall time in seconds (CLOCK_MONOTONIC). */
double target_now(void);

#endif
