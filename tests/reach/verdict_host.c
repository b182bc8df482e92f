/* verdict_host.c — what the verdict must leave alone, or survive (issue 23):
 *   verdict_host sigchld     a SIGCHLD handler that reaps like nginx's; a snapshot with a
 *                            verdict from this thread (SIGCHLD unblocked here); the handler
 *                            must never run (nothing of leaktag's may reach it)
 *   verdict_host truncated   a writable MAP_SHARED file mapping whose file was truncated (a
 *                            read there is SIGBUS); snapshots by LEAKTAG_INTERVAL, from
 *                            leaktag's thread
 *   verdict_host plain       blocks only; snapshots by LEAKTAG_INTERVAL (run with an
 *                            allocator whose blocks start at a mapping's first byte)
 *   verdict_host setuid      drops root (to nobody) as daemons do, then takes a snapshot:
 *                            not dumpable any more, so no verdict, and the reason says so
 *   verdict_host fork-thread a thread forks, and in the child that thread allocates and
 *                            returns: leaktag's thread ends the child, whose group leader is
 *                            a zombie by then (final snapshots)
 * Each keeps one block reachable (site_kept) and drops ten (site_dropped), waits for a
 * snapshot in $HOST_DIR when it does not take one itself, and exits 0 when all went as
 * without leaktag. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leaktag.h"

#define NOINLINE __attribute__((noinline))

void *kept;                 /* a root */
static volatile char *shared; /* the truncated file's mapping */

NOINLINE static void *site_kept(void) { return malloc(48); }
NOINLINE static void site_dropped(void)
{
    void *volatile p = malloc(40);
    (void)p;
}

/* Stale copies of the dropped blocks' addresses below the stack pointer would keep them
 * "reachable" to any conservative scan (valgrind's too): cleared, as leak tests do. */
NOINLINE static void scrub_stack(void)
{
    volatile char area[16384];
    memset((char *)area, 0, sizeof(area));
}

static void *idle(void *arg)
{
    for (;;)
        pause(); /* (setuid interrupts it: glibc signals every thread to change its ids) */
    return arg;
}

static int snapshots(void)
{
    const char *dir = getenv("HOST_DIR");
    DIR *d = opendir(dir ? dir : ".");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".lts") && e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int wait_for_snapshots(int want)
{
    for (int i = 0; i < 200 && snapshots() < want; i++)
        usleep(50000);
    return snapshots() >= want ? 0 : 1;
}

static volatile sig_atomic_t sigchld_calls, reaped;

static void on_sigchld(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)info, (void)uc;
    sigchld_calls++;
    while (waitpid(-1, NULL, WNOHANG) > 0) /* as nginx's ngx_process_get_status */
        reaped++;
}

static int child_status = -1;

/* In the child, the thread that forked is the only one: it returns, and the child ends. */
static void *fork_and_return(void *arg)
{
    pid_t child = fork();
    if (child == 0) {
        void *volatile p = malloc(10); /* leaktag's thread starts again here */
        free(p);
        usleep(100000);
        return arg;
    }
    int st;
    if (waitpid(child, &st, 0) == child)
        child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return arg;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    kept = site_kept();
    for (int i = 0; i < 10; i++)
        site_dropped();
    scrub_stack();
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL); /* leaktag's thread runs too */
    if (!strcmp(mode, "sigchld")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigchld;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigaction(SIGCHLD, &sa, NULL);
        int rc = leaktag_snapshot ? leaktag_snapshot("check") : 0;
        usleep(100000); /* a late SIGCHLD would be in by now */
        printf("snapshot %d; the SIGCHLD handler ran %d times and reaped %d\n", rc,
               (int)sigchld_calls, (int)reaped);
        return rc == 0 && sigchld_calls == 0 ? 0 : 1;
    }
    if (!strcmp(mode, "setuid")) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            return 77;
        int rc = leaktag_snapshot ? leaktag_snapshot("check") : -1;
        printf("snapshot %d as uid %d\n", rc, (int)getuid());
        return 0;
    }
    if (!strcmp(mode, "fork-thread")) {
        pthread_t forker;
        pthread_create(&forker, NULL, fork_and_return, NULL);
        pthread_join(forker, NULL);
        printf("the child ended with %d\n", child_status);
        return child_status;
    }
    if (!strcmp(mode, "truncated")) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/shared.bin", getenv("HOST_DIR") ? getenv("HOST_DIR") : ".");
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, 2 * 4096) != 0)
            return 2;
        shared = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (shared == MAP_FAILED)
            return 2;
        shared[0] = 1;
        if (ftruncate(fd, 0) != 0) /* the mapping stays; a read of it is SIGBUS now */
            return 2;
        close(fd);
        unlink(path);
    } else if (strcmp(mode, "plain")) {
        fprintf(stderr, "usage: verdict_host sigchld|truncated|plain|setuid|fork-thread\n");
        return 2;
    }
    int rc = wait_for_snapshots(2);
    printf("%d snapshots\n", snapshots());
    return rc;
}
