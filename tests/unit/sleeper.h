/* sleeper.h — a small process for the target tests to look at: `sleep` (not a copy of the
 * test, whose sanitizer shadow would make a core of terabytes), exec'd with a marker in its
 * environment, which therefore sits in its stack's memory; and the marker found again
 * through a target's reads. */
#ifndef SLEEPER_H
#define SLEEPER_H

#include <stdbool.h>
#include <sys/types.h>

#include "target.h"

#define SLEEPER_MARK "LEAKTAG_MARK=channelid=4099"

/* Starts it; returns its pid once it runs sleep (not before its exec), or -1. */
pid_t sleeper_start(void);
/* Kills and reaps it. */
void sleeper_stop(pid_t pid);
/* The marker's address in the target's memory (found in a stack mapping), 0 if absent. */
uint64_t sleeper_find_mark(struct target *t);
/* The state letter of /proc/PID/stat ('S' sleeping, 't' stopped by a tracer...), and
 * TracerPid from /proc/PID/status. */
char sleeper_state(pid_t pid);
int sleeper_tracer(pid_t pid);

#endif
