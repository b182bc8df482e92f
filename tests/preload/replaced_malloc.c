/* A program with its own malloc and free but not realloc (valgrind's static_malloc): under
 * the shim it must run exactly as without, and leaktag says once that it stays out. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORTED __attribute__((visibility("default"))) /* they must interpose libc's */

static char arena[1 << 20] __attribute__((aligned(16)));
static size_t used;

EXPORTED void *malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (used + n > sizeof(arena))
        return NULL;
    void *p = arena + used;
    used += n;
    return p;
}

EXPORTED void free(void *p)
{
    (void)p;
}

static void *worker(void *arg)
{
    return arg;
}

int main(void)
{
    char *s = malloc(32);
    strcpy(s, "own allocator");
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    printf("%s\n", s);
    return 0;
}
