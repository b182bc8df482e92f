/* misuse.c — a small fixed table of allocator misuse sites, behind a mutex. Only reached
 * when something is already wrong, so it favours simplicity over speed. Never allocates. */
#include "misuse.h"

#include <pthread.h>
#include <string.h>

#include "compiler.h"
#include "log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lt_misuse sites[LT_MISUSE_MAX];
static unsigned used;

void lt_misuse_note(enum lt_misuse_type type, uint32_t alloc_stack, uint32_t release_stack,
                    unsigned alloc_kind, unsigned release_kind)
{
    pthread_mutex_lock(&lock);
    unsigned i = 0;
    for (; i < used; i++) {
        struct lt_misuse *m = &sites[i];
        if (m->type == type && m->alloc_stack == alloc_stack && m->release_stack == release_stack &&
            m->alloc_kind == alloc_kind && m->release_kind == release_kind)
            break;
    }
    if (i == used) {
        if (used == LT_MISUSE_MAX) {
            pthread_mutex_unlock(&lock);
            lt_log_once("more than %d distinct misuse sites; later ones are only counted",
                        LT_MISUSE_MAX);
            return;
        }
        sites[used++] = (struct lt_misuse){
            type, alloc_stack, release_stack, (uint8_t)alloc_kind, (uint8_t)release_kind, 0};
    }
    sites[i].count++;
    pthread_mutex_unlock(&lock);
}

unsigned lt_misuse_list(struct lt_misuse *out, unsigned max)
{
    pthread_mutex_lock(&lock);
    unsigned n = used;
    memcpy(out, sites, lt_min(n, max) * sizeof(*out));
    pthread_mutex_unlock(&lock);
    return n;
}

void lt_misuse_fork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

void lt_misuse_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

void lt_misuse_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
}
