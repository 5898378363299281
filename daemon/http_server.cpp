#include "http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "secsf/error.h"

namespace secsf::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = net::local::stream_protocol;
using Stream = beast::basic_stream<Local>;

namespace {
// How long requests in progress may take to finish once a stop is asked for.
constexpr int kGraceSeconds = 20;

std::string lower(beast::string_view s) {
    std::string out(s.data(), s.size());
    for (char &c : out) c = (char)tolower((unsigned char)c);
    return out;
}
}  // namespace

struct Session;

struct HttpServer::Impl {
    Limits limits;
    Handler handler;
    std::string socketPath;
    std::function<void()> onHangup;
    std::atomic<bool> stopping{false};
    std::atomic<bool> finished{false};  // run() has returned: nothing more is posted
    std::atomic<long long> lastRefusalLog{0};  // steady-clock ticks
    // Declared before the io_context: sessions its destructor frees still find them.
    std::mutex mu;  // below
    std::map<Session *, std::weak_ptr<Session>> sessions;
    net::io_context ioc;
    std::optional<Local::acceptor> acceptor;
    net::signal_set signals{ioc};
    net::steady_timer grace{ioc};
    net::steady_timer retry{ioc};  // accepting again after an error

    void accept();
    void waitForSignal();
    void beginStop();
    void forget(Session *s);
};

struct Session : std::enable_shared_from_this<Session> {
    HttpServer::Impl &srv;
    Stream stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    Peer peer;
    bool busy = false;  // between a whole request and its answer sent; on the strand

    Session(HttpServer::Impl &s, Local::socket &&sock) : srv(s), stream(std::move(sock)) {}
    ~Session() { srv.forget(this); }

    void start() {
        struct ucred cred {};
        socklen_t len = sizeof cred;
        if (getsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            peer.pid = cred.pid;
            peer.uid = cred.uid;
            peer.gid = cred.gid;
        }  // else the peer stays uid -1, which nothing maps
        read();
    }

    void read() {
        busy = false;
        if (srv.stopping) return close();
        parser.emplace();
        parser->header_limit((std::uint32_t)srv.limits.maxHeaderBytes);
        parser->body_limit(srv.limits.maxBodyBytes);
        stream.expires_after(std::chrono::seconds(srv.limits.requestSeconds));
        http::async_read(stream, buffer, *parser, beast::bind_front_handler(&Session::onRead, shared_from_this()));
    }

    void onRead(beast::error_code ec, std::size_t) {
        if (ec == http::error::body_limit)
            return refuse(413, "the body is larger than " + std::to_string(srv.limits.maxBodyBytes) +
                                   " bytes (secsfd-max-body-bytes)");
        if (ec == http::error::header_limit)
            return refuse(431, "the header is larger than " + std::to_string(srv.limits.maxHeaderBytes) +
                                   " bytes (secsfd-max-header-bytes)");
        if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message)
            return refuse(400, "malformed HTTP request (" + ec.message() + ")");
        if (ec) return close();  // closed, reset, timed out (a slow client) or stopped
        busy = true;
        http::request<http::string_body> req = parser->release();
        ApiRequest r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (auto &f : req) {
            std::string name = lower(f.name_string());
            // A second X-M2M-Origin could say something else than the one checked.
            if (r.headers.count(name) && name.compare(0, 6, "x-m2m-") == 0)
                return refuse(400, "the header " + std::string(f.name_string()) + " is given twice");
            r.headers.emplace(name, std::string(f.value()));
        }
        r.body = std::move(req.body());
        ApiResponse a;
        try {
            a = srv.handler(r, peer);
        } catch (...) {
            a.status = 500;
            a.rsc = 5000;
            a.body = "{\"error\":\"internal error\",\"rsc\":5000}\n";
        }
        send(a, req.version(), req.keep_alive() && !srv.stopping);
    }

    void refuse(int status, const std::string &why) {
        busy = true;
        ApiResponse a;
        a.status = status;
        a.rsc = 4000;
        std::string text;
        for (char c : why) text += (c == '"' || c == '\\') ? '\'' : c;
        a.body = "{\"error\":\"" + text + "\",\"rsc\":4000}\n";
        send(a, 11, false, true);
    }

    // drain: the client may still be sending what was refused; closing with unread
    // bytes would reset the connection and lose the answer, so they are read first.
    void send(const ApiResponse &a, unsigned version, bool keep, bool drain = false) {
        auto res = std::make_shared<http::response<http::string_body>>((http::status)a.status, version);
        res->set(http::field::server, "secsfd");
        res->set(http::field::content_type, a.contentType);
        res->set("X-M2M-RSC", std::to_string(a.rsc));
        for (auto &[k, v] : a.headers) res->set(k, v);
        res->body() = a.body;
        res->keep_alive(keep);
        res->prepare_payload();
        stream.expires_after(std::chrono::seconds(srv.limits.requestSeconds));
        http::async_write(stream, *res, [self = shared_from_this(), res, keep, drain](beast::error_code ec, std::size_t) {
            if (!ec && drain) return self->drainThenClose();
            if (ec || !keep) return self->close();
            self->read();
        });
    }

    void drainThenClose() {
        beast::error_code ec;
        stream.socket().shutdown(Local::socket::shutdown_send, ec);
        stream.expires_after(std::chrono::seconds(2));  // all of the draining, however slow the client
        drain(std::make_shared<std::array<char, 16384>>());
    }

    void drain(std::shared_ptr<std::array<char, 16384>> scratch) {
        stream.async_read_some(net::buffer(*scratch), [self = shared_from_this(), scratch](beast::error_code e, std::size_t) {
            if (e) return self->close();
            self->drain(scratch);
        });
    }

    void close() {
        beast::error_code ec;
        stream.socket().shutdown(Local::socket::shutdown_both, ec);
        stream.socket().close(ec);
    }

    void closeIfIdle() {
        if (!busy) close();  // its read completes with an error and the session ends
    }
};

void HttpServer::Impl::accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, Local::socket sock) {
        if (stopping) return;
        if (ec) {
            // Out of descriptors (or memory): let connections end before trying again
            // instead of spinning on the error.
            fprintf(stderr, "secsfd: cannot accept a connection: %s; trying again in 0.2 s\n", ec.message().c_str());
            retry.expires_after(std::chrono::milliseconds(200));
            retry.async_wait([this](beast::error_code e) {
                if (!e && !stopping) accept();
            });
            return;
        } else {
            std::shared_ptr<Session> s;
            {
                std::lock_guard<std::mutex> g(mu);
                if (sessions.size() < limits.maxConnections) {
                    s = std::make_shared<Session>(*this, std::move(sock));
                    sessions[s.get()] = s;
                }
            }
            if (s) {
                net::post(s->stream.get_executor(), [s] { s->start(); });
            } else {
                // Closed at once; said at most once a second, whatever the flood.
                auto now = std::chrono::steady_clock::now().time_since_epoch().count();
                auto last = lastRefusalLog.load();
                if (now - last > 1000000000LL && lastRefusalLog.compare_exchange_strong(last, now))
                    fprintf(stderr, "secsfd: refusing connections: %zu are open (secsfd-max-connections)\n",
                            limits.maxConnections);
            }
        }
        accept();
    });
}

void HttpServer::Impl::waitForSignal() {
    signals.async_wait([this](beast::error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            if (onHangup) onHangup();
        } else if (stopping) {
            ioc.stop();  // a second SIGTERM: do not wait for requests in progress
            return;
        } else {
            beginStop();
        }
        waitForSignal();
    });
}

void HttpServer::Impl::beginStop() {
    if (stopping.exchange(true)) return;
    beast::error_code ec;
    acceptor->close(ec);
    retry.cancel();
    if (!socketPath.empty()) unlink(socketPath.c_str());
    std::vector<std::shared_ptr<Session>> live;
    {
        std::lock_guard<std::mutex> g(mu);
        for (auto &[p, w] : sessions)
            if (auto s = w.lock()) live.push_back(s);
    }
    for (auto &s : live) net::post(s->stream.get_executor(), [s] { s->closeIfIdle(); });
    live.clear();
    grace.expires_after(std::chrono::seconds(kGraceSeconds));
    grace.async_wait([this](beast::error_code e) {
        if (e) return;
        fprintf(stderr, "secsfd: requests still in progress after %d s; stopping anyway\n", kGraceSeconds);
        ioc.stop();
    });
    forget(nullptr);  // maybe there was nothing to wait for
}

void HttpServer::Impl::forget(Session *s) {
    std::lock_guard<std::mutex> g(mu);
    if (s) sessions.erase(s);
    if (stopping && sessions.empty() && !finished) net::post(ioc, [this] { ioc.stop(); });
}

HttpServer::HttpServer(Limits limits, Handler handler) : impl_(std::make_unique<Impl>()) {
    impl_->limits = limits;
    impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() {
    if (!impl_->socketPath.empty() && !impl_->stopping) unlink(impl_->socketPath.c_str());
}

void HttpServer::listenUnix(const std::string &path, mode_t mode) {
    if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
        throw Error(Reason::Config, "the socket path '" + path + "' is empty or longer than 107 bytes");
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) throw Error(Reason::Config, path + " exists and is not a socket: secsfd will not replace it");
        // A socket file: in use when a server answers on it, else left by a process that died.
        Local::socket probe(impl_->ioc);
        beast::error_code ec;
        probe.connect(Local::endpoint(path), ec);
        if (!ec) throw Error(Reason::Config, "another server is listening on " + path);
        unlink(path.c_str());
    }
    try {
        impl_->acceptor.emplace(impl_->ioc);
        impl_->acceptor->open(Local());
        mode_t old = umask((~mode) & 0777);  // the socket is made with its mode, never wider
        beast::error_code ec;
        impl_->acceptor->bind(Local::endpoint(path), ec);
        umask(old);
        if (ec) throw Error(Reason::Config, "cannot bind " + path + ": " + ec.message());
        impl_->acceptor->listen(net::socket_base::max_listen_connections);
    } catch (const boost::system::system_error &e) {
        throw Error(Reason::Config, "cannot listen on " + path + ": " + e.what());
    }
    impl_->socketPath = path;
}

void HttpServer::listenOn(int fd) {
    try {
        impl_->acceptor.emplace(impl_->ioc);
        impl_->acceptor->assign(Local(), fd);
    } catch (const boost::system::system_error &e) {
        throw Error(Reason::Config, "cannot serve on the socket systemd passed (descriptor " + std::to_string(fd) +
                                        "): " + e.what());
    }
}

void HttpServer::run(std::function<void()> onHangup) {
    impl_->onHangup = std::move(onHangup);
    impl_->signals.add(SIGTERM);
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGHUP);
    impl_->waitForSignal();
    impl_->accept();
    std::vector<std::thread> threads;
    for (int i = 1; i < impl_->limits.threads; i++) threads.emplace_back([this] { impl_->ioc.run(); });
    impl_->ioc.run();
    for (auto &t : threads) t.join();
    impl_->finished = true;
}

void HttpServer::stop() {
    net::post(impl_->ioc, [this] { impl_->beginStop(); });
}

}  // namespace secsf::daemon
