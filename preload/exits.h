/* exits.h — a final snapshot on every way a process ends, then the end it would have had
 * without leaktag: exit() (atexit), quick_exit() (at_quick_exit), _exit() and _Exit() (their
 * wrappers), abort() and every signal whose default action ends the process, while the
 * application leaves that signal at its default. LEAKTAG_AT_EXIT=0 turns it all off. */
#ifndef LT_EXITS_H
#define LT_EXITS_H

/* Registers the handlers (from the library constructor). */
void lt_exits_init(void);

/* The process ends now, by `reason` ("exit", "_exit", "signal SIGSEGV", ...): the final
 * snapshot, unless one was written already, the option is off, this is a vfork child (it
 * shares its parent's memory) or leaktag itself was interrupted. Async-signal-safe: it
 * allocates nothing, waits a bounded time for a snapshot under way, and reads the
 * application's memory only through process_vm_readv. */
void lt_exits_final(const char *reason);

#endif
