/* signals.h — the dispositions leaktag manages for the application: the snapshot signal
 * (worker.c) and the fatal ones (exits.c). For each it keeps the application's own action —
 * what sigaction() reports to it, what a chained handler calls — and, whenever that changes,
 * lets the managing module install in the kernel what follows from it. Lock-free and
 * async-signal-safe: sigaction() may be called from a signal handler, even one that
 * interrupted sigaction() itself. */
#ifndef LT_SIGNALS_H
#define LT_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* Installs in the kernel what the application's action `app` calls for (0 or -1). */
typedef int (*lt_signal_apply_fn)(int sig, const struct sigaction *app);

/* Manages sig from now on: the disposition in place becomes the application's action, and
 * apply is called with it. False if sig cannot be managed (apply failed, table full). */
bool lt_signals_manage(int sig, lt_signal_apply_fn apply);

/* Is sig managed? */
bool lt_signals_managed(int sig);

/* The application's current action for a managed sig. */
void lt_signals_app_action(int sig, struct sigaction *out);

/* The application's action changes (its sigaction(), or SA_RESETHAND taking effect): act
 * is recorded, *old (if not NULL) gets the previous one, apply runs. True when sig is
 * managed (the change is then handled here and must not reach the kernel otherwise). */
bool lt_signals_app_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Helpers for the managing modules. */
bool lt_signals_ignores(const struct sigaction *act); /* SIG_IGN */
bool lt_signals_default(const struct sigaction *act); /* SIG_DFL */

/* Calls the application's handler for sig as the kernel would have: with the mask it asked
 * for (the interrupted one, its sa_mask, sig itself unless SA_NODEFER), reset to SIG_DFL
 * first if it asked for SA_RESETHAND. Nothing for SIG_DFL or SIG_IGN. */
void lt_signals_chain(int sig, siginfo_t *info, void *uctx);

#endif
