// secsfd's HTTP/1.1 server on a unix socket (Boost.Beast over Asio): keep-alive, a
// limit on connections, header and body sizes, a deadline for every request (slow
// clients are dropped), the caller's credentials from the kernel, and a graceful stop
// (requests in progress finish; idle connections are closed).
#pragma once
#include <sys/types.h>

#include <openssl/evp.h>

#include <functional>
#include <memory>
#include <string>

#include "api.h"

namespace secsf::daemon {

struct Limits {
    size_t maxConnections = 1024;
    size_t maxHeaderBytes = 8 * 1024;
    size_t maxBodyBytes = 1024 * 1024;
    int requestSeconds = 30;  // to receive one whole request, and to idle between requests
    int threads = 4;
};

class HttpServer {
public:
    using Handler = std::function<ApiResponse(const ApiRequest &, const Peer &)>;
    HttpServer(Limits limits, Handler handler);
    ~HttpServer();
    // Binds and listens: an existing socket file is replaced only when no process
    // listens on it. Throws Error(Config) with the reason.
    void listenUnix(const std::string &path, mode_t mode);
    // Serves on a listening unix socket someone else made (systemd socket activation:
    // descriptor 3). It is not removed on stop.
    void listenOn(int fd);
    // HTTPS with mutual TLS on ADDRESS:PORT: the server's key (an SE key through the
    // provider) and certificate chain, and the CA whose client certificates are taken.
    // Throws Error(Config).
    void listenTls(const std::string &address, EVP_PKEY *key, const std::string &certificateChain,
                   const std::string &clientCa);
    // Serves until stop(); SIGTERM and SIGINT stop, SIGHUP calls onHangup. onReady is
    // called once the signals are taken and the sockets accept.
    void run(std::function<void()> onHangup, const std::function<void()> &onReady);
    // Stops accepting, closes idle connections, lets requests in progress finish
    // (at most `graceSeconds`), then run() returns.
    void stop();

    struct Impl;  // and its connections, in http_server.cpp

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace secsf::daemon
