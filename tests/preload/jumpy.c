/* Preloaded after libleaktag.so, so that leaktag's malloc hook forwards to this one: while
 * armed it raises SIGUSR1 before glibc's malloc runs, so that a handler that longjmps leaves
 * leaktag's hook, not glibc's allocator, half done. */
#include <signal.h>
#include <stddef.h>

#define EXPORTED __attribute__((visibility("default")))

extern void *__libc_malloc(size_t n);

static volatile int armed;

EXPORTED void jumpy_arm(int times);
EXPORTED void *malloc(size_t n);

void jumpy_arm(int times)
{
    armed = times;
}

void *malloc(size_t n)
{
    if (armed > 0) {
        armed--;
        raise(SIGUSR1);
    }
    return __libc_malloc(n);
}
