/* sort.h — the one sort leaktag's own code runs where it may not allocate or recurse: a
 * snapshot's scan in a signal handler (nursery.c), the verdict's frozen copy (verdict.c);
 * and the one search of what it sorted. A heapsort: n log n, no memory, no recursion,
 * async-signal-safe. Never allocates. */
#ifndef LT_SORT_H
#define LT_SORT_H

#include <stddef.h>
#include <stdint.h>

/* Sorts keys[0..n) ascending; values, when not NULL, is moved along (values[i] stays with
 * keys[i]). Equal keys keep no particular order. */
void lt_sort_u64(uint64_t *keys, uint64_t *values, size_t n);

/* In sorted keys[0..n): the index of the first key >= key (n when there is none). */
size_t lt_sorted_lower_bound(const uint64_t *keys, size_t n, uint64_t key);

#endif
