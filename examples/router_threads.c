/* router_threads — the seed article's third case: a worker starts one thread per configured
 * router, with no stack size attribute, so each thread reserves the default stack, which
 * glibc takes from `ulimit -s`. At 32 MiB a stack, the article's 32-bit worker ran out of its
 * 3 GiB of address space after about 91 routers: pthread_create failed with EAGAIN and the
 * worker crashed. --vm-limit emulates that address space on 64-bit (RLIMIT_AS); here the
 * failure is reported and the program exits 1.
 *   ulimit -s 32768; router_threads --routers 120 --vm-limit 3072 [--hold SECONDS]
 * --routers defaults to 91; --hold defaults to holding until SIGTERM/SIGINT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* What a router thread sent to register; kept to register again after a reconnect. */
struct registration {
    int router_id;
    uint32_t worker_id;
    char router_addr[32];
    char worker_name[32];
    struct timespec registered_at;
    char packet[384];
};

/* One configured router and the thread that keeps the connection to it. */
struct router {
    int id;
    char addr[32];
    pthread_t thread;
    struct registration *reg; /* kept for the life of the connection */
};

static int quit_fd = -1;           /* written once at shutdown: wakes every router thread */
static atomic_int registered;      /* router threads that have registered */
static volatile sig_atomic_t stop_requested;

/* After base::TCP_Client_Epoll::svc: register with the router, then wait for its events. */
static void *router_client_svc(void *arg)
{
    struct router *r = arg;
    char name[16];
    snprintf(name, sizeof(name), "router-%d", r->id);
    pthread_setname_np(pthread_self(), name);

    struct registration *reg = malloc(sizeof(*reg));
    if (reg) {
        memset(reg, 0, sizeof(*reg));
        reg->router_id = r->id;
        reg->worker_id = (uint32_t)getpid();
        snprintf(reg->router_addr, sizeof(reg->router_addr), "%s", r->addr);
        snprintf(reg->worker_name, sizeof(reg->worker_name), "worker_svr@%s", name);
        clock_gettime(CLOCK_REALTIME, &reg->registered_at);
        snprintf(reg->packet, sizeof(reg->packet),
                 "REGISTER worker_svr/%u\r\nRouter: %s\r\nThread: %s\r\n"
                 "Routes: report,query,notify\r\n\r\n", reg->worker_id, r->addr, name);
    }
    r->reg = reg;
    atomic_fetch_add(&registered, 1);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = quit_fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, quit_fd, &ev) < 0) {
        perror("router_threads: epoll");
        exit(1);
    }
    for (;;) {
        int n = epoll_wait(ep, &ev, 1, -1);
        if (n > 0 && ev.data.fd == quit_fd)
            break;
        /* a real client would read from its router here */
    }
    close(ep);
    return NULL;
}

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static long parse_number(const char *opt, const char *arg, long min)
{
    char *end;
    errno = 0;
    long v = arg ? strtol(arg, &end, 10) : 0;
    if (!arg || errno || end == arg || *end || v < min) {
        fprintf(stderr, "router_threads: %s needs a number >= %ld\n", opt, min);
        exit(2);
    }
    return v;
}

/* Emulates the article's 32-bit worker: 3 GiB of address space, used up by thread stacks. */
static void limit_address_space(long mib)
{
    /* Each thread that mallocs would get a glibc arena of its own, up to 8 per core; on
     * 64-bit an arena reserves 64 MiB (1 MiB on 32-bit), which would use up the space before
     * the stacks do. One arena leaves the stacks as what runs out, as in the article. */
    mallopt(M_ARENA_MAX, 1);

    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    rl.rlim_cur = (rlim_t)mib << 20;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
        rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_AS, &rl) < 0) {
        perror("router_threads: setrlimit(RLIMIT_AS)");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    long nrouters = 91, vm_limit_mib = 0, hold = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--routers")) {
            nrouters = parse_number(argv[i], argv[i + 1], 1);
            i++;
        } else if (!strcmp(argv[i], "--vm-limit")) {
            vm_limit_mib = parse_number(argv[i], argv[i + 1], 1);
            i++;
        } else if (!strcmp(argv[i], "--hold")) {
            hold = parse_number(argv[i], argv[i + 1], 0);
            i++;
        } else {
            fprintf(stderr, "usage: router_threads [--routers N] [--vm-limit MiB] "
                            "[--hold SECONDS]\n");
            return 2;
        }
    }
    if (nrouters > 100000) {
        fprintf(stderr, "router_threads: --routers %ld is too many\n", nrouters);
        return 2;
    }
    if (vm_limit_mib)
        limit_address_space(vm_limit_mib);

    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* The size every thread below gets: nobody calls pthread_attr_setstacksize. */
    size_t stack_size = 0;
    pthread_attr_t defaults;
    if (pthread_getattr_default_np(&defaults) == 0) {
        pthread_attr_getstacksize(&defaults, &stack_size);
        pthread_attr_destroy(&defaults);
    }
    printf("router_threads: %ld routers, default thread stack %zu KiB (ulimit -s)", nrouters,
           stack_size >> 10);
    if (vm_limit_mib)
        printf(", address space limit %ld MiB", vm_limit_mib);
    printf("\n");
    fflush(stdout);

    quit_fd = eventfd(0, EFD_CLOEXEC);
    struct router *routers = calloc((size_t)nrouters, sizeof(*routers));
    if (quit_fd < 0 || !routers) {
        perror("router_threads");
        return 1;
    }

    /* SIGTERM/SIGINT stay blocked but pending until the ppoll below waits for them. */
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    for (long i = 0; i < nrouters; i++) {
        struct router *r = &routers[i];
        r->id = (int)i + 1;
        snprintf(r->addr, sizeof(r->addr), "10.%d.%d.%d:9100", 100 + r->id / 65536,
                 r->id / 256 % 256, r->id % 256);
        int err = pthread_create(&r->thread, NULL, router_client_svc, r);
        if (err) {
            /* The article's worker went on to pthread_detach() the thread it never got and
             * crashed (signal 11, errno 11). Say what happened instead. */
            fprintf(stderr, "pthread_create failed for router %d: %s\n", r->id, strerror(err));
            fprintf(stderr, "router_threads: %ld of %ld router threads running with %zu KiB "
                            "stacks each\n", i, nrouters, stack_size >> 10);
            exit(1);
        }
    }
    while (atomic_load(&registered) < nrouters) {
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
    printf("router_threads: %ld router threads registered\n", nrouters);
    fflush(stdout);

    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += hold;
    while (!stop_requested) {
        struct timespec left;
        if (hold >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            left.tv_sec = end.tv_sec - now.tv_sec;
            left.tv_nsec = end.tv_nsec - now.tv_nsec;
            if (left.tv_nsec < 0) {
                left.tv_sec--;
                left.tv_nsec += 1000000000;
            }
            if (left.tv_sec < 0)
                break;
        }
        ppoll(NULL, 0, hold >= 0 ? &left : NULL, &old); /* returns on the timeout or a signal */
    }

    uint64_t one = 1;
    if (write(quit_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        perror("router_threads: eventfd write");
        return 1;
    }
    for (long i = 0; i < nrouters; i++) {
        pthread_join(routers[i].thread, NULL);
        free(routers[i].reg);
    }
    free(routers);
    close(quit_fd);
    return 0;
}
