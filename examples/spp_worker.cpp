// spp_worker — the seed article's first case: a single-threaded SPP worker whose request
// handler `new`s an itop_common::CommItopReq per request and, when the request names a
// channel that is not configured, logs "invalid channelid in req." and returns -1 without
// deleting it. One request in 8 carries the unconfigured channelid=4099, so the heap fills
// with ~1.5 KB objects holding request text — what the article found with gcore and Vim.
//   spp_worker [--rate N] [--requests N] [--hold] [--keep N]
//     --rate: N requests/s (0: no pacing; default 2000); --requests: stop after N (default:
//     at SIGTERM/SIGINT); --hold: then print the counts and wait for SIGTERM/SIGINT, as a
//     server that stopped receiving traffic (for leaktag-scan to look at); --keep: keep the
//     last N answered requests (a recent-requests log for a status page: objects of the
//     leaking class that are held, not leaked). SIGUSR1 prints the requests handled so far
//     (bench/run.py measures throughput with it).
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <string>
#include <string_view>

namespace itop_common {

// One report request. The raw text is kept inline, first in the object, so a dump of leaked
// objects reads as HTTP requests; the parsed fields follow it.
class CommItopReq {
public:
    static constexpr size_t kMaxRequest = 1408;

    bool Parse(const char *data, size_t len);
    int channelid() const { return channelid_; }
    int areaid() const { return areaid_; }
    const char *openid() const { return openid_; }

private:
    void SetField(std::string_view name, std::string_view value);

    char raw_[kMaxRequest] = {};
    uint32_t raw_len_ = 0;
    int channelid_ = 0;
    int areaid_ = 0;
    int platid_ = 0;
    int partition_ = 0;
    char openid_[64] = {};
};

static int to_int(std::string_view s)
{
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9' || v > 99999999)
            return -1;
        v = v * 10 + (c - '0');
    }
    return s.empty() ? -1 : v;
}

void CommItopReq::SetField(std::string_view name, std::string_view value)
{
    if (name == "openid") {
        size_t n = std::min(value.size(), sizeof(openid_) - 1);
        std::memcpy(openid_, value.data(), n);
        openid_[n] = '\0';
    } else if (name == "channelid") {
        channelid_ = value.empty() ? 0 : to_int(value); // empty: no channel, 0
    } else if (name == "areaid") {
        areaid_ = to_int(value);
    } else if (name == "platid") {
        platid_ = to_int(value);
    } else if (name == "partition") {
        partition_ = to_int(value);
    }
}

// Accepts a POST with a form body; false for anything else.
bool CommItopReq::Parse(const char *data, size_t len)
{
    if (len >= sizeof(raw_))
        return false;
    std::memcpy(raw_, data, len);
    raw_len_ = static_cast<uint32_t>(len);

    std::string_view text(raw_, raw_len_);
    size_t end = text.find("\r\n\r\n");
    if (text.substr(0, 5) != "POST " || end == std::string_view::npos ||
        text.substr(0, end).find("\r\nContent-Type: application/x-www-form-urlencoded") ==
            std::string_view::npos)
        return false;

    std::string_view body = text.substr(end + 4);
    while (!body.empty()) {
        size_t amp = body.find('&');
        std::string_view field = body.substr(0, amp);
        size_t eq = field.find('=');
        if (eq != std::string_view::npos)
            SetField(field.substr(0, eq), field.substr(eq + 1));
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    }
    return channelid_ >= 0 && openid_[0] != '\0';
}

} // namespace itop_common

// What SPP passes in arg1: the packet as received.
struct blob_type {
    int len;
    char *data;
};

// What SPP passes in arg2 (the server base): configuration and counters.
// The last answered requests, when --keep asks for them: held through this global.
static itop_common::CommItopReq **g_recent_requests;
static unsigned long g_recent_size, g_recent_next;

struct Worker {
    static constexpr int kChannels[] = {1001, 1002, 1003, 2001, 2002, 3001, 3002};
    unsigned long handled = 0, answered = 0, invalid = 0, invalid_empty = 0;
    unsigned long bytes_out = 0;
    unsigned last_flow = 0;

    bool validate(int channelid) const
    {
        return std::find(std::begin(kChannels), std::end(kChannels), channelid) !=
               std::end(kChannels);
    }

    // The article printed a line per rejected request; here only the 1st, 2nd, 4th, 8th, ...
    bool note_invalid()
    {
        ++invalid;
        return (invalid & (invalid - 1)) == 0;
    }
};

// Stands in for SPP's send-to-client; kept out of line so the response really is built.
__attribute__((noinline)) static void send_response(Worker *worker, unsigned flow,
                                                    const std::string &rsp)
{
    worker->bytes_out += rsp.size();
    worker->last_flow = flow;
}

static void respond(Worker *worker, unsigned flow, const itop_common::CommItopReq &req)
{
    std::string rsp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";
    rsp += "{\"ret\":0,\"msg\":\"ok\",\"openid\":\"";
    rsp += req.openid();
    rsp += "\",\"channelid\":" + std::to_string(req.channelid()) +
           ",\"areaid\":" + std::to_string(req.areaid()) + "}";
    send_response(worker, flow, rsp);
    worker->answered++;
}

// The handler as in the article's service.cpp. There the object had to outlive the call (SPP
// used it after the return), hence new rather than a local; here the valid path is done with
// it before returning.
extern "C" int spp_handle_process(unsigned flow, void *arg1, void *arg2)
{
    blob_type *blob = static_cast<blob_type *>(arg1);
    Worker *worker = static_cast<Worker *>(arg2);
    worker->handled++;

    itop_common::CommItopReq *common_itop_req_ptr = new itop_common::CommItopReq;
    // (The article also tested the pointer for NULL here; new throws instead.)
    if (!common_itop_req_ptr->Parse(blob->data, static_cast<size_t>(blob->len))) {
        printf("parse CommItopReq error.\n");
        delete common_itop_req_ptr;
        return -1;
    }

    if (!worker->validate(common_itop_req_ptr->channelid())) {
        worker->invalid_empty += common_itop_req_ptr->channelid() == 0;
        if (worker->note_invalid())
            printf("invalid channelid in req.\n");
        return -1; // THE LEAK: common_itop_req_ptr is never deleted on this path
    }

    respond(worker, flow, *common_itop_req_ptr);
    if (g_recent_size) { // kept for the status page; the one it replaces goes
        itop_common::CommItopReq *&slot = g_recent_requests[g_recent_next++ % g_recent_size];
        delete slot;
        slot = common_itop_req_ptr;
        return 0;
    }
    delete common_itop_req_ptr;
    return 0;
}

// ---- the test traffic: what the article's joint-debugging environment kept sending -------

static constexpr int kInvalidChannel = 4099; // not configured
static constexpr int kInvalidEvery = 8;      // one request in 8 carries it
static constexpr int kEmptyEvery = 128;      // and one in 128 an empty channelid=, as the
                                             // article's 59 among 339,796 (another client)

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static constexpr size_t kBodyBytes = 1240;

// Request number seq: ~1.36 KB of text, the same for the same seq.
static std::string make_request(unsigned long seq)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t h = mix(seq + 1);
    char openid[29] = "o";
    for (int i = 1; i < 28; i++) {
        openid[i] = alphabet[h & 63];
        h = i % 9 == 0 ? mix(h + seq) : h >> 6;
    }
    int channel = seq % kInvalidEvery == kInvalidEvery - 1
                      ? kInvalidChannel
                      : Worker::kChannels[seq % std::size(Worker::kChannels)];
    char channel_text[16] = ""; /* empty in one request in kEmptyEvery */
    if (seq % kEmptyEvery != kEmptyEvery / 2)
        snprintf(channel_text, sizeof(channel_text), "%d", channel);

    char head[256];
    snprintf(head, sizeof(head), "openid=%s&channelid=%s&areaid=%d&platid=%d&partition=%lu"
             "&roleid=%llu&seq=%lu&ts=%lu&source=h5",
             openid, channel_text, 1 + static_cast<int>(seq % 2), static_cast<int>(seq % 3),
             1000 + seq % 97,
             static_cast<unsigned long long>(76500000000ULL + mix(seq) % 100000000ULL), seq,
             1635134468UL + seq / 2000);
    std::string body = head;
    body += "&item_list=";
    for (unsigned i = 0; i < 12; i++)
        body += std::to_string(10001 + (seq + i * 7) % 500) + "%3A" + std::to_string(1 + i) +
                (i < 11 ? "%7C" : "");
    body += "&extinfo=%7B%22device%22%3A%22android%22%2C%22os_ver%22%3A%2212%22%2C%22model%22"
            "%3A%22SM-G9910%22%2C%22net%22%3A%22wifi%22%2C%22lang%22%3A%22zh_CN%22%2C%22scene"
            "%22%3A%22activity_checkin%22%2C%22ref%22%3A%22https%3A%2F%2Fevent.example.com%2F"
            "act%2F2021%2Fcheckin%2Findex.html%3Fsrc%3Dshare%26from%3Dgroupmessage%22%7D";
    // An access token pads every body to the same length, so every object holds one request.
    body += "&access_token=";
    while (body.size() < kBodyBytes - 38) {
        h = mix(h + 1);
        for (int i = 0; i < 10 && body.size() < kBodyBytes - 38; i++, h >>= 6)
            body += alphabet[h & 63];
    }
    char sign[40];
    snprintf(sign, sizeof(sign), "&sign=%016llx%016llx",
             static_cast<unsigned long long>(mix(seq * 3)),
             static_cast<unsigned long long>(mix(seq * 5)));
    body += sign;

    std::string req = "POST /api/report HTTP/1.1\r\nHost: itop.example.com\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    return req + body;
}

// ---- the framework's loop -----------------------------------------------------------------

static volatile sig_atomic_t stop_requested, progress_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_progress(int sig)
{
    (void)sig;
    progress_requested = 1;
}

static unsigned long parse_count(const char *opt, const char *arg)
{
    char *end;
    errno = 0;
    unsigned long v = arg ? strtoul(arg, &end, 10) : 0;
    if (!arg || errno || end == arg || *end || arg[0] == '-') {
        fprintf(stderr, "spp_worker: %s needs a number\n", opt);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned long rate = 2000, limit = 0;
    bool hold = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rate")) {
            rate = parse_count(argv[i], argv[i + 1]);
            i++;
        } else if (!strcmp(argv[i], "--requests")) {
            limit = parse_count(argv[i], argv[i + 1]);
            i++;
        } else if (!strcmp(argv[i], "--hold")) {
            hold = true;
        } else if (!strcmp(argv[i], "--keep")) {
            g_recent_size = parse_count(argv[i], argv[i + 1]);
            i++;
        } else {
            fprintf(stderr, "usage: spp_worker [--rate N] [--requests N] [--hold] [--keep N]\n");
            return 2;
        }
    }
    if (g_recent_size &&
        !(g_recent_requests = static_cast<itop_common::CommItopReq **>(
              calloc(g_recent_size, sizeof(*g_recent_requests))))) {
        fprintf(stderr, "spp_worker: no memory for --keep %lu\n", g_recent_size);
        return 2;
    }

    struct sigaction sa = {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    sa.sa_handler = on_progress;
    sigaction(SIGUSR1, &sa, nullptr);

    // Batches every 10 ms (fewer, larger sleeps than one per request).
    unsigned long batch = rate >= 100 ? rate / 100 : 1;
    long long period_ns = rate ? 1000000000LL * static_cast<long long>(batch) /
                                     static_cast<long long>(rate)
                               : 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);

    Worker worker;
    unsigned long seq = 0;
    while (!stop_requested && (!limit || seq < limit)) {
        for (unsigned long i = 0; i < batch && (!limit || seq < limit); i++, seq++) {
            std::string packet = make_request(seq);
            blob_type blob = {static_cast<int>(packet.size()), packet.data()};
            spp_handle_process(static_cast<unsigned>(seq), &blob, &worker);
        }
        if (progress_requested) {
            progress_requested = 0;
            printf("spp_worker: %lu requests so far\n", seq);
            fflush(stdout);
        }
        if (period_ns) {
            next.tv_nsec += period_ns;
            next.tv_sec += next.tv_nsec / 1000000000;
            next.tv_nsec %= 1000000000;
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR &&
                   !stop_requested) {
            }
        }
    }

    printf("spp_worker: %lu requests, %lu answered, %lu rejected (invalid channelid, %lu of "
           "them empty)\n",
           worker.handled, worker.answered, worker.invalid, worker.invalid_empty);
    if (hold) {
        fflush(stdout);
        // The stop signals blocked but inside sigsuspend: one that comes between the test
        // and the wait (a debugger or leaktag-scan --freeze letting the process go restarts
        // the wait) would leave a pause() waiting for good.
        sigset_t stops, others;
        sigemptyset(&stops);
        sigaddset(&stops, SIGTERM);
        sigaddset(&stops, SIGINT);
        sigprocmask(SIG_BLOCK, &stops, &others);
        while (!stop_requested)
            sigsuspend(&others);
    }
    return 0;
}
