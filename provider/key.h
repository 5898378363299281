// The key object behind an EVP_PKEY whose keymgmt is secsf's: a handle on a key in
// an SE, plus its public half as numbers and as a software EVP_PKEY in another
// provider (for verification, algorithm identifiers and key matching).
// A key imported from outside (public only, as OpenSSL does when it compares keys)
// has no SE handle.
#pragma once
#include <openssl/evp.h>

#include <memory>

#include "../se-plugins/se_plugin.h"
#include "provctx.h"

namespace secsf::prov {

struct ProvKey {
    static constexpr unsigned kMagic = 0x5ec5f4e7;
    unsigned magic = kMagic;
    ProvCtx *ctx = nullptr;
    KeyType type = KeyType::EC;
    std::shared_ptr<SeKey> se;  // null for an imported public key
    PublicKey pub;
    bool hasPub = false;
    EVP_PKEY *soft = nullptr;   // the public half in a software provider

    ProvKey(ProvCtx *c, KeyType t) : ctx(c), type(t) {}
    ProvKey(const ProvKey &) = delete;
    ~ProvKey();

    bool hasPrivate() const { return se && se->hasPrivate(); }
    // Sets pub/hasPub/soft from an SE key. Throws.
    void adopt(std::shared_ptr<SeKey> key);
    // Builds `soft` from `pub`. Throws.
    void buildSoft();
    // A new ProvKey sharing the same SE key.
    ProvKey *clone() const;
    // As OpenSSL counts them: Ed25519 keys have 253 bits.
    int bits() const { return type == KeyType::ED25519 ? 253 : pub.bits; }
    int securityBits() const;
    int maxSignatureSize() const;
};

// The ProvKey behind an OSSL_OBJECT reference, or null if it is not one of ours.
ProvKey *keyFromReference(const void *ref, size_t size);

}  // namespace secsf::prov
