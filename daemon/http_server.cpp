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
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <type_traits>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api_call.h"
#include "secsf/error.h"

namespace secsf::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Local = net::local::stream_protocol;
using Tcp = net::ip::tcp;
using Stream = beast::basic_stream<Local>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {
// How long requests in progress may take to finish once a stop is asked for.
constexpr int kGraceSeconds = 20;

std::string lower(beast::string_view s) {
    std::string out(s.data(), s.size());
    for (char &c : out) c = (char)tolower((unsigned char)c);
    return out;
}
}  // namespace

// What a stop needs of any connection.
struct SessionBase {
    virtual ~SessionBase() = default;
    virtual void closeIfIdle() = 0;
    virtual net::any_io_executor executor() = 0;
};

namespace {
// The uniformResourceIdentifier names in a certificate's subjectAltName.
std::vector<std::string> uriNamesOf(X509 *cert) {
    std::vector<std::string> out;
    if (!cert) return out;
    auto *names = static_cast<GENERAL_NAMES *>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
        if (n->type != GEN_URI) continue;
        const ASN1_IA5STRING *u = n->d.uniformResourceIdentifier;
        out.emplace_back(reinterpret_cast<const char *>(ASN1_STRING_get0_data(u)), (size_t)ASN1_STRING_length(u));
    }
    GENERAL_NAMES_free(names);
    return out;
}
}  // namespace

template <class S> struct Session;

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
    std::map<SessionBase *, std::weak_ptr<SessionBase>> sessions;
    net::io_context ioc;
    std::optional<Local::acceptor> acceptor;
    std::optional<net::ssl::context> tls;
    std::optional<Tcp::acceptor> tlsAcceptor;
    net::signal_set signals{ioc};
    net::steady_timer grace{ioc};
    net::steady_timer retry{ioc};  // accepting again after an error

    void accept();
    void acceptTls();
    void acceptLater(const beast::error_code &ec, void (Impl::*again)());
    // A new connection, unless secsfd-max-connections are open.
    template <class S, class... A> std::shared_ptr<Session<S>> admit(A &&...args);
    void waitForSignal();
    void beginStop();
    void forget(SessionBase *s);
};

// One connection, on a unix socket (S = Stream) or over TLS (S = TlsStream).
template <class S> struct Session : SessionBase, std::enable_shared_from_this<Session<S>> {
    static constexpr bool kTls = !std::is_same<S, Stream>::value;
    HttpServer::Impl &srv;
    S stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    Peer peer;
    bool busy = false;  // from a request's header to its answer sent; on the strand

    Session(HttpServer::Impl &s, Local::socket &&sock) : srv(s), stream(std::move(sock)) {}
    Session(HttpServer::Impl &s, Tcp::socket &&sock, net::ssl::context &ctx) : srv(s), stream(std::move(sock), ctx) {}
    ~Session() override { srv.forget(this); }
    net::any_io_executor executor() override { return stream.get_executor(); }
    auto &lowest() { return beast::get_lowest_layer(stream); }

    void start() {
        if constexpr (kTls) {
            peer.tls = true;
            lowest().expires_after(std::chrono::seconds(srv.limits.requestSeconds));
            stream.async_handshake(net::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
                if (ec) return self->close();  // no certificate, or one the CA did not sign
                self->peer.certificateIds = uriNamesOf(SSL_get0_peer_certificate(self->stream.native_handle()));
                self->read();
            });
        } else {
            struct ucred cred {};
            socklen_t len = sizeof cred;
            if (getsockopt(lowest().socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                peer.pid = cred.pid;
                peer.uid = cred.uid;
                peer.gid = cred.gid;
            }  // else the peer stays uid -1, which nothing maps
            read();
        }
    }

    void read() {
        busy = false;
        if (srv.stopping) return close();
        parser.emplace();
        parser->header_limit((std::uint32_t)srv.limits.maxHeaderBytes);
        parser->body_limit(srv.limits.maxBodyBytes);
        lowest().expires_after(std::chrono::seconds(srv.limits.requestSeconds));
        http::async_read_header(stream, buffer, *parser,
                                beast::bind_front_handler(&Session::onHeader, this->shared_from_this()));
    }

    // A request has begun: from here it is in progress, and a stop lets it finish.
    void onHeader(beast::error_code ec, std::size_t n) {
        if (ec) return onRead(ec, n);
        busy = true;
        http::async_read(stream, buffer, *parser, beast::bind_front_handler(&Session::onRead, this->shared_from_this()));
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
            a = failure(500, 5000, "internal error");
        }
        send(a, req.version(), req.keep_alive() && !srv.stopping);
    }

    void refuse(int status, const std::string &why) {
        busy = true;
        send(failure(status, 4000, why), 11, false, true);
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
        lowest().expires_after(std::chrono::seconds(srv.limits.requestSeconds));
        http::async_write(stream, *res, [self = this->shared_from_this(), res, keep, drain](beast::error_code ec, std::size_t) {
            if (!ec && drain) return self->drainThenClose();
            if (ec || !keep) return self->close();
            self->read();
        });
    }

    void drainThenClose() {
        beast::error_code ec;
        if constexpr (!kTls) lowest().socket().shutdown(Local::socket::shutdown_send, ec);
        lowest().expires_after(std::chrono::seconds(2));  // all of the draining, however slow the client
        drain(std::make_shared<std::array<char, 16384>>());
    }

    void drain(std::shared_ptr<std::array<char, 16384>> scratch) {
        stream.async_read_some(net::buffer(*scratch), [self = this->shared_from_this(), scratch](beast::error_code e, std::size_t) {
            if (e) return self->close();
            self->drain(scratch);
        });
    }

    void close() {
        beast::error_code ec;
        lowest().socket().shutdown(net::socket_base::shutdown_both, ec);
        lowest().socket().close(ec);
    }

    void closeIfIdle() override {
        if (!busy) close();  // its read completes with an error and the session ends
    }
};

template <class S, class... A> std::shared_ptr<Session<S>> HttpServer::Impl::admit(A &&...args) {
    {
        std::lock_guard<std::mutex> g(mu);
        if (sessions.size() < limits.maxConnections) {
            auto s = std::make_shared<Session<S>>(*this, std::forward<A>(args)...);
            sessions[s.get()] = s;
            return s;
        }
    }
    // Closed at once; said at most once a second, whatever the flood.
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = lastRefusalLog.load();
    if (now - last > 1000000000LL && lastRefusalLog.compare_exchange_strong(last, now))
        fprintf(stderr, "secsfd: refusing connections: %zu are open (secsfd-max-connections)\n", limits.maxConnections);
    return nullptr;
}

// Out of descriptors (or memory): connections are let end before accepting again,
// instead of spinning on the error.
void HttpServer::Impl::acceptLater(const beast::error_code &ec, void (Impl::*again)()) {
    fprintf(stderr, "secsfd: cannot accept a connection: %s; trying again in 0.2 s\n", ec.message().c_str());
    retry.expires_after(std::chrono::milliseconds(200));
    retry.async_wait([this, again](beast::error_code e) {
        if (!e && !stopping) (this->*again)();
    });
}

void HttpServer::Impl::accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, Local::socket sock) {
        if (stopping) return;
        if (ec) return acceptLater(ec, &Impl::accept);
        if (auto s = admit<Stream>(std::move(sock))) net::post(s->executor(), [s] { s->start(); });
        accept();
    });
}

void HttpServer::Impl::acceptTls() {
    tlsAcceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, Tcp::socket sock) {
        if (stopping) return;
        if (ec) return acceptLater(ec, &Impl::acceptTls);
        if (auto s = admit<TlsStream>(std::move(sock), *tls)) net::post(s->executor(), [s] { s->start(); });
        acceptTls();
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
    if (tlsAcceptor) tlsAcceptor->close(ec);
    retry.cancel();
    if (!socketPath.empty()) unlink(socketPath.c_str());
    std::vector<std::shared_ptr<SessionBase>> live;
    {
        std::lock_guard<std::mutex> g(mu);
        for (auto &[p, w] : sessions)
            if (auto s = w.lock()) live.push_back(s);
    }
    for (auto &s : live) net::post(s->executor(), [s] { s->closeIfIdle(); });
    live.clear();
    grace.expires_after(std::chrono::seconds(kGraceSeconds));
    grace.async_wait([this](beast::error_code e) {
        if (e) return;
        fprintf(stderr, "secsfd: requests still in progress after %d s; stopping anyway\n", kGraceSeconds);
        ioc.stop();
    });
    forget(nullptr);  // maybe there was nothing to wait for
}

void HttpServer::Impl::forget(SessionBase *s) {
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

void HttpServer::listenTls(const std::string &address, EVP_PKEY *key, const std::string &certificateChain,
                           const std::string &clientCa) {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon + 1 == address.size())
        throw Error(Reason::Config, "secsfd-tls-listen = " + address + ": give ADDRESS:PORT, such as 127.0.0.1:8443");
    std::string host = address.substr(0, colon), port = address.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    beast::error_code ec;
    auto ip = net::ip::make_address(host, ec);
    if (ec) throw Error(Reason::Config, "secsfd-tls-listen = " + address + ": '" + host + "' is not an IP address");
    unsigned long p = strtoul(port.c_str(), nullptr, 10);
    if (p == 0 || p > 65535 || port.find_first_not_of("0123456789") != std::string::npos)
        throw Error(Reason::Config, "secsfd-tls-listen = " + address + ": the port must be 1 to 65535");
    impl_->tls.emplace(net::ssl::context::tls_server);
    SSL_CTX *c = impl_->tls->native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    auto fail = [&](const std::string &what) {
        throw Error(Reason::Config, what + " (" + std::string(ERR_reason_error_string(ERR_get_error()) ?: "?") + ")");
    };
    if (SSL_CTX_use_certificate_chain_file(c, certificateChain.c_str()) != 1)
        fail("cannot use secsfd-tls-certificate " + certificateChain);
    if (SSL_CTX_use_PrivateKey(c, key) != 1 || SSL_CTX_check_private_key(c) != 1)
        fail("secsfd-tls-key does not belong to secsfd-tls-certificate");
    if (SSL_CTX_load_verify_locations(c, clientCa.c_str(), nullptr) != 1) fail("cannot read secsfd-tls-client-ca " + clientCa);
    // Mutual TLS: no certificate from that CA, no connection.
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(clientCa.c_str());
    if (cas) SSL_CTX_set_client_CA_list(c, cas);
    try {
        impl_->tlsAcceptor.emplace(impl_->ioc);
        Tcp::endpoint ep(ip, (unsigned short)p);
        impl_->tlsAcceptor->open(ep.protocol());
        impl_->tlsAcceptor->set_option(net::socket_base::reuse_address(true));
        impl_->tlsAcceptor->bind(ep);
        impl_->tlsAcceptor->listen(net::socket_base::max_listen_connections);
    } catch (const boost::system::system_error &e) {
        throw Error(Reason::Config, "cannot listen on " + address + ": " + e.what());
    }
}

void HttpServer::run(std::function<void()> onHangup, const std::function<void()> &onReady) {
    impl_->onHangup = std::move(onHangup);
    impl_->signals.add(SIGTERM);
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGHUP);
    impl_->waitForSignal();
    impl_->accept();
    if (impl_->tlsAcceptor) impl_->acceptTls();
    if (onReady) onReady();
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
