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

#endif
