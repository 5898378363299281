#include "openssl_error.h"
#include "provisioning.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include <cctype>

#include "secsf/error.h"

namespace secsf::svc {

namespace {

const char kBootstrapLabel[] = "EXPORTER-oneM2M-Bootstrap";

std::string hexBinary(const unsigned char *p, size_t n) {
    static const char d[] = "0123456789ABCDEF";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}

void checkFqdn(const std::string &f) {
    if (f.empty()) throw Error(Reason::BadInput, "an empty FQDN");
    for (char c : f)
        if (!isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-')
            throw Error(Reason::BadInput, "'" + f + "' is not an FQDN (letters, digits, '.', '_', '-')");
}


// One ONEM2M-KDF call through the provider. With storeLabel, the answer is the URI
// of the key the SE now holds; without, the derived bytes.
SecureBytes onem2mKdf(const std::string &mode, const std::string &keyUri, const SecureBytes *key,
                      const std::string &id, const std::string &storeLabel, const std::string &storeWhere) {
    EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "ONEM2M-KDF", nullptr);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
    if (!c) throw Error(Reason::Config, "the secsf provider's ONEM2M-KDF is not available: " + takeOpensslError());
    std::vector<OSSL_PARAM> p;
    p.push_back(OSSL_PARAM_construct_utf8_string("mode", (char *)mode.c_str(), 0));
    if (!keyUri.empty()) p.push_back(OSSL_PARAM_construct_utf8_string("key-uri", (char *)keyUri.c_str(), 0));
    if (key) p.push_back(OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key->data(), key->size()));
    if (!id.empty()) p.push_back(OSSL_PARAM_construct_utf8_string("id", (char *)id.c_str(), 0));
    if (!storeLabel.empty()) p.push_back(OSSL_PARAM_construct_utf8_string("store-label", (char *)storeLabel.c_str(), 0));
    if (!storeWhere.empty()) p.push_back(OSSL_PARAM_construct_utf8_string("store-where", (char *)storeWhere.c_str(), 0));
    p.push_back(OSSL_PARAM_construct_end());
    SecureBytes out(storeLabel.empty() ? 32 : 1024);
    bool ok = EVP_KDF_derive(c, out.data(), out.size(), p.data()) > 0;
    EVP_KDF_CTX_free(c);
    if (!ok) throw Error(Reason::DeviceError, "ONEM2M-KDF mode " + mode + ": " + takeOpensslError());
    if (!storeLabel.empty()) {
        size_t n = 0;
        while (n < out.size() && out[n]) n++;
        out.resize(n);
    }
    return out;
}

}  // namespace

std::string keId(const Bytes &relativeKeId, const std::string &mefFqdn) {
    checkFqdn(mefFqdn);
    return hexBinary(relativeKeId.data(), relativeKeId.size()) + "@" + mefFqdn;
}

std::string credentialId(int type, const std::string &id) { return std::to_string(type) + "-" + id; }

Provisioner::Provisioner(ProvisioningConfig cfg, Repository &repo) : cfg_(std::move(cfg)), repo_(repo) {}

ProvisionedKey Provisioner::store(const SecureBytes &value, const std::string &id, int type, int64_t expires) {
    ProvisionedKey k;
    k.id = id;
    k.credentialId = credentialId(type, id);
    SecureBytes uri = onem2mKdf("import", "", &value, "", cfg_.labelPrefix + k.credentialId, cfg_.storeWhere);
    k.uri.assign(uri.begin(), uri.end());
    k.expires = expires;
    repo_.putCredential({k.credentialId, "provisioned", cfg_.clock(), expires, false}, k.uri);
    return k;
}

ProvisionedKey Provisioner::enrolmentKeyFromTls(SSL *ssl, const std::string &mefFqdn, int64_t lifetime) {
    if (!ssl || !SSL_is_init_finished(ssl)) throw Error(Reason::BadInput, "the TLS handshake has not completed");
    if (SSL_get_peer_certificate(ssl) == nullptr)
        throw Error(Reason::BadInput, "remote provisioning needs mutual authentication: the peer sent no certificate");
    X509_free(SSL_get_peer_certificate(ssl));
    SecureBytes m(48);
    if (SSL_export_keying_material(ssl, m.data(), m.size(), kBootstrapLabel, sizeof kBootstrapLabel - 1, nullptr, 0,
                                   0) != 1)
        throw Error(Reason::Generic, "the TLS exporter failed: " + takeOpensslError());
    // Most significant first: RelativeKeID = bytes 0..15, Ke = bytes 16..47.
    Bytes relative(m.begin(), m.begin() + 16);
    SecureBytes ke(m.begin() + 16, m.end());
    return store(ke, keId(relative, mefFqdn), 10, cfg_.clock() + lifetime);
}

ProvisionedKey Provisioner::preProvision(const SecureBytes &key, const std::string &id, int type, int64_t lifetime) {
    if (key.size() < 16) throw Error(Reason::BadInput, "a provisioned key of fewer than 128 bits");
    return store(key, id, type, cfg_.clock() + lifetime);
}

ProvisionedKey Provisioner::derive(const ProvisionedKey &ke, const char *mode, const std::string &id,
                                   const std::string &newId, int type) {
    if (!valid(ke)) throw Error(Reason::BadInput, "the enrolment key " + ke.credentialId + " has expired or was revoked");
    ProvisionedKey k;
    k.id = newId;
    k.credentialId = credentialId(type, newId);
    SecureBytes uri = onem2mKdf(mode, ke.uri, nullptr, id, cfg_.labelPrefix + k.credentialId, cfg_.storeWhere);
    k.uri.assign(uri.begin(), uri.end());
    k.expires = ke.expires;  // a key derived from Ke never outlives Ke
    repo_.putCredential({k.credentialId, "provisioned", cfg_.clock(), k.expires, false}, k.uri);
    return k;
}

ProvisionedKey Provisioner::deriveKm(const ProvisionedKey &ke, const std::string &mafFqdn) {
    checkFqdn(mafFqdn);
    std::string relative = ke.id.substr(0, ke.id.find('@'));
    return derive(ke, "Km", mafFqdn, relative + "@" + mafFqdn, 11);
}

ProvisionedKey Provisioner::deriveKpsa(const ProvisionedKey &ke, const std::string &enroleeBId,
                                       const std::string &issuerFqdn) {
    checkFqdn(issuerFqdn);
    std::string relative = ke.id.substr(0, ke.id.find('@'));
    return derive(ke, "Kpsa", enroleeBId, relative + "@" + issuerFqdn, 12);
}

SecureBytes Provisioner::kpsaForTls(const ProvisionedKey &ke, const std::string &enroleeBId) {
    if (!valid(ke)) throw Error(Reason::BadInput, "the enrolment key " + ke.credentialId + " has expired or was revoked");
    return onem2mKdf("Kpsa", ke.uri, nullptr, enroleeBId, "", "");
}

bool Provisioner::valid(const ProvisionedKey &k) const {
    auto c = repo_.credential(k.credentialId);
    return c && !c->revoked && c->expires > cfg_.clock();
}

}  // namespace secsf::svc
