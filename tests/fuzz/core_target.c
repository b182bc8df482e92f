/* The program whose gcore seeds the core-file fuzzer: a glibc heap with chunks in use, in a
 * tcache and in a fastbin, an mmapped chunk, and a second thread (a small stack, and the
 * main arena: another arena reserves 64 MiB, which gcore writes out whole) with a tcache.
 * Its own executable is mapped eight more times from its start, as PostgreSQL maps one file
 * many times (a module table once overflowed on that). Small, so that the core is a seed
 * libFuzzer takes whole.
 *   core_target SECONDS */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *thread_main(void *arg)
{
    char **keep = arg;
    for (int i = 0; i < 64; i++) {
        keep[i] = malloc(48 + (size_t)i * 16);
        snprintf(keep[i], 48, "thread-key-%d", i);
    }
    free(keep[3]); /* into this thread's tcache */
    sleep(1000);
    return NULL;
}

int main(int argc, char **argv)
{
    static char *kept[256], *theirs[64];
    mallopt(M_ARENA_MAX, 1);
    for (int i = 0; i < 256; i++) {
        kept[i] = malloc(24 + (size_t)(i % 8) * 40);
        snprintf(kept[i], 24, "key-%d", i);
    }
    for (int i = 0; i < 256; i += 16) /* tcache first, then fastbins */
        free(kept[i]);
    int self = open("/proc/self/exe", O_RDONLY);
    for (int i = 0; self >= 0 && i < 8; i++)
        mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, self, 0);
    void *big = malloc(192 << 10); /* mmapped */
    memset(big, 'x', 4096);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    pthread_t t;
    pthread_create(&t, &attr, thread_main, theirs);
    sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 60);
    return 0;
}
