// JOSE on OpenSSL EVP with keys the secsf provider resolves: JWS (RFC 7515) and JWE
// (RFC 7516) in compact serialization, with the algorithms the published TS-0003
// names (RFC 7518): JWS ES256/384/512, RS256/384/512, HS256/384/512; JWE dir,
// A128KW/A192KW/A256KW, RSA-OAEP-256, ECDH-ES+A128KW/+A192KW/+A256KW with
// A128GCM/A192GCM/A256GCM. The Debian JOSE libraries want raw key material, which
// would take the key out of the SE; here the private-key steps (signing, ECDH,
// RSA decryption) are EVP calls on the SE key and only the encoding rules are ours.
#pragma once
#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base64url.h"
#include "secsf/secure_bytes.h"

namespace secsf::svc {

using Json = nlohmann::json;

// JSON from a peer: parsed without exceptions, and refused when nested deeper than 64
// levels (what is parsed is walked and dumped recursively later). Not JSON, or too
// deep: a discarded value (is_discarded(); is_object() and the like are false).
Json parseJson(const unsigned char *p, size_t n);
template <class Text> Json parseJson(const Text &t) {
    return parseJson(reinterpret_cast<const unsigned char *>(t.data()), t.size());
}
// Compact text of a value; never throws (invalid UTF-8 in a string is replaced).
std::string dumpJson(const Json &j);

// A key for JOSE: an EVP_PKEY (private in an SE through secsf, or a public key in
// software) or a symmetric secret.
class JoseKey {
public:
    JoseKey() = default;
    static JoseKey fromPkey(EVP_PKEY *k);  // takes its own reference
    static JoseKey fromSecret(SecureBytes secret);
    // A private (or else public) key by URI (pkcs11:, tpm2:, piv:) or file, through
    // OSSL_STORE. Throws Error(NotFound) with OpenSSL's reason.
    static JoseKey load(const std::string &uriOrFile);
    static JoseKey fromPublicPem(const std::string &pem);
    static JoseKey fromJwk(const Json &jwk);  // public EC or RSA JWK

    bool empty() const { return !pk_ && secret_.empty(); }
    EVP_PKEY *pkey() const { return pk_.get(); }
    const SecureBytes &secret() const { return secret_; }
    bool isEc() const;
    bool isRsa() const;
    int bits() const;
    // The public half in the default provider (for verification and encryption).
    JoseKey publicKey() const;
    std::string publicPem() const;
    Json publicJwk() const;
    // ES256 for P-256 and so on; RS256; HS256.
    std::string jwsAlg() const;

private:
    std::shared_ptr<EVP_PKEY> pk_;
    SecureBytes secret_;
};

struct Jws {
    Json header;
    Bytes payload;
};

// Signs; `header` gets "alg" from the key unless it names one.
std::string jwsSign(const JoseKey &key, const Bytes &payload, Json header = Json::object());
inline std::string jwsSign(const JoseKey &key, const Json &payload, Json header = Json::object()) {
    std::string s = dumpJson(payload);
    return jwsSign(key, Bytes(s.begin(), s.end()), std::move(header));
}
// Verifies with `key` (its public half). Throws Error(BadInput) naming what is
// wrong: malformed, "alg" not the key's, signature not valid.
Jws jwsVerify(const std::string &compact, const JoseKey &key);
// Header and payload WITHOUT verification: only to find out which key to verify
// with (kid, the claimed identity). Throws Error(BadInput) when malformed.
Jws jwsPeek(const std::string &compact);

// Encrypts for `recipient`. alg: dir, A128KW.., RSA-OAEP-256, ECDH-ES+A128KW..;
// enc: A128GCM, A192GCM, A256GCM. `header` adds fields (kid, cty, typ).
std::string jweEncrypt(const JoseKey &recipient, const Bytes &plaintext, const std::string &alg,
                       const std::string &enc = "A128GCM", Json header = Json::object());
// Decrypts with `key` (the SE key for RSA-OAEP-256 and ECDH-ES). Throws
// Error(BadInput) "the message was altered or is not for this key" on any failure
// of the key unwrap or the tag, without saying which.
SecureBytes jweDecrypt(const std::string &compact, const JoseKey &key, Json *headerOut = nullptr);

// The dot-separated parts of a compact serialization; throws Error(BadInput) unless
// there are exactly `parts` of them.
std::vector<std::string> compactParts(const std::string &compact, size_t parts);

// ECDH between our key (in an SE: through the provider) and a peer's public key: Z.
SecureBytes ecdhSecret(const JoseKey &mine, const JoseKey &peer);

}  // namespace secsf::svc
