// Provisioning (TS-0001 11.2, TS-0003 8.3 and 10.3): symmetric credentials that go
// into the SE and never come back out.
//   - remote provisioning: after a mutually authenticated TLS handshake (the node's
//     and the MEF's keys in their SEs), both ends take 48 bytes from the TLS exporter
//     with label "EXPORTER-oneM2M-Bootstrap": the enrolment key Ke is the 32 least
//     significant bytes, RelativeKeID the 16 most significant; Ke goes straight into
//     the SE (ONEM2M-KDF mode=import) and the 48 bytes are wiped;
//   - Km and Kpsa are derived from Ke inside the SE (ONEM2M-KDF, HMAC-SHA-256) and
//     stored there too, with identifiers and Credential-IDs in the published formats;
//   - pre-provisioning: a key loaded into the SE out of band, with a lifetime.
// All through the secsf provider (EVP_KDF), so they work with any SE that does HMAC.
#pragma once
#include <openssl/ssl.h>

#include <string>

#include "base64url.h"
#include "clock.h"
#include "repository.h"
#include "secsf/secure_bytes.h"

namespace secsf::svc {

struct ProvisionedKey {
    std::string uri;           // the key object in the SE
    std::string id;            // KeID, KmID or KpsaID
    std::string credentialId;  // "<type>-<id>": 10 MEF key (Ke), 11 MAF key (Km), 12 SAEF key (Kpsa)
    int64_t expires = 0;
};

// Identifiers as TS-0003 writes them. Throws Error(BadInput) for an FQDN with other
// characters than letters, digits, '.', '_' and '-'.
std::string keId(const Bytes &relativeKeId, const std::string &mefFqdn);
std::string credentialId(int type, const std::string &id);

struct ProvisioningConfig {
    std::string storeWhere;   // the token (a pkcs11: URI) or SE the keys go to; empty: the default SE
    std::string labelPrefix;  // prefix for the key objects' labels, e.g. "node7-"
    Clock clock = systemClock();
};

class Provisioner {
public:
    Provisioner(ProvisioningConfig cfg, Repository &repo);

    // Remote provisioning on an established TLS connection (either end). The key
    // lives as long as `lifetime` seconds.
    ProvisionedKey enrolmentKeyFromTls(SSL *ssl, const std::string &mefFqdn, int64_t lifetime);
    // Pre-provisioning: a key given out of band (wiped by the caller).
    ProvisionedKey preProvision(const SecureBytes &key, const std::string &id, int type, int64_t lifetime);
    // Km = HMAC(Ke, label || MAF-ID), in the SE.
    ProvisionedKey deriveKm(const ProvisionedKey &ke, const std::string &mafFqdn);
    // Kpsa = HMAC(Ke, label || Enrolee-B-ID), in the SE; KpsaID = relative@issuer.
    ProvisionedKey deriveKpsa(const ProvisionedKey &ke, const std::string &enroleeBId, const std::string &issuerFqdn);
    // Kpsa's value for a TLS-PSK handshake: OpenSSL's TLS computes the PRF in this
    // process, so the PSK must be in memory while the handshake runs (locked, wiped).
    SecureBytes kpsaForTls(const ProvisionedKey &ke, const std::string &enroleeBId);
    // Whether a provisioned key is still within its lifetime.
    bool valid(const ProvisionedKey &k) const;

private:
    ProvisionedKey store(const SecureBytes &value, const std::string &id, int type, int64_t expires);
    ProvisionedKey derive(const ProvisionedKey &ke, const char *mode, const std::string &id, const std::string &newId,
                          int type);

    ProvisioningConfig cfg_;
    Repository &repo_;
};

}  // namespace secsf::svc
