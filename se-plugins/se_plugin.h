// The Secure Environment plug-in interface (TS-0003 "SE plug-in"): every SE —
// PKCS#11 token, TPM, card — implements it, and the provider talks only to it.
// A plug-in that lacks an operation leaves its bit out of capabilities() and the
// router never sends it there.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "secsf/error.h"
#include "secsf/secure_bytes.h"

namespace secsf {

using Bytes = std::vector<unsigned char>;

// SECRET: a symmetric key (an enrolment key Ke, a Kpsa) used for HMAC inside the SE.
enum class KeyType { EC, RSA, ED25519, SECRET };

// The OpenSSL key type name: "EC", "RSA", "ED25519".
inline const char *keyTypeName(KeyType t) {
    return t == KeyType::EC ? "EC" : t == KeyType::RSA ? "RSA" : t == KeyType::ED25519 ? "ED25519" : "SECRET";
}

// A public key as plain numbers, enough to rebuild it in any provider.
struct PublicKey {
    KeyType type = KeyType::EC;
    std::string group;  // EC: OpenSSL short name, e.g. "prime256v1"
    Bytes ecPoint;      // EC: uncompressed point; ED25519: the 32-byte key
    Bytes n, e;         // RSA: big-endian modulus and exponent
    int bits = 0;       // EC: field size; RSA: modulus size
};

enum class SignScheme { Ecdsa, RsaPkcs1, RsaPss, EdDsa };

struct SignRequest {
    SignScheme scheme = SignScheme::Ecdsa;
    int digestNid = 0;   // 0: `data` is signed as given (no DigestInfo for PKCS#1)
    Bytes data;          // the digest (raw input when digestNid == 0; the message for EdDSA)
    int saltLen = 0;     // PSS, in bytes
    int mgf1Nid = 0;     // PSS
};

struct DecryptRequest {
    enum Padding { Pkcs1, Oaep } padding = Oaep;
    int oaepDigestNid = 0;  // 0: SHA-1, as OpenSSL's default
    int mgf1Nid = 0;        // 0: the OAEP digest
    Bytes label;
};

enum Capability : uint32_t {
    CapSign = 1u << 0,
    CapDecrypt = 1u << 1,
    CapDerive = 1u << 2,
    CapKeyGen = 1u << 3,
    CapRandom = 1u << 4,
    CapStorage = 1u << 5,
    CapHmac = 1u << 6,
};

// A key that lives in an SE. Thread-safe: one key is used from many threads.
class SeKey {
public:
    virtual ~SeKey() = default;
    virtual std::string uri() const = 0;  // its reference, never with a PIN in it
    virtual std::string seName() const = 0;
    virtual KeyType keyType() const = 0;  // known even when the public half is not
    virtual bool hasPrivate() const = 0;
    virtual bool hasPublic() const = 0;
    virtual const PublicKey &publicKey() const = 0;
    // ECDSA returns r||s, each the size of the group order; RSA and EdDSA the signature.
    virtual Bytes sign(const SignRequest &req) = 0;
    // ECDH: the shared secret Z with the peer's uncompressed public point.
    virtual SecureBytes derive(const Bytes &peerPoint) = 0;
    // RSA decryption in the SE; the plaintext may be keying material.
    virtual SecureBytes decrypt(const DecryptRequest &req, const Bytes &ciphertext) = 0;
    // HMAC with a secret key held in the SE (the TS-0003 key derivations).
    virtual SecureBytes hmac(int digestNid, const Bytes &data) = 0;
};

struct KeyGenRequest {
    KeyType type = KeyType::EC;
    std::string group = "prime256v1";
    int bits = 2048;
    std::string label;  // empty: the plug-in picks one
    Bytes id;           // empty: the plug-in picks one
    std::string where;  // a URI naming the token/slot; empty: the SE's default
    // A second private key under a label (or id) already in use makes references by
    // that label ambiguous: refused unless asked for.
    bool allowDuplicateLabel = false;
    // A card slot that holds a certificate (its key, or a leftover) is not filled
    // unless asked for: the new key and certificate then replace what was there.
    bool replaceCertificate = false;
};

// What a URI lookup found. A private key usually comes with its public half.
struct Found {
    std::shared_ptr<SeKey> privateKey;
    std::shared_ptr<SeKey> publicKey;
    Bytes certificate;  // DER, when the SE holds one that matches
};

// One key an SE holds, as `secsf key list` shows it.
struct KeyListing {
    std::string uri;
    std::string label;
    KeyType type = KeyType::EC;
    int bits = 0;
    std::string curve;  // EC
    std::string note;   // why details are missing, when they are
};

// A listing's type and size from the key itself.
inline void describeKey(KeyListing &k, const SeKey &key) {
    k.type = key.keyType();
    if (!key.hasPublic()) {
        k.note = "no public half in the SE";
        return;
    }
    k.bits = key.publicKey().bits;
    k.curve = key.publicKey().group;
}

// What an SE can do, in the terms a user chooses an SE by.
struct SeInfo {
    std::string device;                  // e.g. "token 'node1' (SoftHSM project, SoftHSM v2)"
    std::vector<std::string> mechanisms;  // the ones secsf uses, by PKCS#11-style name
    std::vector<std::string> curves;      // EC curves for key generation
    int rsaMinBits = 0, rsaMaxBits = 0;   // 0: no RSA key generation
    bool ecdhSecretStaysInside = false;   // can run a KDF on Z without Z leaving
    bool derivesIntoObject = false;       // can put a derived key into an object itself
};

class SePlugin {
public:
    virtual ~SePlugin() = default;
    virtual std::string name() const = 0;
    virtual int securityLevel() const = 0;
    // Read from the device on first use (so they are true for the token in hand).
    virtual uint32_t capabilities() = 0;
    virtual SeInfo info() = 0;
    virtual bool handlesUri(const std::string &uri) const = 0;
    // The PIN / authorization-value sources the configuration declares for this SE:
    // the only ones a key file may name (see key_file_uri.h).
    virtual std::vector<std::string> declaredSecretSources() const { return {}; }

    // Throws Error(NotFound/Ambiguous/PinRequired...) with a sentence.
    virtual Found find(const std::string &uri) = 0;
    virtual std::shared_ptr<SeKey> generate(const KeyGenRequest &req) = 0;
    virtual Bytes random(size_t n) = 0;
    // A symmetric key by URI (type=secret-key); throws NotFound/Ambiguous.
    virtual std::shared_ptr<SeKey> findSecret(const std::string &uri) = 0;
    // Puts a secret into the SE as a new non-extractable key object usable for HMAC
    // (for a derived key, on an SE that cannot derive into an object); returns it.
    virtual std::shared_ptr<SeKey> importSecret(const SecureBytes &value, const std::string &label,
                                                const std::string &where) = 0;

    // Touches the device the way an operation would: module, token and login; the
    // TPM; reader and card. Throws with the reason when it cannot be reached.
    virtual void checkAccess() = 0;
    // The keys on the default token / the TPM's persistent handles / the card's slots.
    virtual std::vector<KeyListing> listKeys() = 0;
    // Removes a key (private and public halves, and its certificate where the SE keeps
    // one with it). Throws NotFound / Ambiguous / Unsupported with a sentence.
    virtual void deleteKey(const std::string &uri) = 0;

    // Secure storage: small data objects tagged with their owner (AE-ID or CSE-ID)
    // and private to it. get() of another owner's object is NotFound.
    virtual void storagePut(const std::string &owner, const std::string &name, const Bytes &data) = 0;
    virtual Bytes storageGet(const std::string &owner, const std::string &name) = 0;
    virtual bool storageDelete(const std::string &owner, const std::string &name) = 0;
    virtual std::vector<std::string> storageList(const std::string &owner) = 0;
};

// The listing entry of the key at `uri`, described by looking it up; when that
// fails, the reason goes into `note`.
inline KeyListing listingOf(SePlugin &se, const std::string &uri, const std::string &label = "") {
    KeyListing k;
    k.uri = uri;
    k.label = label;
    try {
        Found f = se.find(uri);
        if (f.privateKey) describeKey(k, *f.privateKey);
    } catch (const Error &e) {
        k.note = e.what();
    }
    return k;
}

}  // namespace secsf
