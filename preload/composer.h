/* composer.h — writes what is alive now into a snapshot file (docs/FORMAT.md): process and
 * memory facts, modules, stacks, threads, every live block, byte samples, counters.
 * Asked for by any thread (the worker, an API caller, the exiting thread) with the guard
 * held, and written in leaktag's files thread (fdtable.h) while the asker waits, or in the
 * asker where there is none; application threads keep allocating and freeing meanwhile. */
#ifndef LT_COMPOSER_H
#define LT_COMPOSER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "threads.h"

/* Fixes what relative output paths are relative to (the starting directory). */
void lt_composer_init(void);

/* Writes one snapshot; reason is a short word ("signal", "request" from `leaktag --pid`,
 * "interval", "exit", "api", ...); requests: how many snapshot signals and requests it
 * answers (several arrived during the previous one; 0 for other reasons); sender: the pid
 * that sent the snapshot signal (0: none, or the kernel), named in the snapshot so that a
 * signal the program sent itself is told from one a user sent. Prints one line either way
 * (success only unless LEAKTAG_QUIET). Keeps at most LEAKTAG_KEEP of this process's
 * snapshots. Returns 0 or -errno. */
int lt_composer_write(struct lt_thread *self, const char *reason, uint32_t requests, pid_t sender);

/* The same for the last snapshot of a process that ends: waits at most 3 s for one under
 * way, else writes nothing (one line says so). */
int lt_composer_write_final(struct lt_thread *self, const char *reason);

/* Is the calling thread writing a snapshot (a crash handler must not start another)? */
bool lt_composer_busy_here(void);

/* Snapshots written by this process so far. */
uint64_t lt_composer_count(void);

void lt_composer_fork_prepare(void);
void lt_composer_fork_parent(void);
void lt_composer_fork_child(void);

#endif
