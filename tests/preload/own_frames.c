/* Allocations whose stacks pass through leaktag's own code: pthread_create (the DTV and
 * stack the real one allocates), a thread's start routine (behind leaktag's trampoline), a
 * thread created by a thread. own_frames.sh checks that no recorded frame is leaktag's. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void *kept[8];

static void *inner(void *arg)
{
    kept[2] = calloc(3, 33);
    return arg;
}

static void *outer(void *arg)
{
    kept[0] = malloc(77);
    kept[1] = strdup("from a thread");
    pthread_t t;
    pthread_create(&t, NULL, inner, NULL);
    pthread_join(t, NULL);
    return arg;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, outer, NULL);
    pthread_join(t, NULL);
    kept[3] = realloc(NULL, 55);
    return 0;
}
