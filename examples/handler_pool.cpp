// handler_pool — the seed article's second case: six "handler" threads run the same loop,
// building a Redis command per session lookup and freeing it at the bottom of the loop, but
// the loop's first branch (a hit in a small local cache) `continue`s past that cleanup. Each
// handler leaks one RedisCmd — a "GET" and a "user:session:<id>" key — per hit (about 1 in
// 10), which the article saw as six heap areas growing alike. The "io" and "timer" threads
// allocate and free correctly.
//   handler_pool [--rate N] [--seconds N]   N commands/s per handler (0: no pacing; default
//                                           1000), stop after N seconds (default: SIGTERM/SIGINT)
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

static constexpr int kHandlers = 6;

static std::atomic<bool> running{true};

// ---- pacing: batches every 10 ms, absolute deadlines so the rate does not drift ----------

class Pacer {
public:
    explicit Pacer(unsigned long rate) : rate_(rate), batch_(rate >= 100 ? rate / 100 : 1)
    {
        clock_gettime(CLOCK_MONOTONIC, &next_);
    }

    // Waits when the current batch is used up; false once the program is stopping.
    bool next()
    {
        if (rate_ && ++done_ >= batch_) {
            done_ = 0;
            long long period_ns = 1000000000LL * static_cast<long long>(batch_) /
                                  static_cast<long long>(rate_);
            next_.tv_nsec += period_ns;
            next_.tv_sec += next_.tv_nsec / 1000000000;
            next_.tv_nsec %= 1000000000;
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next_, nullptr) == EINTR &&
                   running.load(std::memory_order_relaxed)) {
            }
        }
        return running.load(std::memory_order_relaxed);
    }

private:
    unsigned long rate_, batch_, done_ = 0;
    struct timespec next_;
};

// ---- the Redis side -----------------------------------------------------------------------

// One command, hiredis-style argc/argv/argvlen; the argument strings live in args, so a
// leaked command shows "GET" and its key in its own bytes.
struct RedisCmd {
    static constexpr int kMaxArgs = 4;
    int argc = 0;
    const char *argv[kMaxArgs] = {};
    size_t argvlen[kMaxArgs] = {};
    char args[96] = {};
    size_t args_used = 0;
    char reply[64] = {}; // the first bytes of the reply, for the caller

    bool add(std::string_view arg)
    {
        if (argc == kMaxArgs || args_used + arg.size() + 1 > sizeof(args))
            return false;
        char *dst = args + args_used;
        std::memcpy(dst, arg.data(), arg.size());
        dst[arg.size()] = '\0';
        argv[argc] = dst;
        argvlen[argc++] = arg.size();
        args_used += arg.size() + 1;
        return true;
    }
};

// Stands in for a connection: formats the RESP request into its buffer and makes up a reply.
class FakeRedis {
public:
    size_t send(const RedisCmd &cmd)
    {
        int n = snprintf(out_, sizeof(out_), "*%d\r\n", cmd.argc);
        for (int i = 0; i < cmd.argc && n > 0 && static_cast<size_t>(n) < sizeof(out_); i++)
            n += snprintf(out_ + n, sizeof(out_) - static_cast<size_t>(n), "$%zu\r\n%s\r\n",
                          cmd.argvlen[i], cmd.argv[i]);
        sent_ += static_cast<size_t>(n);
        return static_cast<size_t>(n);
    }

    void read_reply(RedisCmd &cmd, uint32_t session)
    {
        snprintf(cmd.reply, sizeof(cmd.reply), "$26\r\n{\"uid\":%u,\"level\":%u}\r\n",
                 session * 7919 % 1000000, session % 60);
    }

    size_t sent() const { return sent_; }

private:
    char out_[256];
    size_t sent_ = 0;
};

// Sessions seen recently, direct-mapped: with ids drawn from 10 × its slots, about 1 lookup
// in 10 is a hit.
class LocalCache {
public:
    static constexpr uint32_t kSlots = 64;
    bool hit(uint32_t session) const { return slot_[session % kSlots] == session + 1; }
    void put(uint32_t session) { slot_[session % kSlots] = session + 1; }

private:
    uint32_t slot_[kSlots] = {};
};

// ---- threads ------------------------------------------------------------------------------

struct HandlerStats {
    unsigned long commands = 0, bytes = 0;
    std::atomic<unsigned long> hits{0}; // read by main for --ready
};

static unsigned long handler_rate = 1000;
static HandlerStats handler_stats[kHandlers];

static uint32_t xorshift(uint32_t &s)
{
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
}

static void *handler_main(void *arg)
{
    HandlerStats &stats = *static_cast<HandlerStats *>(arg);
    pthread_setname_np(pthread_self(), "handler");
    uint32_t rng = 0x9e3779b9u + static_cast<uint32_t>(&stats - handler_stats);
    LocalCache cache;
    FakeRedis redis;
    Pacer pace(handler_rate);

    for (; pace.next(); stats.commands++) {
        uint32_t session = 100000 + xorshift(rng) % (10 * LocalCache::kSlots);
        RedisCmd *cmd = new RedisCmd;
        cmd->add("GET");
        cmd->add("user:session:" + std::to_string(session));

        if (cache.hit(session)) { // the article's case 2: the loop's first branch
            stats.hits.fetch_add(1, std::memory_order_relaxed);
            continue; // THE LEAK: skips the delete at the bottom of the loop
        }

        stats.bytes += redis.send(*cmd);
        redis.read_reply(*cmd, session);
        cache.put(session);
        delete cmd;
    }
    return nullptr;
}

// Reads client packets: a buffer per packet, freed once decoded.
static void *io_main(void *)
{
    pthread_setname_np(pthread_self(), "io");
    uint32_t rng = 12345;
    unsigned long checksum = 0;
    Pacer pace(handler_rate);
    while (pace.next()) {
        size_t len = 256 + xorshift(rng) % 3840;
        unsigned char *packet = static_cast<unsigned char *>(malloc(len));
        if (!packet)
            break;
        memset(packet, static_cast<int>(len & 0xff), len);
        std::vector<uint16_t> fields(len / 64);
        for (size_t i = 0; i < fields.size(); i++)
            fields[i] = static_cast<uint16_t>(packet[i * 64] + i);
        checksum += fields.empty() ? 0 : fields.back();
        free(packet);
    }
    return reinterpret_cast<void *>(checksum);
}

// Fires session timeouts every 10 ms: the due list is built and dropped each tick.
static void *timer_main(void *)
{
    pthread_setname_np(pthread_self(), "timer");
    unsigned long ticks = 0, fired = 0;
    Pacer pace(100);
    while (pace.next()) {
        std::vector<std::string> due;
        for (unsigned i = 0; i < 1 + ticks % 16; i++)
            due.push_back("session-timeout:user:session:" + std::to_string(100000 + ticks + i));
        fired += due.size();
        ticks++;
    }
    return reinterpret_cast<void *>(fired);
}

// ---- main ---------------------------------------------------------------------------------

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static unsigned long parse_count(const char *opt, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long v = arg ? strtoul(arg, &end, 10) : 0;
    if (!arg || errno || end == arg || *end || arg[0] == '-') {
        fprintf(stderr, "handler_pool: %s needs a number\n", opt);
        exit(2);
    }
    return v;
}

static pthread_t start(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    int err = pthread_create(&t, nullptr, fn, arg);
    if (err) {
        fprintf(stderr, "handler_pool: pthread_create: %s\n", strerror(err));
        exit(1);
    }
    return t;
}

int main(int argc, char **argv)
{
    unsigned long seconds = 0, ready = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rate")) {
            handler_rate = parse_count(argv[i], argv[i + 1]);
            i++;
        } else if (!strcmp(argv[i], "--ready")) { // a line once this many have leaked
            ready = parse_count(argv[i], argv[i + 1]);
            i++;
        } else if (!strcmp(argv[i], "--seconds")) {
            seconds = parse_count(argv[i], argv[i + 1]);
            i++;
        } else {
            fprintf(stderr, "usage: handler_pool [--rate N] [--seconds N] [--ready N]\n");
            return 2;
        }
    }

    struct sigaction sa = {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    // SIGTERM/SIGINT go to this thread only, so its sleep below ends at once.
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    std::vector<pthread_t> threads;
    for (int i = 0; i < kHandlers; i++)
        threads.push_back(start(handler_main, &handler_stats[i]));
    threads.push_back(start(io_main, nullptr));
    threads.push_back(start(timer_main, nullptr));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);

    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += static_cast<time_t>(seconds);
    while (!stop_requested) {
        struct timespec nap = {0, ready ? 10000000 : 100000000}, now;
        if (ready) {
            unsigned long leaked = 0;
            for (const HandlerStats &s : handler_stats)
                leaked += s.hits.load(std::memory_order_relaxed);
            if (leaked >= ready) {
                printf("handler_pool: ready, %lu leaked\n", leaked);
                fflush(stdout);
                ready = 0;
            }
        }
        if (seconds) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
                break;
        }
        nanosleep(&nap, nullptr);
    }
    running.store(false);
    for (pthread_t t : threads)
        pthread_join(t, nullptr);

    unsigned long commands = 0, hits = 0, bytes = 0;
    for (const HandlerStats &s : handler_stats) {
        commands += s.commands;
        hits += s.hits.load();
        bytes += s.bytes;
    }
    printf("handler_pool: %d handlers, %lu commands, %lu cache hits (leaked), %lu bytes sent\n",
           kHandlers, commands, hits, bytes);
    return 0;
}
