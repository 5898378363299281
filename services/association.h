// Association configuration and handshake (TS-0001 11.3, TS-0003 8.2): the Registree
// (Entity A, the TLS client) knows its Registrar's CSE-ID and host; the handshake is
// TLS between them, giving session keys that live shorter than the credential they
// come from.
//   - provisioned symmetric key framework: TLS 1.2 PSK, psk_identity = KpsaID,
//     psk = Kpsa, TLS_PSK_WITH_AES_128_CBC_SHA256, SNI mandatory;
//   - certificate framework: ECDHE-ECDSA with the keys in SEs (loaded by URI through
//     the secsf provider).
// These configure OpenSSL SSL_CTX / SSL objects; the application runs the sockets.
#pragma once
#include <openssl/ssl.h>

#include <functional>
#include <optional>
#include <string>

#include "clock.h"
#include "secsf/secure_bytes.h"

namespace secsf::svc {

struct AssociationConfig {
    std::string registrarCseId;  // who we associate with, e.g. "/CSE-in"
    std::string registrarHost;   // its host name: sent as SNI, checked by the Registrar
};

struct PskEntry {
    std::string identity;  // KpsaID
    SecureBytes key;       // Kpsa
    int64_t expires = 0;   // the credential's end: sessions end before it
};
using PskLookup = std::function<std::optional<PskEntry>(const std::string &identity)>;

// Entity B: TLS 1.2 with PSK-AES128-CBC-SHA256 only, the PSK found by identity; a
// ClientHello without SNI, or for another host name, is refused; each session's
// lifetime is cut to what is left of its credential.
void configurePskRegistrar(SSL_CTX *ctx, const std::string &hostName, PskLookup lookup, Clock clock = systemClock());
// Entity A: the same suite, SNI set to the Registrar's host name.
void configurePskRegistree(SSL *ssl, const AssociationConfig &cfg, PskEntry entry);

// Certificate framework: ECDHE-ECDSA suites (TLS 1.2, and TLS 1.3 on top), the
// private key by URI (pkcs11:, tpm2:, piv: or a SECSF KEY file), its certificate
// chain, and the trust anchors that verify the peer (mutual when requirePeer).
void configureCertificateFramework(SSL_CTX *ctx, const std::string &keyUri, const std::string &certFile,
                                   const std::string &caFile, bool requirePeer);

}  // namespace secsf::svc
