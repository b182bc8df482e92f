/* peak_rss — runs a command and prints the peak RSS of it and the descendants it waited for.
 *
 *     peak_rss COMMAND [ARGS]      → "peak_rss_kb N" on stderr, COMMAND's exit status
 *
 * bench/run.py cannot measure this itself: a child forked from Python starts with Python's
 * resident pages, and Linux keeps that high-water mark across exec. Forked from this small
 * process, the floor is a few hundred kilobytes. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: peak_rss COMMAND [ARGS]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror("peak_rss: exec");
        _exit(127);
    }
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("peak_rss: wait4");
        return 2;
    }
    fprintf(stderr, "peak_rss_kb %ld\n", usage.ru_maxrss);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
