// Provisioning and the association handshake over real TLS on 127.0.0.1: remote
// provisioning between a node (key in token node2) and an MEF (key in token node1),
// Ke from the TLS exporter straight into each SE, Km and Kpsa derived there; then the
// PSK framework answered by the openssl CLI (s_client -psk_identity ...), and the
// certificate framework with an SE key.
#include <arpa/inet.h>
#include <cppunit/extensions/HelperMacros.h>
#include <netinet/in.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include "../../services/association.h"
#include "../../services/provisioning.h"
#include "fixture.h"
#include "service_fixture.h"
#include "secsf/error.h"

using namespace testfix;
using namespace secsf::svc;

namespace {

std::string node2Where() { return "pkcs11:token=node2?pin-source=file:" + pinFile("node2"); }

EVP_PKEY *pkeyInSe(const std::string &label, const std::string &where) {
    EVP_PKEY *k = genEcKey(label, where);
    CPPUNIT_ASSERT_MESSAGE(errors(), k);
    return k;
}

// A self-signed certificate made by the SE key, written as PEM.
std::string selfSigned(EVP_PKEY *key, const std::string &cn) {
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_set_version(x, 2);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn.c_str(), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    CPPUNIT_ASSERT_MESSAGE(errors(), X509_sign(x, key, EVP_sha256()) > 0);
    std::string path = workDir() + "/" + cn + ".crt";
    FILE *f = fopen(path.c_str(), "w");
    PEM_write_X509(f, x);
    fclose(f);
    X509_free(x);
    return path;
}

int listenLoopback(int &port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a);
    listen(s, 4);
    // A test that fails half-way must not leave a thread waiting in accept() forever.
    timeval tv{30, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    socklen_t n = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr *>(&a), &n);
    port = ntohs(a.sin_port);
    return s;
}

int connectLoopback(int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a);
    return s;
}

SSL_CTX *mutualCtx(bool server, EVP_PKEY *key, const std::string &cert, const std::string &peerCert) {
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    SSL_CTX_use_certificate_file(c, cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey(c, key);
    SSL_CTX_load_verify_locations(c, peerCert.c_str(), nullptr);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    return c;
}

std::string hex(const secsf::SecureBytes &b) {
    static const char d[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) s += d[c >> 4], s += d[c & 15];
    return s;
}

// The openssl CLI as the other end; its exit status and output.
int cli(const std::string &args, std::string &out) {
    std::string cmd = "OPENSSL_CONF=/dev/null timeout 20 openssl " + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    out.clear();
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    return pclose(p);
}

struct Provisioned {
    ProvisionedKey ke;
    secsf::SecureBytes kpsa;
};

}  // namespace

class ProvisioningTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ProvisioningTest);
    CPPUNIT_TEST(remoteProvisioningOverMutualTls);
    CPPUNIT_TEST(remoteProvisioningNeedsMutualAuthentication);
    CPPUNIT_TEST(preProvisionedKeyHasALifetime);
    CPPUNIT_TEST(identifiersInThePublishedFormats);
    CPPUNIT_TEST(pskAssociationWithTheOpensslCli);
    CPPUNIT_TEST(certificateAssociationWithAnSeKey);
    CPPUNIT_TEST_SUITE_END();

public:
    void remoteProvisioningOverMutualTls() {
        EVP_PKEY *mefKey = pkeyInSe("mef-tls", ""), *nodeKey = pkeyInSe("node-tls", node2Where());
        std::string mefCert = selfSigned(mefKey, "mef.sp.example"), nodeCert = selfSigned(nodeKey, "node7");
        SSL_CTX *sctx = mutualCtx(true, mefKey, mefCert, nodeCert), *cctx = mutualCtx(false, nodeKey, nodeCert, mefCert);
        int port = 0, ls = listenLoopback(port);
        auto mefRepo = openSqliteRepository(workDir() + "/mef-prov.db");
        auto nodeRepo = openSqliteRepository(workDir() + "/node-prov.db");
        // The MEF end, in its own thread with its own SE token.
        auto mef = std::async(std::launch::async, [&] {
            int s = accept(ls, nullptr, nullptr);
            SSL *ssl = SSL_new(sctx);
            SSL_set_fd(ssl, s);
            Provisioned out;
            if (SSL_accept(ssl) == 1) {
                Provisioner p({"", "mef-", testClock()}, *mefRepo);
                out.ke = p.enrolmentKeyFromTls(ssl, "mef.sp.example", 3600);
                out.kpsa = p.kpsaForTls(out.ke, "CSE-in");
            }
            SSL_shutdown(ssl);
            SSL_free(ssl);
            close(s);
            return out;
        });
        int s = connectLoopback(port);
        SSL *ssl = SSL_new(cctx);
        SSL_set_fd(ssl, s);
        CPPUNIT_ASSERT_MESSAGE(errors(), SSL_connect(ssl) == 1);
        Provisioner node({node2Where(), "node7-", testClock()}, *nodeRepo);
        ProvisionedKey ke = node.enrolmentKeyFromTls(ssl, "mef.sp.example", 3600);
        SSL_shutdown(ssl);
        SSL_free(ssl);
        close(s);
        Provisioned theirs = mef.get();
        close(ls);
        // Same Ke on both ends (its identifier, and what each SE derives from it).
        CPPUNIT_ASSERT_EQUAL(theirs.ke.id, ke.id);
        CPPUNIT_ASSERT(ke.uri.compare(0, 7, "pkcs11:") == 0 && ke.uri.find("node2") != std::string::npos);
        CPPUNIT_ASSERT(theirs.ke.uri.find("node1") != std::string::npos);
        CPPUNIT_ASSERT(node.kpsaForTls(ke, "CSE-in") == theirs.kpsa);
        CPPUNIT_ASSERT(node.kpsaForTls(ke, "CSE-other") != theirs.kpsa);
        // Km and Kpsa stored in the SE with their identifiers.
        ProvisionedKey km = node.deriveKm(ke, "maf.sp.example");
        ProvisionedKey kpsa = node.deriveKpsa(ke, "CSE-in", "sp.example");
        CPPUNIT_ASSERT_EQUAL(ke.id.substr(0, 32) + "@maf.sp.example", km.id);
        CPPUNIT_ASSERT_EQUAL("12-" + kpsa.id, kpsa.credentialId);
        CPPUNIT_ASSERT(km.uri.find("type=secret-key") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(ke.expires, kpsa.expires);  // never outlives Ke
        // The stored Km is usable in the SE (a derivation from it succeeds).
        EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "ONEM2M-KDF", nullptr);
        EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
        unsigned char out[32];
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("mode", (char *)"Km", 0),
                               OSSL_PARAM_construct_utf8_string("key-uri", (char *)km.uri.c_str(), 0),
                               OSSL_PARAM_construct_utf8_string("id", (char *)"x.example", 0), OSSL_PARAM_construct_end()};
        CPPUNIT_ASSERT_MESSAGE(errors(), EVP_KDF_derive(kc, out, sizeof out, params) > 0);
        EVP_KDF_CTX_free(kc);
        EVP_KDF_free(kdf);
        // Expired Ke: nothing more is derived from it.
        gNow += 3601;
        CPPUNIT_ASSERT(!node.valid(ke));
        CPPUNIT_ASSERT_THROW(node.deriveKpsa(ke, "CSE-in", "sp.example"), secsf::Error);
        gNow -= 3601;
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
        EVP_PKEY_free(mefKey);
        EVP_PKEY_free(nodeKey);
    }
    void remoteProvisioningNeedsMutualAuthentication() {
        EVP_PKEY *mefKey = pkeyInSe("mef-tls2", "");
        std::string mefCert = selfSigned(mefKey, "mef2.sp.example");
        SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate_file(sctx, mefCert.c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey(sctx, mefKey);
        SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
        int port = 0, ls = listenLoopback(port);
        auto repo = openSqliteRepository(workDir() + "/mef-prov2.db");
        auto mef = std::async(std::launch::async, [&] {
            int s = accept(ls, nullptr, nullptr);
            SSL *ssl = SSL_new(sctx);
            SSL_set_fd(ssl, s);
            std::string why = "handshake failed";
            if (SSL_accept(ssl) == 1) {
                try {
                    Provisioner({"", "mef-", testClock()}, *repo).enrolmentKeyFromTls(ssl, "mef.sp.example", 60);
                    why = "accepted";
                } catch (const secsf::Error &e) {
                    why = e.what();
                }
            }
            SSL_free(ssl);
            close(s);
            return why;
        });
        int s = connectLoopback(port);
        SSL *ssl = SSL_new(cctx);
        SSL_set_fd(ssl, s);
        SSL_connect(ssl);
        std::string why = mef.get();
        SSL_free(ssl);
        close(s);
        close(ls);
        CPPUNIT_ASSERT_MESSAGE(why, why.find("mutual authentication") != std::string::npos);
        SSL_CTX_free(sctx);
        SSL_CTX_free(cctx);
        EVP_PKEY_free(mefKey);
    }
    void preProvisionedKeyHasALifetime() {
        auto repo = openSqliteRepository(workDir() + "/pre.db");
        Provisioner p({"", "pre-", testClock()}, *repo);
        ProvisionedKey k = p.preProvision(secsf::SecureBytes(32, 0x5a), "factory1@mef.sp.example", 10, 100);
        CPPUNIT_ASSERT_EQUAL(std::string("10-factory1@mef.sp.example"), k.credentialId);
        CPPUNIT_ASSERT(p.valid(k));
        secsf::SecureBytes a = p.kpsaForTls(k, "CSE-in");
        CPPUNIT_ASSERT_EQUAL((size_t)32, a.size());
        gNow += 101;
        CPPUNIT_ASSERT(!p.valid(k));
        CPPUNIT_ASSERT_THROW(p.kpsaForTls(k, "CSE-in"), secsf::Error);
        gNow -= 101;
        CPPUNIT_ASSERT_THROW(p.preProvision(secsf::SecureBytes(8, 1), "short@x", 10, 100), secsf::Error);
    }
    void identifiersInThePublishedFormats() {
        CPPUNIT_ASSERT_EQUAL(std::string("00FF10@mef.example"), keId({0x00, 0xff, 0x10}, "mef.example"));
        CPPUNIT_ASSERT_EQUAL(std::string("12-node7@sp.example"), credentialId(12, "node7@sp.example"));
        CPPUNIT_ASSERT_THROW(keId({1}, "bad host/"), secsf::Error);
        CPPUNIT_ASSERT_THROW(keId({1}, ""), secsf::Error);
    }
    void pskAssociationWithTheOpensslCli() {
        // Entity B in this process; Entity A is the openssl CLI with the same Kpsa.
        secsf::SecureBytes kpsa(32);
        for (size_t i = 0; i < kpsa.size(); i++) kpsa[i] = (unsigned char)(i * 7 + 1);
        const std::string id = "kpsa7@sp.example", host = "cse-in.sp.example";
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        int64_t credentialEnd = gNow + 600;
        configurePskRegistrar(ctx, host, [&](const std::string &who) -> std::optional<PskEntry> {
            if (who != id) return std::nullopt;
            return PskEntry{id, kpsa, credentialEnd};
        }, testClock());
        auto serve = [&](int rounds) {
            int port = 0, ls = listenLoopback(port);
            auto done = std::async(std::launch::async, [&, ls, rounds] {
                int good = 0;
                long timeout = 0;
                for (int i = 0; i < rounds; i++) {
                    int s = accept(ls, nullptr, nullptr);
                    if (s < 0) break;
                    SSL *ssl = SSL_new(ctx);
                    SSL_set_fd(ssl, s);
                    if (SSL_accept(ssl) == 1) {
                        good++;
                        timeout = SSL_SESSION_get_timeout(SSL_get_session(ssl));
                        SSL_write(ssl, "associated\n", 11);
                        SSL_shutdown(ssl);
                    }
                    SSL_free(ssl);
                    close(s);
                }
                close(ls);
                return std::pair<int, long>(good, timeout);
            });
            return std::pair(port, std::move(done));
        };
        auto [port, done] = serve(4);
        std::string base = "s_client -connect 127.0.0.1:" + std::to_string(port) + " -tls1_2 -cipher PSK-AES128-CBC-SHA256 -ign_eof ";
        std::string out;
        int rc = cli(base + "-psk_identity " + id + " -psk " + hex(kpsa) + " -servername " + host + " </dev/null", out);
        CPPUNIT_ASSERT_MESSAGE(out, rc == 0 && out.find("PSK-AES128-CBC-SHA256") != std::string::npos &&
                                        out.find("associated") != std::string::npos);
        secsf::SecureBytes wrong = kpsa;
        wrong[0] ^= 1;
        cli(base + "-psk_identity " + id + " -psk " + hex(wrong) + " -servername " + host + " </dev/null", out);
        CPPUNIT_ASSERT_MESSAGE(out, out.find("associated") == std::string::npos);
        cli(base + "-psk_identity " + id + " -psk " + hex(kpsa) + " -noservername </dev/null", out);
        CPPUNIT_ASSERT_MESSAGE(out, out.find("associated") == std::string::npos);  // SNI is mandatory
        cli(base + "-psk_identity other@sp.example -psk " + hex(kpsa) + " -servername " + host + " </dev/null", out);
        CPPUNIT_ASSERT_MESSAGE(out, out.find("associated") == std::string::npos);
        auto [good, timeout] = done.get();
        CPPUNIT_ASSERT_EQUAL(1, good);
        CPPUNIT_ASSERT(timeout > 0 && timeout <= 600);  // the session ends before the credential
        // And our own Registree against our own Registrar.
        auto [port2, done2] = serve(1);
        SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
        SSL *ssl = SSL_new(cctx);
        configurePskRegistree(ssl, {"/CSE-in", host}, {id, kpsa, credentialEnd});
        int s = connectLoopback(port2);
        SSL_set_fd(ssl, s);
        CPPUNIT_ASSERT_MESSAGE(errors(), SSL_connect(ssl) == 1);
        char buf[32] = {};
        SSL_read(ssl, buf, sizeof buf - 1);
        CPPUNIT_ASSERT_EQUAL(std::string("associated\n"), std::string(buf));
        SSL_free(ssl);
        close(s);
        CPPUNIT_ASSERT_EQUAL(1, done2.get().first);
        SSL_CTX_free(cctx);
        SSL_CTX_free(ctx);
    }
    void certificateAssociationWithAnSeKey() {
        EVP_PKEY *key = pkeyInSe("cse-in-tls", "");
        std::string cert = selfSigned(key, "cse-in.sp.example");
        EVP_PKEY_free(key);
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
        configureCertificateFramework(ctx, "pkcs11:token=node1;object=cse-in-tls;type=private", cert, cert, false);
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
        int port = 0, ls = listenLoopback(port);
        auto done = std::async(std::launch::async, [&] {
            int s = accept(ls, nullptr, nullptr);
            SSL *ssl = SSL_new(ctx);
            SSL_set_fd(ssl, s);
            int ok = SSL_accept(ssl) == 1;
            if (ok) SSL_write(ssl, "associated\n", 11), SSL_shutdown(ssl);
            SSL_free(ssl);
            close(s);
            return ok;
        });
        std::string out;
        int rc = cli("s_client -connect 127.0.0.1:" + std::to_string(port) + " -tls1_2 -CAfile " + cert +
                         " -verify_return_error -servername cse-in.sp.example -ign_eof </dev/null",
                     out);
        close(ls);
        CPPUNIT_ASSERT(done.get());
        CPPUNIT_ASSERT_MESSAGE(out, rc == 0 && out.find("ECDHE-ECDSA") != std::string::npos &&
                                        out.find("associated") != std::string::npos);
        SSL_CTX_free(ctx);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProvisioningTest);
