/* A process for `leaktag --pid` to inspect: it allocates a little, optionally rewrites its
 * environment the way nginx does for its process title (the strings are moved to the heap
 * and the original area is overwritten, which is what /proc/PID/environ then shows), or
 * forks a child that does the rest, says "ready PID" and sleeps until SIGTERM (exit 0). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t stop;
void *kept[16]; /* live in every snapshot */

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* ngx_init_setproctitle + ngx_setproctitle, in short. */
static void rewrite_environment(char **argv)
{
    char *area_end = argv[0];
    for (char **a = argv; *a; a++)
        area_end = *a + strlen(*a) + 1;
    for (char **e = environ; *e; e++) {
        if (*e == area_end)
            area_end = *e + strlen(*e) + 1;
        *e = strdup(*e);
    }
    memset(argv[0], 0, (size_t)(area_end - argv[0]));
    snprintf(argv[0], (size_t)(area_end - argv[0]), "target: master process");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    for (int i = 0; i < 16; i++)
        kept[i] = malloc(100 + (size_t)i);
    signal(SIGTERM, on_term);
    if (!strcmp(mode, "rewrite-env"))
        rewrite_environment(argv);
    pid_t child = 0;
    if (!strcmp(mode, "fork") && (child = fork()) == 0)
        child = -1; /* the child goes on below */
    if (child <= 0) {
        printf("ready %d\n", (int)getpid());
        fflush(stdout);
        while (!stop)
            pause();
        return 0;
    }
    /* The parent: stays until told, then ends its child too. */
    printf("parent %d\n", (int)getpid());
    fflush(stdout);
    while (!stop)
        pause();
    kill(child, SIGTERM);
    int status;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
