#include "openssl_error.h"
#include "association.h"

#include <openssl/err.h>
#include <openssl/store.h>

#include <algorithm>
#include <cstring>

#include "secsf/error.h"

namespace secsf::svc {

namespace {

const char kPskSuite[] = "PSK-AES128-CBC-SHA256";  // TLS_PSK_WITH_AES_128_CBC_SHA256

struct RegistrarData {
    std::string host;
    PskLookup lookup;
    Clock clock;
};

struct RegistreeData {
    PskEntry entry;
};

void freeRegistrar(void *, void *ptr, CRYPTO_EX_DATA *, int, long, void *) { delete static_cast<RegistrarData *>(ptr); }
void freeRegistree(void *, void *ptr, CRYPTO_EX_DATA *, int, long, void *) { delete static_cast<RegistreeData *>(ptr); }

int registrarIndex() {
    static int i = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeRegistrar);
    return i;
}
int registreeIndex() {
    static int i = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freeRegistree);
    return i;
}


void pskOnly(SSL_CTX *ctx) {
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, kPskSuite))
        throw Error(Reason::Config, std::string("cannot restrict TLS to ") + kPskSuite + ": " + takeOpensslError());
}

int servername(SSL *ssl, int *alert, void *) {
    auto *d = static_cast<RegistrarData *>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), registrarIndex()));
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    // SNI is mandatory (TS-0003 8.2): a Registree that does not say whom it wants is refused.
    if (!d || !sni || d->host != sni) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

unsigned int serverPsk(SSL *ssl, const char *identity, unsigned char *psk, unsigned int maxLen) {
    auto *d = static_cast<RegistrarData *>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), registrarIndex()));
    if (!d || !identity) return 0;
    std::optional<PskEntry> e;
    try {
        e = d->lookup(identity);
    } catch (...) {
        return 0;
    }
    int64_t now = d->clock();
    if (!e || e->key.empty() || e->key.size() > maxLen || e->expires <= now) return 0;
    memcpy(psk, e->key.data(), e->key.size());
    // The session (and any resumption of it) ends before the credential does.
    if (SSL_SESSION *s = SSL_get_session(ssl)) SSL_SESSION_set_timeout(s, (long)std::min<int64_t>(e->expires - now, 7200));
    return (unsigned int)e->key.size();
}

unsigned int clientPsk(SSL *ssl, const char *, char *identity, unsigned int maxIdentity, unsigned char *psk,
                       unsigned int maxLen) {
    auto *d = static_cast<RegistreeData *>(SSL_get_ex_data(ssl, registreeIndex()));
    if (!d || d->entry.identity.size() + 1 > maxIdentity || d->entry.key.size() > maxLen) return 0;
    memcpy(identity, d->entry.identity.c_str(), d->entry.identity.size() + 1);
    memcpy(psk, d->entry.key.data(), d->entry.key.size());
    return (unsigned int)d->entry.key.size();
}

}  // namespace

void configurePskRegistrar(SSL_CTX *ctx, const std::string &hostName, PskLookup lookup, Clock clock) {
    if (hostName.empty()) throw Error(Reason::Config, "the Registrar needs its host name (SNI is mandatory)");
    pskOnly(ctx);
    SSL_CTX_set_ex_data(ctx, registrarIndex(), new RegistrarData{hostName, std::move(lookup), std::move(clock)});
    SSL_CTX_set_tlsext_servername_callback(ctx, servername);
    SSL_CTX_set_psk_server_callback(ctx, serverPsk);
}

void configurePskRegistree(SSL *ssl, const AssociationConfig &cfg, PskEntry entry) {
    if (cfg.registrarHost.empty()) throw Error(Reason::Config, "association configuration without the Registrar's host");
    if (!SSL_set_min_proto_version(ssl, TLS1_2_VERSION) || !SSL_set_max_proto_version(ssl, TLS1_2_VERSION) ||
        !SSL_set_cipher_list(ssl, kPskSuite) || !SSL_set_tlsext_host_name(ssl, cfg.registrarHost.c_str()))
        throw Error(Reason::Config, "cannot configure the PSK association: " + takeOpensslError());
    SSL_set_ex_data(ssl, registreeIndex(), new RegistreeData{std::move(entry)});
    SSL_set_psk_client_callback(ssl, clientPsk);
}

void configureCertificateFramework(SSL_CTX *ctx, const std::string &keyUri, const std::string &certFile,
                                   const std::string &caFile, bool requirePeer) {
    OSSL_STORE_CTX *s = OSSL_STORE_open(keyUri.c_str(), nullptr, nullptr, nullptr, nullptr);
    EVP_PKEY *key = nullptr;
    if (s) {
        OSSL_STORE_expect(s, OSSL_STORE_INFO_PKEY);
        while (!key && !OSSL_STORE_eof(s)) {
            OSSL_STORE_INFO *i = OSSL_STORE_load(s);
            if (!i) break;
            key = OSSL_STORE_INFO_get1_PKEY(i);
            OSSL_STORE_INFO_free(i);
        }
        OSSL_STORE_close(s);
    }
    if (!key) throw Error(Reason::NotFound, "no private key at " + keyUri + ": " + takeOpensslError());
    bool ok = SSL_CTX_use_certificate_chain_file(ctx, certFile.c_str()) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
              SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    if (!ok) throw Error(Reason::Config, "the certificate " + certFile + " does not go with " + keyUri + ": " + takeOpensslError());
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256") ||
        !SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr))
        throw Error(Reason::Config, "cannot configure the certificate framework: " + takeOpensslError());
    SSL_CTX_set_verify(ctx, requirePeer ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, nullptr);
}

}  // namespace secsf::svc
