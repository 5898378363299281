// secsfd: the Security CSF as a service. It holds the Secure Environments' credentials
// and serves the Security CSF API on a unix socket to callers the kernel identifies.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../se-plugins/config_file.h"
#include "../se-plugins/config_values.h"
#include "../services/jose.h"
#include "api.h"
#include "http_server.h"
#include "secsf/error.h"

using namespace secsf;
using namespace secsf::daemon;

namespace {

const char kHelp[] =
    "Usage: secsfd [--config FILE] [--socket PATH] [--check]\n"
    "\n"
    "The oneM2M Security CSF as a service: serves the Secure Environments that the\n"
    "secsf section of openssl.cnf declares (keys, sensitive functions, secure storage)\n"
    "over HTTP/1.1 on a unix socket. The caller's identity comes from the kernel\n"
    "(SO_PEERCRED), mapped to an AE-ID or CSE-ID by secsfd-callers; an unmapped caller\n"
    "is refused, and the access policy (access-policy) is enforced on that identity.\n"
    "\n"
    "Options:\n"
    "  --config FILE   openssl.cnf to read (default: $OPENSSL_CONF, else OpenSSL's)\n"
    "  --socket PATH   listen here instead of secsfd-socket\n"
    "  --check         read the configuration, build the SEs and the caller map, and\n"
    "                  exit: 0 when secsfd would start\n"
    "  --help          this text\n"
    "  --version       the version\n"
    "\n"
    "Keys in the secsf section (besides those of the provider):\n"
    "  secsfd-socket              default /run/secsf/secsfd.sock\n"
    "  secsfd-socket-mode         octal, default 0666: who may connect at all; who may\n"
    "                             do what is decided by secsfd-callers and the policy\n"
    "  secsfd-callers             uid:N=ID, user:NAME=ID, gid:N=ID, group:NAME=ID, ...\n"
    "                             (a uid entry wins over a gid entry)\n"
    "  secsfd-max-connections     default 1024\n"
    "  secsfd-max-header-bytes    default 8192\n"
    "  secsfd-max-body-bytes      default 1048576\n"
    "  secsfd-request-timeout     seconds to send one request, default 30\n"
    "  secsfd-threads             default 4\n"
    "  secsfd-tls-listen          ADDRESS:PORT for HTTPS with client certificates, with\n"
    "  secsfd-tls-key             the server's key (a key URI in an SE),\n"
    "  secsfd-tls-certificate     its certificate chain (PEM) and\n"
    "  secsfd-tls-client-ca       the CA (PEM) whose client certificates are taken; the\n"
    "                             caller is the one URI in the certificate's\n"
    "                             subjectAltName (its AE-ID or CSE-ID)\n"
    "  secsfd-state-dir           where secsfd records who owns which key it made,\n"
    "                             and keeps its audit log; default /var/lib/secsf\n"
    "  secsfd-audit-log           default STATE-DIR/secsfd-audit.log: every request\n"
    "                             (caller, request, outcome), durable before its answer\n"
    "  secsfd-audit-key           a key URI to sign the log's checkpoints; default: a\n"
    "                             key secsfd makes once; its public key is written\n"
    "                             beside the log (LOG.pub) for auditors\n"
    "\n"
    "Resources: GET /health, GET /se, GET /functions, GET /random?bytes=N,\n"
    "GET /storage/OWNER, PUT|GET|DELETE /storage/OWNER/NAME, GET /keys/OWNER,\n"
    "PUT|GET|DELETE /keys/OWNER/NAME, POST /keys/OWNER/NAME/sign|decrypt|derive,\n"
    "GET /secrets/OWNER, PUT|DELETE /secrets/OWNER/NAME, POST /secrets/OWNER/NAME/hmac|derive\n"
    "(percent-encode a CSE-ID's '/'). Responses carry X-M2M-RSC; X-M2M-RI is echoed;\n"
    "an X-M2M-Origin that is not the caller's identity is refused (403, 4103).\n"
    "\n"
    "Started by systemd with a socket (secsfd.socket), it serves on that socket and\n"
    "ignores secsfd-socket.\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop (requests in progress finish, at most 20 s; a\n"
    "second one stops at once), SIGHUP reads the access policy and secsfd-callers again.\n"
    "Exit status: 0 stopped cleanly, 1 could not start (the reason on stderr), 2 usage.\n";

Limits limitsFrom(const ConfigFile &c) {
    Limits l;
    auto count = [&](const char *key, uint64_t min, uint64_t max, uint64_t dflt) {
        std::string v = c.get(key);
        return v.empty() ? dflt : parseCount(key, v, min, max);
    };
    l.maxConnections = count("secsfd-max-connections", 1, 100000, l.maxConnections);
    l.maxHeaderBytes = count("secsfd-max-header-bytes", 1024, 1024 * 1024, l.maxHeaderBytes);
    l.maxBodyBytes = count("secsfd-max-body-bytes", 1, 64 * 1024 * 1024, l.maxBodyBytes);
    l.threads = (int)count("secsfd-threads", 1, 256, (uint64_t)l.threads);
    if (!c.get("secsfd-request-timeout").empty()) l.requestSeconds = parseSeconds("secsfd-request-timeout", c.get("secsfd-request-timeout"));
    return l;
}

mode_t socketModeFrom(const ConfigFile &c) {
    std::string v = c.get("secsfd-socket-mode");
    if (v.empty()) return 0666;
    char *end = nullptr;
    unsigned long m = strtoul(v.c_str(), &end, 8);
    if (!end || *end || m > 0777) throw Error(Reason::Config, "secsfd-socket-mode = " + v + ": an octal mode such as 0660");
    return (mode_t)m;
}

// systemd socket activation (sd_listen_fds(3)): one socket, descriptor 3, for us.
bool activatedSocket() {
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || atol(pid) != (long)getpid()) return false;
    if (atoi(fds) != 1) throw Error(Reason::Config, "systemd passed " + std::string(fds) + " sockets; secsfd takes one");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    int flags = fcntl(3, F_GETFD);
    if (flags >= 0) fcntl(3, F_SETFD, flags | FD_CLOEXEC);
    return true;
}

// systemd's readiness protocol (sd_notify(3)), for Type=notify: one datagram.
void notifySystemd(const char *state) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path || strlen(path) >= sizeof(sockaddr_un{}.sun_path)) return;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (a.sun_path[0] == '@') a.sun_path[0] = '\0';  // an abstract socket
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sendto(fd, state, strlen(state), MSG_NOSIGNAL, (sockaddr *)&a,
           (socklen_t)(offsetof(sockaddr_un, sun_path) + strlen(path)));
    close(fd);
}

}  // namespace

int main(int argc, char **argv) {
    std::string configPath, socketPath;
    bool checkOnly = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            fputs(kHelp, stdout);
            return 0;
        } else if (a == "--version") {
            printf("secsfd %s\n", PACKAGE_VERSION);
            return 0;
        } else if (a == "--check") {
            checkOnly = true;
        } else if ((a == "--config" || a == "--socket") && i + 1 < argc) {
            (a == "--config" ? configPath : socketPath) = argv[++i];
        } else {
            fprintf(stderr, "secsfd: unknown or incomplete option '%s'\n%s", a.c_str(), kHelp);
            return 2;
        }
    }
    // The secsf provider (for the audit log's key, and TLS keys) loads from the same
    // file: OpenSSL reads OPENSSL_CONF when it first initialises.
    if (!configPath.empty()) setenv("OPENSSL_CONF", configPath.c_str(), 1);
    // One descriptor per connection: as many as the hard limit allows.
    struct rlimit nofile {};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    try {
        ConfigFile config = loadConfig(configPath);
        if (socketPath.empty()) socketPath = config.get("secsfd-socket");
        if (socketPath.empty()) socketPath = "/run/secsf/secsfd.sock";
        Limits limits = limitsFrom(config);
        mode_t mode = socketModeFrom(config);
        Api api(config);
        if (checkOnly) {
            printf("secsfd: %s is usable; would listen on %s\n", config.path.c_str(), socketPath.c_str());
            return 0;
        }
        HttpServer server(limits, [&api](const ApiRequest &r, const Peer &p) { return api.handle(r, p); });
        if (!config.get("secsfd-tls-listen").empty()) {
            std::string keyUri = config.get("secsfd-tls-key"), cert = config.get("secsfd-tls-certificate"),
                        ca = config.get("secsfd-tls-client-ca");
            if (keyUri.empty() || cert.empty() || ca.empty())
                throw Error(Reason::Config, "secsfd-tls-listen needs secsfd-tls-key, secsfd-tls-certificate and secsfd-tls-client-ca");
            // Through the secsf provider: the key stays in its SE.
            svc::JoseKey key;
            try {
                key = svc::JoseKey::load(keyUri);
            } catch (const Error &e) {
                throw Error(Reason::Config, std::string("secsfd-tls-key: ") + e.what());
            }
            server.listenTls(config.get("secsfd-tls-listen"), key.pkey(), cert, ca);
            fprintf(stderr, "secsfd: serving HTTPS (client certificates from %s) on %s\n", ca.c_str(),
                    config.get("secsfd-tls-listen").c_str());
        }
        if (activatedSocket()) {
            server.listenOn(3);
            fprintf(stderr, "secsfd: serving %s on the socket systemd passed\n", config.path.c_str());
        } else {
            server.listenUnix(socketPath, mode);
            fprintf(stderr, "secsfd: serving %s on %s\n", config.path.c_str(), socketPath.c_str());
        }
        server.run([&api] {
            try {
                api.reload();
                fprintf(stderr, "secsfd: SIGHUP: access policy and callers read again\n");
            } catch (const std::exception &e) {
                fprintf(stderr, "secsfd: SIGHUP: kept the previous policy and callers: %s\n", e.what());
            }
        }, [] { notifySystemd("READY=1"); });
        notifySystemd("STOPPING=1");
        fprintf(stderr, "secsfd: stopped\n");
        return 0;
    } catch (const std::exception &e) {
        fprintf(stderr, "secsfd: %s\n", e.what());
        return 1;
    }
}
