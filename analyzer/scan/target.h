/* target.h — the process leaktag-scan looks at, as it is: a live one, whose memory is read
 * with process_vm_readv and never written (target_live.h), or an ELF core file (gcore's or
 * the kernel's), whose PT_LOAD segments are its memory (target_core.h). Its mappings, threads and limits, and reads of its
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

#define TARGET_REGS 32 /* x86-64's user_regs_struct has 27, i386's 17 */

struct target_thread {
    int tid;
    char name[32];              /* "" when unknown (a core keeps only the process's name) */
    uint64_t sp;                /* its stack pointer, 0 when unknown (running at the moment) */
    size_t map;                 /* its stack's mapping, SIZE_MAX when not found */
    uint64_t stack_reserved;    /* that mapping and the guard below it */
    uint64_t tcb;               /* its struct pthread (tcb.c), 0 when not found */
    uint64_t start_routine;     /* the function pthread_create ran, 0 when unknown */
    const char *start_name;     /* that function's name (tcb.c), or NULL */
    uint64_t regs[TARGET_REGS]; /* its general registers (a core's NT_PRSTATUS, or ptrace's
                                   under --freeze), each widened to 64 bits */
    unsigned nregs;             /* 0: not known */
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

/* A target not yet found, for a back end to fill (target_live_open, target_core_open);
 * source: "pid 1234" or the core file's path, for messages. NULL when out of memory. */
struct target *target_new(const char *source);
/* A back end's last step: t filled (filled >= 0) goes to *out, else it is let go. 0 or -1. */
int target_hand_out(struct target *t, int filled, struct target **out);

/* Reads up to len bytes at addr; returns how many were read from the start (0: none). A live
 * target that exited sets t->gone. Never writes to the target. */
size_t target_read(struct target *t, uint64_t addr, void *buf, size_t len);

/* Reads the word of the target's pointer size at addr into *value; false if unreadable. */
bool target_read_word(struct target *t, uint64_t addr, uint64_t *value);

/* The reservation of a thread stack in mapping m: m and the inaccessible guard below it. */
uint64_t target_stack_reserved(const struct target *t, const struct target_map *m);

/* The mapping holding addr, or NULL. */
struct target_map *target_map_at(struct target *t, uint64_t addr);

void target_close(struct target *t);

/* Wall time in seconds (CLOCK_MONOTONIC). */
double target_now(void);

/* ---- for the back ends (target_live.c, target_core.c) only ------------------------------- */

struct target_segment {
    uint64_t vaddr, memsz, offset, filesz;
};

struct target_private {
    int mem_fd;                      /* live: /proc/PID/mem, when process_vm_readv is refused */
    int pagemap_fd;                  /* live: /proc/PID/pagemap, which pages are there to read */
    uint64_t zero_pfn[2];            /* the zero page and the huge zero page (512 frames), when the
                                 kernel shows frame numbers (root); 0 unknown */
    int core_fd;                     /* core: the file */
    struct target_segment *segments; /* core: PT_LOAD, by address */
    size_t nsegments;
    int *frozen; /* --freeze: the tids seized */
    size_t nfrozen;
    /* set by the back end: how memory is read, and what to undo before the end */
    size_t (*read)(struct target *t, uint64_t addr, void *buf, size_t len);
    void (*release)(struct target *t);
};

/* elfhdr_read_fn over a file descriptor (ctx: an int *). */
size_t target_read_fd(void *ctx, uint64_t offset, void *buf, size_t len);
/* What a process of that pointer size can map here. */
uint64_t target_address_space(unsigned pointer_bytes);
/* Appends *m to t->maps (cap: its room so far); -1 when out of memory. */
int target_push_map(struct target *t, size_t *cap, const struct target_map *m);
void target_sort_maps(struct target *t);
void target_free_maps(struct target *t);
/* Each thread's stack: the mapping its stack pointer is in, with the guard below it. */
void target_place_stacks(struct target *t);

#endif
