/* target_live.h — a live process as a target (target.h): found from /proc, read with
 * process_vm_readv and never written; --freeze stops it with ptrace. */
#ifndef SCAN_TARGET_LIVE_H
#define SCAN_TARGET_LIVE_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "target.h"

/* Process pid as a target. Returns 0 with *out set, or -1 with a one-line reason in err (no
 * such process, no permission and why, a static binary...). */
int target_live_open(pid_t pid, struct target **out, struct lts_error *err);

/* A live target's mappings and threads again (--interval); nothing for a core. -1 with err
 * when it is gone. */
int target_refresh(struct target *t, struct lts_error *err);

/* --freeze: stops every thread of a live target (ptrace seize + interrupt: were this program
 * killed, the kernel would let the target run on). Returns 0, or -1 with err. */
int target_freeze(struct target *t, struct lts_error *err);
/* Lets the threads run again (nothing when not frozen). */
void target_thaw(struct target *t);

/* Why reading a live process's memory was refused, given what is known of both sides:
 * owner: the target's uid; self: this program's effective uid; cap_ptrace: whether it holds
 * CAP_SYS_PTRACE; yama: kernel.yama.ptrace_scope (-1: no Yama). Into buf, one sentence. */
void target_explain_refusal(char *buf, size_t size, pid_t pid, uid_t owner, uid_t self,
                            bool cap_ptrace, int yama);

#endif
