/* worker.h — leaktag's own thread and what wakes it: the snapshot signal (whose handler only
 * writes to an eventfd), the snapshot interval, and housekeeping (freeing retired table
 * memory, shrinking the table after mass frees). Also the at-exit snapshot. */
#ifndef LT_WORKER_H
#define LT_WORKER_H

#include <signal.h>
#include <stdbool.h>

/* Installs the signal handler and the at-exit hook (from the library constructor); starts
 * the thread now only for LEAKTAG_INTERVAL, else when first needed (lt_worker_ensure, or
 * the signal). Returns 0 or -errno; leaktag keeps tracking either way. */
int lt_worker_start(void);

/* Starts the thread if it is not running (the program is starting a thread of its own). */
void lt_worker_ensure(void);

/* After fork, in the child: the thread is gone. New eventfds are made at once (the signal
 * may arrive any time); the thread itself, if the parent had one, is started by the next
 * hook, from where creating a thread is allowed. */
void lt_worker_fork_child(void);

/* The application calls sigaction()/signal() for leaktag's signal: its handler is recorded
 * and chained from ours (both run) rather than installed. Returns true if handled here. */
bool lt_worker_app_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
