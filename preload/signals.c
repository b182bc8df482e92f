/* signals.c — the application's actions for the signals leaktag manages: per signal, a ring
 * of copies and the index of the current one. A change writes a fresh slot and then swaps
 * the index, so a handler always reads a complete copy (unless 15 more changes land while it
 * reads one), and no lock is taken.
 *
 * A chained handler runs with its own sa_mask (and its signal blocked unless SA_NODEFER), and
 * with SA_RESETHAND the recorded action goes back to SIG_DFL at its first call. */
#include "signals.h"

#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>

#include "backend.h"
#include "compiler.h"

#define ACTIONS 16u
#define MANAGED_MAX 32

struct managed {
    _Atomic int sig; /* 0: free */
    lt_signal_apply_fn apply;
    struct sigaction action[ACTIONS];
    _Atomic unsigned current, next;
};

static struct managed managed[MANAGED_MAX];

static struct managed *find(int sig)
{
    for (int i = 0; sig > 0 && i < MANAGED_MAX; i++)
        if (atomic_load_explicit(&managed[i].sig, memory_order_acquire) == sig)
            return &managed[i];
    return NULL;
}

/* The kernel reads the handler's value alone: SIG_IGN and SIG_DFL ignore and default with
 * SA_SIGINFO set too, and then there is no function to call (sa_sigaction shares the
 * handler's storage: 1 or 0). */
bool lt_signals_ignores(const struct sigaction *act)
{
    return act->sa_handler == SIG_IGN;
}

bool lt_signals_default(const struct sigaction *act)
{
    return act->sa_handler == SIG_DFL;
}

bool lt_signals_manage(int sig, lt_signal_apply_fn apply)
{
    if (find(sig))
        return true;
    for (int i = 0; i < MANAGED_MAX; i++) {
        struct managed *m = &managed[i];
        if (atomic_load(&m->sig))
            continue;
        struct sigaction before;
        if (lt_real_system()->sigaction(sig, NULL, &before) != 0)
            return false;
        m->apply = apply;
        m->action[0] = before; /* what the application (or its parent) set up before us */
        atomic_store(&m->current, 0);
        atomic_store(&m->next, 1);
        if (apply(sig, &before) != 0)
            return false;
        atomic_store_explicit(&m->sig, sig, memory_order_release);
        return true;
    }
    return false;
}

bool lt_signals_managed(int sig)
{
    return find(sig) != NULL;
}

void lt_signals_app_action(int sig, struct sigaction *out)
{
    struct managed *m = find(sig);
    if (m)
        *out = m->action[atomic_load(&m->current) % ACTIONS];
}

bool lt_signals_app_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    struct managed *m = find(sig);
    if (!m)
        return false;
    if (!act) {
        if (old)
            *old = m->action[atomic_load(&m->current) % ACTIONS];
        return true;
    }
    unsigned slot = atomic_fetch_add(&m->next, 1) % ACTIONS;
    m->action[slot] = *act;
    unsigned previous = atomic_exchange(&m->current, slot);
    if (old)
        *old = m->action[previous % ACTIONS];
    m->apply(sig, act);
    return true;
}

void lt_signals_chain(int sig, siginfo_t *info, void *uctx)
{
    struct managed *m = find(sig);
    if (!m)
        return;
    struct sigaction app = m->action[atomic_load(&m->current) % ACTIONS];
    if (lt_signals_default(&app) || lt_signals_ignores(&app))
        return;
    if (app.sa_flags & SA_RESETHAND) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        lt_signals_app_sigaction(sig, &dfl, NULL);
    }
    sigset_t mask = ((const ucontext_t *)uctx)->uc_sigmask;
    sigorset(&mask, &mask, &app.sa_mask);
    if (!(app.sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    lt_real_system()->pthread_sigmask(SIG_SETMASK, &mask, NULL); /* sigreturn restores it */
    if (app.sa_flags & SA_SIGINFO)
        app.sa_sigaction(sig, info, uctx);
    else
        app.sa_handler(sig);
}
