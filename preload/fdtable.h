/* fdtable.h — a thread of leaktag's with a descriptor table of its own, where snapshots
 * are written. The application's descriptors are shared by all its threads: one that runs
 * close_range(3, ~0) (CPython's suite, a daemon tidying up) closed a snapshot's file under
 * it, and a number it closed could be handed to the application's next open() while leaktag
 * still wrote to it. In a table of its own nothing of the application's can close leaktag's
 * files, and leaktag's open() never takes a number the application would have had.
 *
 * The thread holds none of the application's files: its table starts empty. Lines it logs
 * are handed back to the thread that asked, which writes them to its stderr. */
#ifndef LT_FDTABLE_H
#define LT_FDTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Starts the thread (from leaktag's own thread: it inherits its mask, every signal
 * blocked). 0, or -errno when it cannot run (no way to unshare the table here): work then
 * runs in the thread that asks, as before. */
int lt_fdtable_start(void);

/* Runs fn(arg) in that thread and waits for it, at most timeout_ns (0: no limit); then
 * writes the lines fn logged. False, without running fn, if the thread is not there (the
 * caller runs it itself) or busy past the timeout. Async-signal-safe (futex waits). */
bool lt_fdtable_run(void (*fn)(void *), void *arg, int64_t timeout_ns);

/* Its tid (0 when not running): it has no application frames. */
pid_t lt_fdtable_tid(void);

/* In a fork child: the thread did not survive the fork (leaktag's thread starts it again). */
void lt_fdtable_fork_child(void);

#endif
