/* reach.h — which tracked blocks anything still points at: a conservative mark from the
 * roots, with the meaning of valgrind memcheck's loss records.
 *
 *   reachable         a start pointer from a root, or from a reachable block
 *   possibly lost     reached, but only through an interior pointer or a possibly lost block
 *   indirectly lost   not reached, but pointed at (start or interior) by a lost block
 *   definitely lost   not reached and not pointed at by another lost block: the head of a
 *                     lost structure (of a cycle: its lowest address, as valgrind does)
 *
 * Works on any memory through a read callback (the shim's fork child reads itself;
 * another process can be read the same way). Allocates nothing: the caller hands in every array,
 * sized by lt_reach_sizes. Every aligned word of a root range or a reached block is looked
 * up by the page index, so a scan is bounded by memory bandwidth, not by searching. */
#ifndef LT_REACH_H
#define LT_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h" /* the four states: enum lt_reach_verdict, as the snapshot stores them */

/* Copies len bytes at addr into buf; returns how many could be read (a prefix). */
typedef size_t lt_reach_read_fn(void *ctx, uint64_t addr, void *buf, size_t len);
/* An interior pointer (value inside block, not at its start) found at `where` by a root:
 * true if it is not a reference at all (an allocator's own pointer to the chunk header that
 * follows the block). */
typedef bool lt_reach_ignore_fn(void *ctx, uint64_t where, uint64_t value, size_t block);

/* How the first reference to a block was found: from which block (or root), through which
 * word. A chain from a root to any reached block follows `via` up to a root. */
#define LT_REACH_VIA_ROOT 0x80000000u /* | root id */
#define LT_REACH_VIA_NONE 0xffffffffu

/* The page index's entries for n sorted blocks: a power of two, at least twice the number
 * of 4 KiB pages they overlap. */
size_t lt_reach_index_slots(const uint64_t *start, const uint64_t *size, size_t n);

struct lt_reach {
    /* the blocks, sorted by start, not overlapping */
    size_t n;
    const uint64_t *start, *size;
    lt_reach_read_fn *read;
    void *read_ctx;
    lt_reach_ignore_fn *ignore_interior; /* may be NULL */
    void *ignore_ctx;

    /* results, n entries each */
    uint8_t *state;
    uint32_t *via;      /* block index, LT_REACH_VIA_ROOT | root, or LT_REACH_VIA_NONE */
    uint64_t *via_addr; /* the address of the word that pointed at the block */

    /* work memory */
    uint64_t *index_page;  /* page number + 1 (0: empty) */
    uint32_t *index_first; /* the first block that overlaps that page */
    size_t index_mask;
    uint64_t lowest, highest; /* no block starts below the one or ends above the other */
    uint32_t *stack; /* 2n entries: a block is pushed when its state rises, at most twice */
    size_t stack_len;

    /* figures */
    uint64_t bytes_scanned, references;
};

/* Prepares r (whose inputs and arrays are set) for a scan: every block lost, no via. */
void lt_reach_begin(struct lt_reach *r);
/* Scans [lo, hi) as a root (its words are definite references), then everything reached. */
void lt_reach_root_range(struct lt_reach *r, uint64_t lo, uint64_t hi, uint32_t root);
/* One root word (a register). */
void lt_reach_root_word(struct lt_reach *r, uint64_t value, uint32_t root);
/* After all roots: groups the unreached blocks into lost structures (definitely lost heads,
 * indirectly lost members, via = the head). */
void lt_reach_end(struct lt_reach *r);

/* The block that contains addr (its start included; a zero-size block only at its start),
 * or -1. */
long lt_reach_find(const struct lt_reach *r, uint64_t addr);

/* The chain of first references that reached block i: writes the blocks on it into out,
 * the one the root points at first and i last, when they fit in max; returns how many there
 * are (0 when i was not reached from a root) and the root in *root. */
size_t lt_reach_chain(const struct lt_reach *r, uint32_t i, uint32_t *out, size_t max,
                      uint32_t *root);

/* ---- the roots: which memory of a process is one -------------------------------------------
 * The same rules for the shim's verdict on itself and for leaktag-scan on a frozen process or
 * a core: each thread's registers; each thread's stack from its stack pointer (less the red
 * zone the ABI lets a function use below it) to the end of its mapping, where static TLS and
 * the thread descriptor lie; every other writable mapping that is not a device, the kernel's
 * or the allocator's own, less the memory around each block (kernels merge an application's
 * anonymous mapping with one the allocator made for a big block; a non-main glibc arena's
 * heap is the allocator's whole, its free chunks hold stale pointers) and less what the
 * caller says is never a root (leaktag's own memory). */

struct lt_reach_range {
    uint64_t lo, hi;
};

/* A root as the snapshot records it (REACH_ROOTS). */
struct lt_reach_root {
    uint32_t kind; /* enum lt_root_type (format.h) */
    int32_t tid;   /* for registers and stacks */
    uint64_t lo, hi;
};

/* A stack pointer: a root from there up. */
struct lt_reach_stack {
    int32_t tid;
    uint64_t sp;
    uint32_t kind; /* LT_ROOT_TYPE_STACK: a stopped thread's, less the red zone below sp;
                      LT_ROOT_TYPE_CALLER: from sp exactly, where a thread's own frames end */
};

struct lt_reach_roots {
    struct lt_reach *r;
    bool glibc; /* the blocks are glibc's chunks: their headers say which are an arena's */
    const struct lt_reach_range *skip; /* sorted by lo, disjoint: never a root */
    size_t nskip;
    const struct lt_reach_stack *stacks;
    size_t nstacks;
    struct lt_reach_root *roots; /* what was scanned, root ids being indices (the last one
                                    stands for all beyond max_roots) */
    uint32_t nroots, max_roots;
};

/* Is a mapping, as /proc/PID/maps shows its permissions and path, one whose memory may be a
 * root? Not when it is not readable and writable, a device (reading may act), the kernel's
 * ([vvar], [vdso]), or [heap] (the allocator's: its blocks are followed from references). */
bool lt_reach_mapping_may_root(const char *perms, const char *path);
/* A thread's registers, each word a root. */
void lt_reach_registers(struct lt_reach_roots *roots, int32_t tid, const uint64_t *words, size_t n);
/* The mapping [lo, hi), one lt_reach_mapping_may_root admits: the stacks in it from their
 * stack pointers, or if none is, the mapping less the allocator's and the skipped memory. */
void lt_reach_mapping(struct lt_reach_roots *roots, uint64_t lo, uint64_t hi);

#endif
