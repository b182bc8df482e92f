/* A malloc-heavy run with stacks that vary on nearly every call (random call trees through
 * eight functions, up to 40 deep), a few thousand blocks live at once, calloc and realloc
 * among them. no_syscalls.sh runs it under strace and counts the system calls this thread
 * makes between the two markers: leaktag's hooks must make none of their own (issue 13: a
 * libunwind lock made two rt_sigprocmask per unwind step), and the memory they map must be
 * amortized. Usage: no_syscalls [ALLOCATIONS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define NOINLINE __attribute__((noinline))
#define LIVE 4096

static void *live[LIVE];
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static long done;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void allocate(void)
{
    uint64_t r = next_random();
    size_t size = 8 + r % 2048;
    unsigned slot = (unsigned)(r >> 20) % LIVE;
    void *p;
    switch ((r >> 40) % 8) {
    case 0:
        p = calloc(1, size);
        break;
    case 1:
        p = realloc(live[slot], size);
        live[slot] = NULL; /* moved into p (or freed by realloc's caller below on failure) */
        break;
    default:
        p = malloc(size);
    }
    if (p)
        memset(p, (int)r, 8);
    free(live[slot]);
    live[slot] = p;
    done++;
}

typedef void step_fn(int depth);
static step_fn step0, step1, step2, step3, step4, step5, step6, step7;
static step_fn *const steps[8] = {step0, step1, step2, step3, step4, step5, step6, step7};

/* Each level allocates, then goes on through a random one of the eight: the stacks differ
 * below every frame, and a volatile keeps each frame real. */
#define STEP(n)                                                                                \
    static NOINLINE void step##n(int depth)                                                   \
    {                                                                                          \
        volatile int keep = depth + n;                                                         \
        allocate();                                                                            \
        if (depth > 0)                                                                         \
            steps[next_random() % 8](depth - 1 - (int)(next_random() % 3));                   \
        (void)keep;                                                                            \
    }
STEP(0)
STEP(1)
STEP(2)
STEP(3)
STEP(4)
STEP(5)
STEP(6)
STEP(7)

int main(int argc, char **argv)
{
    long target = argc > 1 ? atol(argv[1]) : 400000;
    /* Warm up outside the window: leaktag's start-up, first tables and caches. */
    for (int i = 0; i < 2000; i++)
        steps[i % 8](8);
    long warm = done;
    prctl(PR_SET_NAME, "lt-begin");
    while (done - warm < target)
        steps[next_random() % 8]((int)(next_random() % 40));
    prctl(PR_SET_NAME, "lt-end");
    for (int i = 0; i < LIVE; i++)
        free(live[i]);
    printf("%ld\n", done - warm);
    return 0;
}
