/* frames.h — the frames each stack of a snapshot shows, computed once: --fold applied (whole
 * recorded frames at the top whose function matches, and inlined wrappers inside the first
 * frame kept), each recorded frame expanded into its inlined chain, every frame with the name
 * it is shown by. The grouping and every renderer read these; none of them re-applies
 * --fold or re-derives a name. */
#ifndef FRAMES_H
#define FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "error.h"
#include "reader.h"
#include "symbolize.h"

struct frame {
    const struct sym_frame *sym; /* function, file:line, module+offset, inlined (the
                                    symbolizer's, valid as long as it is) */
    const char *name;            /* the function, or module+0xoffset, or 0xaddress */
};

struct stack_frames {
    const struct frame *frames; /* innermost first, after --fold */
    uint32_t n;
    uint32_t skipped;  /* recorded frames --fold took off the top */
    struct frame site; /* recorded frame 0 as it is, before --fold (misuse sites);
                                   for the empty stack: sym NULL, name "(no stack)" */
};

struct frames;

/* For every stack of s, resolved against the modules loaded at when[stack] (sym_resolve_at).
 * fold may be NULL. Returns 0, or -1 with err filled. */
int frames_build(const struct lts_snapshot *s, struct symbolizer *sym,
                 const struct content_regex *fold, const uint64_t *when, struct frames **out,
                 struct lts_error *err);

/* The frames of a stack id (< s->nstacks). */
const struct stack_frames *frames_of(const struct frames *f, uint32_t stack);

/* The recorded frames of a stack after --fold (return addresses, innermost first). */
const uint64_t *frames_recorded(const struct frames *f, const struct lts_snapshot *s,
                                uint32_t stack, uint32_t *depth);

/* The function at one return address that is not in a stack (a thread's start routine,
 * given + 1), or NULL. */
const char *frames_function_at(struct symbolizer *sym, uint64_t address);

void frames_free(struct frames *f);

#endif
