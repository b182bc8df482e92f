/* A program whose malloc is jemalloc's (linked with -ljemalloc, as redis-server is): it keeps
 * N strings "jekey-<i>:..." and waits. leaktag-scan says the heap is not glibc's and still
 * counts the keys in the process's memory.
 *   jemalloc_target N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    char **keys = malloc((size_t)n * sizeof(*keys));
    for (int i = 0; i < n; i++) {
        keys[i] = malloc(96);
        snprintf(keys[i], 96, "jekey-%d:payload-of-a-cached-entry", i);
    }
    printf("ready %d\n", n);
    fflush(stdout);
    pause();
    for (int i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return 0;
}
