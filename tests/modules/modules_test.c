/* Modules that come and go (issue 12):
 *   modules_test runpath       dlopen("libltplugin_a.so") found through this program's RUNPATH
 *   modules_test dlclose       5 blocks from plugin a stay live after it is unloaded; plugin b
 *                              is loaded next (often at a's old address)
 *   modules_test deepbind      plugin a opened with RTLD_DEEPBIND frees what it strdup'ed
 *   modules_test iterate-hang  a thread sits in a dl_iterate_phdr callback for good while
 *                              main allocates from new stacks and exits
 *   modules_test snapshot-in-iterate  leaktag_snapshot() from inside a dl_iterate_phdr
 *                              callback (the loader's lock held by the caller), with a second
 *                              thread running: it returns, and the snapshot is written */
#include <dlfcn.h>
#include "leaktag.h"
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile kept[8];

static void *open_plugin(const char *name, int mode)
{
    void *h = dlopen(name, mode);
    if (!h)
        fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
    return h;
}

static int in_callback;

static int stay(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size, (void)arg;
    __atomic_store_n(&in_callback, 1, __ATOMIC_RELEASE);
    for (;;) /* with the loader's lock held, for good */
        pause();
    return 0;
}

static void *iterate_forever(void *arg)
{
    dl_iterate_phdr(stay, arg);
    return NULL;
}

static int snapshot_here(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size;
    *(int *)arg = leaktag_snapshot ? leaktag_snapshot("inside-iterate") : -1;
    return 1; /* once */
}

static void *idle(void *arg)
{
    pause();
    return arg;
}

__attribute__((noinline)) static void *deep(int n)
{
    return n ? deep(n - 1) : malloc(48);
}

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "";
    if (!strcmp(how, "runpath")) {
        void *h = open_plugin("libltplugin_a.so", RTLD_NOW);
        printf("%s\n", h ? "found through RUNPATH" : "not found");
        return h ? 0 : 1;
    }
    if (!strcmp(how, "dlclose")) {
        void *a = open_plugin("libltplugin_a.so", RTLD_NOW);
        if (!a)
            return 1;
        void *(*alloc_a)(size_t) = (void *(*)(size_t))dlsym(a, "allocate_in_ltplugin_a");
        for (int i = 0; i < 5; i++)
            kept[i] = alloc_a(4000);
        /* Apart by more than the snapshot clock's centisecond. */
        usleep(30000);
        dlclose(a);
        usleep(30000);
        void *b = open_plugin("libltplugin_b.so", RTLD_NOW);
        if (!b)
            return 1;
        void *(*alloc_b)(size_t) = (void *(*)(size_t))dlsym(b, "allocate_in_ltplugin_b");
        kept[5] = alloc_b(3000);
        printf("plugin b at %s address\n",
               (uintptr_t)alloc_b == (uintptr_t)alloc_a ? "the same" : "another");
        return 0;
    }
    if (!strcmp(how, "deepbind")) {
        void *a = open_plugin("libltplugin_a.so", RTLD_NOW | RTLD_DEEPBIND);
        int (*dup)(const char *) = a ? (int (*)(const char *))dlsym(a, "strdup_and_free_in_ltplugin_a") : NULL;
        printf("strdup and free inside: %s\n", dup && dup("channelid=4099") ? "ok" : "failed");
        return dup ? 0 : 1;
    }
    if (!strcmp(how, "snapshot-in-iterate")) {
        pthread_t t;
        pthread_create(&t, NULL, idle, NULL); /* leaktag's threads run: its files thread too */
        usleep(100000);
        int rc = 1;
        dl_iterate_phdr(snapshot_here, &rc);
        printf("leaktag_snapshot inside a dl_iterate_phdr callback returned %d\n", rc);
        return rc == 0 ? 0 : 1;
    }
    if (!strcmp(how, "iterate-hang")) {
        pthread_t t;
        pthread_create(&t, NULL, iterate_forever, NULL);
        while (!__atomic_load_n(&in_callback, __ATOMIC_ACQUIRE))
            usleep(1000);
        for (int i = 0; i < 8; i++)
            kept[i] = deep(i); /* stacks not seen before: unwound */
        printf("exiting while a thread holds the loader's lock\n");
        exit(0);
    }
    return 2;
}
