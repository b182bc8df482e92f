/* worker.h — leaktag's own thread and what wakes it: the snapshot signal, the snapshot
 * interval, crowded table shards, the end of application threads, and housekeeping (freeing
 * retired table memory, shrinking the table after mass frees). Also the snapshot signal's
 * handler and the at-exit snapshot. */
#ifndef LT_WORKER_H
#define LT_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Installs the signal handler and the at-exit hook (from the library constructor); starts
 * the thread now only for LEAKTAG_INTERVAL, else when first needed (lt_worker_ensure, or
 * the signal). Returns 0 or -errno; leaktag keeps tracking either way. */
int lt_worker_start(void);

/* Starts the thread if it is not running (the program is starting a thread of its own). */
void lt_worker_ensure(void);

/* Starts the thread if a snapshot request is waiting for it: a signal that came while the
 * only thread was inside leaktag (leaktag_snapshot, fork) could not be answered in the
 * handler. For the end of such long work; outside leaktag only. */
void lt_worker_answer_pending(void);

/* Has leaktag's thread bring the module registry up to date, waiting at most timeout_ns.
 * False if there is no such thread (the caller may rescan itself: no other thread can hold
 * the loader's lock then). Async-signal-safe. */
bool lt_worker_rescan_modules(int64_t timeout_ns);

/* The calling thread changed its signal mask: if it now blocks the snapshot signal, only
 * leaktag's thread can take that, so it is started (at the next hook). */
void lt_worker_mask_changed(void);

#endif
