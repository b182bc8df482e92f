/* self_snapshot.h — a snapshot of the test process itself, for the unit tests of the
 * symbolizer and of frames.c: its modules from dl_iterate_phdr, their build-ids read by
 * elfutils (an independent source, not the shim's walker), and known code whose return
 * addresses and lines the tests resolve: caller_site (a plain call), inline_host calling
 * the always-inlined inlined_leaf. Its functions are in self_snapshot.c. */
#ifndef SELF_SNAPSHOT_H
#define SELF_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>

#include "reader.h"
#include "symbolize.h"

extern struct lts_snapshot self_snap;
extern uint64_t self_exe_start, self_exe_end; /* the main program's first executable segment */
extern uint64_t self_vdso_address;            /* 0 when there is no vDSO */
extern uint64_t self_call_ra;                 /* the return address in caller_site */
extern uint64_t self_inline_ra;               /* the one in inlined_leaf, inside inline_host */
extern unsigned self_call_line, self_inline_line, self_inline_call_line;

void caller_site(void);
void inline_host(void);

/* cmocka group setup and teardown: build self_snap and run the known code; free it. */
int self_snapshot_setup(void **state);
int self_snapshot_teardown(void **state);

/* A symbolizer over s; fails the test if it cannot be opened. */
struct symbolizer *self_symbolizer(const struct lts_snapshot *s, FILE *warn);

#endif
