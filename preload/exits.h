/* exits.h — a final snapshot on every way a process ends, then the end it would have had
 * without leaktag: exit() (atexit), quick_exit() (at_quick_exit), _exit() and _Exit() (their
 * wrappers), abort() and every signal whose default action ends the process, while the
 * application leaves that signal at its default. LEAKTAG_AT_EXIT=0 turns it all off. */
#ifndef LT_EXITS_H
#define LT_EXITS_H

#include <stdint.h>

/* Registers the handlers (from the library constructor). */
void lt_exits_init(void);

/* The process ends now, by `reason` ("exit", "_exit", "signal SIGSEGV", ...): the final
 * snapshot, unless one was written already, the option is off, this is a vfork child (it
 * shares its parent's memory) or leaktag itself was interrupted. Async-signal-safe: it
 * allocates nothing, waits a bounded time for a snapshot under way, and reads the
 * application's memory only through process_vm_readv. */
void lt_exits_final(const char *reason, uintptr_t app_sp);

/* In an entry point into leaktag (always inlined into it): its caller's stack pointer at the
 * call, where the application's frames begin. The verdict's roots in this thread start there:
 * nothing of leaktag's own frames, and nothing below them. */
#define LT_ENTRY_SP() ((uintptr_t)__builtin_frame_address(0) + 2 * sizeof(void *))

#endif
