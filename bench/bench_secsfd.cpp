// secsfd against the in-process provider on the same token, in one run: EC P-256
// signing over the unix socket with keep-alive (1 and 4 concurrent clients, each on its
// own connection, every request audited durably before its answer), with p50/p99
// latency; the in-process figure signs with a fresh EVP context per operation, as TLS
// does. Then storage put/get rates and the resident memory 1,000 idle connections cost.
// run-bench.sh starts secsfd (BENCH_SECSFD_SOCK, BENCH_SECSFD_PID) and makes the key.
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

using namespace bench;

namespace {

const char kMsg[] = "a oneM2M request body of a typical size, signed by the node's key";

int connectTo(const std::string &path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (fd < 0 || connect(fd, (sockaddr *)&a, sizeof a) != 0) {
        perror("connect to secsfd");
        exit(3);
    }
    return fd;
}

// One request on a keep-alive connection; the status, the body in `body`.
int call(int fd, const std::string &method, const std::string &target, const std::string &payload, std::string &body) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: secsfd\r\nContent-Length: " +
                      std::to_string(payload.size()) + "\r\n\r\n" + payload;
    if (write(fd, req.data(), req.size()) != (ssize_t)req.size()) return -1;
    std::string in;
    char buf[8192];
    size_t headEnd;
    while ((headEnd = in.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return -1;
        in.append(buf, (size_t)n);
    }
    size_t cl = in.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : strtoul(in.c_str() + cl + 16, nullptr, 10);
    while (in.size() < headEnd + 4 + len) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return -1;
        in.append(buf, (size_t)n);
    }
    body = in.substr(headEnd + 4, len);
    return atoi(in.c_str() + 9);
}

std::string b64url(const unsigned char *p, size_t n) {
    static const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string o;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        o += t[v >> 18 & 63];
        o += t[v >> 12 & 63];
        if (i + 1 < n) o += t[v >> 6 & 63];
        if (i + 2 < n) o += t[v & 63];
    }
    return o;
}

struct Run {
    double rate = 0, p50 = 0, p99 = 0;
    bool ok = true;
};

// `threads` threads, each calling its own op() (made by opFor(thread)) for `seconds`;
// op() is one timed call, true when it succeeded. The rate and latency percentiles.
template <class OpFor> Run timed(int threads, double seconds, OpFor opFor) {
    std::vector<std::vector<double>> lat(threads);
    std::atomic<bool> ok{true};
    std::vector<std::thread> ts;
    auto t0 = Clock::now();
    for (int t = 0; t < threads; t++)
        ts.emplace_back([&, t] {
            auto op = opFor(t);
            while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
                auto a = Clock::now();
                if (!op()) ok = false;
                lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
            }
        });
    for (auto &t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto &l : lat) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    Run r;
    r.rate = all.size() / secs;
    r.p50 = all.empty() ? 0 : all[all.size() / 2];
    r.p99 = all.empty() ? 0 : all[all.size() * 99 / 100];
    r.ok = ok && !all.empty();
    return r;
}

// `threads` clients, each signing on its own connection.
Run viaSecsfd(const std::string &sock, int threads, double seconds) {
    std::string payload = "{\"data\": \"" + b64url((const unsigned char *)kMsg, strlen(kMsg)) + "\"}";
    std::string target = "/keys/CAE-bench/" + env("BENCH_SECSFD_KEY_NAME", "ec256") + "/sign";
    std::vector<int> fds(threads, -1);
    Run r = timed(threads, seconds, [&](int t) {
        fds[t] = connectTo(sock);
        return [&, fd = fds[t], body = std::string()]() mutable { return call(fd, "POST", target, payload, body) == 200; };
    });
    for (int fd : fds) close(fd);
    return r;
}

// The same key in this process through the provider, an EVP context per signature.
Run inProcess(EVP_PKEY *k, int threads, double seconds) {
    return timed(threads, seconds, [&](int) {
        return [k] {
            unsigned char sig[256];
            size_t n = sizeof sig;
            EVP_MD_CTX *c = EVP_MD_CTX_new();
            bool ok = EVP_DigestSignInit_ex(c, nullptr, "SHA256", nullptr, nullptr, k, nullptr) == 1 &&
                      EVP_DigestSign(c, sig, &n, (const unsigned char *)kMsg, strlen(kMsg)) == 1;
            EVP_MD_CTX_free(c);
            return ok;
        };
    });
}

long rssKiB(const std::string &pid) {
    std::ifstream f("/proc/" + pid + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return atol(line.c_str() + 6);
    return -1;
}

}  // namespace

int main() {
    std::string sock = env("BENCH_SECSFD_SOCK", ""), pid = env("BENCH_SECSFD_PID", "");
    double seconds = atof(env("BENCH_SECSFD_SECONDS", "3").c_str());
    if (sock.empty() || !loadConfigNow()) {
        fprintf(stderr, "bench_secsfd: run through make bench (BENCH_SECSFD_SOCK, OPENSSL_CONF)\n");
        return 2;
    }
    EVP_PKEY *k = loadStore(env("BENCH_SECSFD_KEY_URI", ""));
    if (!k) {
        fprintf(stderr, "bench_secsfd: cannot load the key in this process\n");
        return 2;
    }
    printf("secsfd: EC P-256 signatures over the unix socket (keep-alive, audit record durable per request)\n");
    printf("against the in-process provider on the same key (an EVP context per signature), %.0f s each\n\n", seconds);
    printf("%-8s %12s %9s %9s | %12s %9s %9s | %6s\n", "clients", "secsfd/s", "p50 ms", "p99 ms", "in-proc/s", "p50 ms",
           "p99 ms", "ratio");
    bool allOk = true;
    for (int threads : {1, 4}) {
        Run d = viaSecsfd(sock, threads, seconds);
        Run p = inProcess(k, threads, seconds);
        allOk = allOk && d.ok && p.ok;
        printf("%-8d %12.0f %9.2f %9.2f | %12.0f %9.2f %9.2f | %6.2f\n", threads, d.rate, d.p50, d.p99, p.rate, p.p50, p.p99,
               p.rate > 0 ? d.rate / p.rate : 0);
    }
    // Storage: put and get of a 256-byte object, one client.
    int fd = connectTo(sock);
    std::string body, value(256, 'v');
    int n = 0;
    double put = perSecond([&] { allOk = allOk && call(fd, "PUT", "/storage/CAE-bench/o" + std::to_string(n++ % 50), value, body) == 201; }, 200);
    double get = perSecond([&] { allOk = allOk && call(fd, "GET", "/storage/CAE-bench/o" + std::to_string(n++ % 50), "", body) == 200; }, 500);
    close(fd);
    printf("\nsecure storage, 256 bytes, one client: %.0f puts/s, %.0f gets/s\n", put, get);
    // Idle connections: what 1,000 cost, and that the daemon still answers.
    long before = pid.empty() ? -1 : rssKiB(pid);
    std::vector<int> idle;
    for (int i = 0; i < 1000; i++) {
        idle.push_back(connectTo(sock));
        if (i == 0 || i == 999) {
            call(idle.back(), "GET", "/health", "", body);  // the first and last are served
        }
    }
    usleep(300000);
    long after = pid.empty() ? -1 : rssKiB(pid);
    int fresh = connectTo(sock);
    bool answers = call(fresh, "GET", "/health", "", body) == 200;
    close(fresh);
    for (int f : idle) close(f);
    printf("1,000 idle connections: secsfd resident %ld -> %ld KiB (%.1f KiB each); it still answers: %s\n", before, after,
           (after - before) / 1000.0, answers ? "yes" : "NO");
    printf("\ntarget: secsfd >= 0.7x the in-process provider; all requests succeeded: %s\n", allOk && answers ? "yes" : "NO");
    EVP_PKEY_free(k);
    return allOk && answers ? 0 : 1;
}
