/* Scenarios in which leaktag must not change what the program sees or does (issue 11): each
 * prints what it observed and exits 0 when it saw what it would see without leaktag.
 *   host_test SCENARIO      (run.sh runs each plain and under the shim)
 * Scenarios that wait for a snapshot signal print "ready" and poll for a file named
 * by $HOST_GO before going on. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void *volatile sink;

/* Blocks from several stacks, so that stacks are unwound (a stack-cache miss each). */
NOINLINE static void churn_b(int i) { sink = malloc(32 + (size_t)i % 64); free(sink); }
NOINLINE static void churn_a(int i) { if (i % 3) churn_b(i); else { sink = malloc(16); free(sink); } }
static void churn(int n)
{
    for (int i = 0; i < n; i++)
        churn_a(i);
}

static void ready(void)
{
    printf("ready\n");
    fflush(stdout);
}

/* Waits until the test runner creates $HOST_GO (it has sent its signals by then). */
static void wait_go(void)
{
    const char *go = getenv("HOST_GO");
    struct stat st;
    for (int i = 0; go && i < 2000 && stat(go, &st) != 0; i++)
        usleep(5000);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- 1. a snapshot signal while running on a small stack (coroutine, sigaltstack) ---------- */

static ucontext_t main_ctx, small_ctx;

static void on_small_stack(void)
{
    ready();
    wait_go(); /* the signal arrives here, 16 KiB of stack */
    swapcontext(&small_ctx, &main_ctx);
}

static int small_stack(void)
{
    static char stack[16384] __attribute__((aligned(16)));
    getcontext(&small_ctx);
    small_ctx.uc_stack.ss_sp = stack;
    small_ctx.uc_stack.ss_size = sizeof(stack);
    small_ctx.uc_link = &main_ctx;
    makecontext(&small_ctx, on_small_stack, 0);
    swapcontext(&main_ctx, &small_ctx);
    printf("back from the 16 KiB stack\n");
    return 0;
}

/* ---- 2. descriptors ------------------------------------------------------------------------ */

static void *nothing(void *arg)
{
    churn(1000);
    return arg;
}

/* The first free descriptor is 3, as without leaktag, after a thread and many unwinds. */
static int first_fd(void)
{
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    churn(1000);
    int fd = open("/dev/null", O_RDONLY);
    printf("first free descriptor: %d\n", fd);
    return fd == 3 ? 0 : 1;
}

/* A daemon closes every descriptor above 2 and opens its own: they must stay its own. */
static int daemon_files(void)
{
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    churn(1000);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    const char *dir = getenv("HOST_DIR");
    char path[4096];
    int fds[6];
    struct stat before[6];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "%s/file%d", dir ? dir : "/tmp", i);
        fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (write(fds[i], "mine", 4) != 4)
            return 2;
        fstat(fds[i], &before[i]);
    }
    ready();
    wait_go(); /* snapshot signals meanwhile */
    churn(20000);
    sink = malloc(100);
    int bad = 0;
    for (int i = 0; i < 6; i++) {
        struct stat now_st;
        char buf[64] = {0};
        if (fstat(fds[i], &now_st) != 0 || now_st.st_ino != before[i].st_ino) {
            printf("descriptor %d is no longer the program's file%d\n", fds[i], i);
            bad = 1;
            continue;
        }
        ssize_t n = pread(fds[i], buf, sizeof(buf) - 1, 0);
        if (n != 4 || memcmp(buf, "mine", 4)) {
            printf("file%d (descriptor %d) now holds %zd bytes\n", i, fds[i], n);
            bad = 1;
        }
    }
    printf("%s\n", bad ? "the program's files were changed" : "files untouched");
    return bad;
}

/* ---- 3. the last application thread ends ---------------------------------------------------- */

static void *short_lived(void *arg)
{
    usleep(100000);
    return arg;
}

static int main_thread_exit(void)
{
    pthread_t t;
    pthread_create(&t, NULL, short_lived, NULL);
    printf("main calls pthread_exit\n");
    fflush(stdout);
    pthread_exit(NULL);
}

static void *forks_and_returns(void *arg)
{
    pid_t child = fork();
    if (child == 0) {
        churn(100); /* leaktag's thread is restarted in the child at its first allocation */
        usleep(100000);
        return arg; /* the child's only thread ends: so does the child */
    }
    int status = 0;
    for (int i = 0; i < 500; i++) {
        if (waitpid(child, &status, WNOHANG) == child) {
            printf("child ended with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            exit(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
        }
        usleep(10000);
    }
    printf("child still running after 5 s\n");
    kill(child, SIGKILL);
    exit(1);
}

static int fork_thread_returns(void)
{
    pthread_t t;
    pthread_create(&t, NULL, forks_and_returns, NULL);
    pthread_join(t, NULL);
    return 1;
}

/* ---- 4. an ignored snapshot signal stays invisible ---------------------------------------- */

static int ignored_sleep(void)
{
    signal(SIGUSR2, SIG_IGN);
    churn(100); /* an allocation or two, as programs do */
    ready();
    struct timespec ts = {2, 0};
    double start = now();
    int rc = nanosleep(&ts, NULL);
    double slept = now() - start;
    printf("nanosleep returned %d (%s) after %.1f s\n", rc, rc ? strerror(errno) : "ok", slept);
    return rc == 0 && slept > 1.9 ? 0 : 1;
}

/* ---- 5. SA_RESETHAND ------------------------------------------------------------------------ */

static volatile sig_atomic_t calls;

static void once(int sig)
{
    (void)sig;
    calls++;
}

static int reset_hand(void)
{
    struct sigaction sa, now_sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = once;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR1, &sa, NULL); /* LEAKTAG_SIGNAL=USR1 in run.sh: ours */
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &now_sa);
    int reset = now_sa.sa_handler == SIG_DFL;
    printf("handler called %d time(s); afterwards the handler is %s\n", (int)calls,
           reset ? "SIG_DFL" : "still the program's");
    return calls == 1 && reset ? 0 : 1;
}

/* ---- 6. a single-threaded program that blocks every signal ------------------------------ */

static int all_blocked(void)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    churn(100);
    ready();
    wait_go();
    printf("done\n");
    return 0;
}

/* ---- 7. the application's own handler, in the one thread that does not block it ---------- */

static volatile sig_atomic_t handled;

static void count_it(int sig)
{
    (void)sig;
    handled++;
}

/* Says each time the handler has run (a line the runner waits for before its next kill). */
static void *signal_thread(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    ready();
    const char *go = getenv("HOST_GO");
    struct stat st;
    int said = 0;
    for (int i = 0; i < 20000 && go && stat(go, &st) != 0; i++) {
        if (handled != said) {
            said = handled;
            printf("handled %d\n", said);
            fflush(stdout);
        }
        usleep(1000);
    }
    return arg;
}

static int handler_thread(void)
{
    signal(SIGUSR2, count_it);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the thread, which unblocks it */
    pthread_t t;
    pthread_create(&t, NULL, signal_thread, NULL);
    pthread_join(t, NULL);
    printf("the program's handler ran %d times\n", (int)handled);
    return handled == 5 ? 0 : 1;
}

/* ---- 8. resources: every pthread key is the program's ---------------------------------- */

static int all_keys(void)
{
    pthread_key_t key;
    int n = 0;
    while (n < 100000 && pthread_key_create(&key, NULL) == 0)
        n++;
    printf("%d pthread keys (PTHREAD_KEYS_MAX %d)\n", n, PTHREAD_KEYS_MAX);
    return n == PTHREAD_KEYS_MAX ? 0 : 1;
}

/* ---- 9. threads end in every way, and each is seen to end ---------------------------------- */

static void *returns(void *arg)
{
    sink = malloc(11);
    return arg;
}

static void *exits(void *arg)
{
    sink = malloc(12);
    pthread_exit(arg);
}

static void *cancelled(void *arg)
{
    sink = malloc(13);
    for (;;)
        pause(); /* a cancellation point */
    return arg;
}

static int c11_thread(void *arg)
{
    sink = malloc(14);
    return arg != NULL;
}

static int thread_ends(void)
{
    pthread_t a, b, c;
    thrd_t d;
    pthread_create(&a, NULL, returns, NULL);
    pthread_create(&b, NULL, exits, NULL);
    pthread_create(&c, NULL, cancelled, NULL);
    usleep(50000);
    pthread_cancel(c);
    thrd_create(&d, c11_thread, NULL);
    void *result;
    int c11;
    int ok = !pthread_join(a, NULL) && !pthread_join(b, NULL) && !pthread_join(c, &result) &&
             result == PTHREAD_CANCELED && thrd_join(d, &c11) == thrd_success;
    usleep(1500 * 1000); /* leaktag notices a thread it did not start within a second */
    printf("4 threads ended: by return, pthread_exit, cancellation, C11 return\n");
    return ok ? 0 : 1;
}

/* ---- 10. a signal the program reads through a signalfd (PostgreSQL's latch: SIGURG) ------ */

static void *idle_thread(void *arg)
{
    wait_go();
    return arg;
}

static int signalfd_urg(void)
{
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_BLOCK, &urg, NULL); /* inherited by every thread made after */
    int fd = signalfd(-1, &urg, SFD_CLOEXEC);
    pthread_t t; /* a second thread: leaktag's own then runs too */
    pthread_create(&t, NULL, idle_thread, NULL);
    churn(100);
    ready();
    const char *go = getenv("HOST_GO");
    int got = 0;
    struct stat st;
    for (int rounds = 0; rounds < 400; rounds++) { /* 20 s at most */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1) {
            struct signalfd_siginfo info;
            if (read(fd, &info, sizeof(info)) == sizeof(info) && info.ssi_signo == SIGURG) {
                printf("urg %d\n", ++got); /* the runner sends the next one after this */
                fflush(stdout);
            }
        } else if (!go || stat(go, &st) == 0) {
            break; /* nothing more, and the runner has sent them all */
        }
    }
    pthread_join(t, NULL);
    printf("read %d SIGURG through the signalfd\n", got);
    return got == 5 ? 0 : 1;
}

/* ---- 11. a thread that closes every descriptor, over and over ----------------------------- */

static volatile int closing = 1;

static void *close_everything(void *arg)
{
    while (closing)
        syscall(SYS_close_range, 3u, ~0u, 0u); /* as CPython's os.closerange, a daemon's tidy-up */
    return arg;
}

/* Opens, writes and closes files of its own meanwhile: they must hold its bytes alone. */
static int close_range_loop(void)
{
    pthread_t t;
    pthread_create(&t, NULL, close_everything, NULL);
    const char *dir = getenv("HOST_DIR");
    char path[4096];
    ready();
    const char *go = getenv("HOST_GO");
    struct stat st;
    unsigned long writes = 0;
    for (int round = 0; round < 20000 && go && stat(go, &st) != 0; round++) {
        snprintf(path, sizeof(path), "%s/app.%d", dir ? dir : ".", round % 8);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            writes += write(fd, "app\n", 4) == 4;
            close(fd);
        }
        usleep(200);
    }
    closing = 0;
    pthread_join(t, NULL);
    int foreign = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof(path), "%s/app.%d", dir ? dir : ".", i);
        FILE *f = fopen(path, "r");
        char line[64];
        while (f && fgets(line, sizeof(line), f))
            foreign += strcmp(line, "app\n") != 0;
        if (f)
            fclose(f);
    }
    printf("%lu writes of its own; %d foreign lines in its files\n", writes, foreign);
    return foreign == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } scenarios[] = {
        {"small-stack", small_stack}, {"first-fd", first_fd}, {"daemon-files", daemon_files},
        {"main-thread-exit", main_thread_exit}, {"fork-thread-returns", fork_thread_returns},
        {"ignored-sleep", ignored_sleep}, {"reset-hand", reset_hand},
        {"all-blocked", all_blocked}, {"handler-thread", handler_thread},
        {"all-keys", all_keys}, {"thread-ends", thread_ends}, {"signalfd-urg", signalfd_urg},
        {"close-range", close_range_loop},
    };
    for (size_t i = 0; argc > 1 && i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (!strcmp(argv[1], scenarios[i].name))
            return scenarios[i].fn();
    fprintf(stderr, "usage: host_test SCENARIO\n");
    return 2;
}
