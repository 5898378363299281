#include "key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "../se-plugins/public_key.h"
#include "secsf/error.h"

namespace secsf::prov {

ProvKey::~ProvKey() {
    EVP_PKEY_free(soft);
    magic = 0;
}

void ProvKey::adopt(std::shared_ptr<SeKey> key) {
    se = std::move(key);
    hasPub = se->hasPublic();
    if (hasPub) {
        pub = se->publicKey();
        buildSoft();
    }
}

void ProvKey::buildSoft() {
    EVP_PKEY *pk = publicKeyToEvp(pub, ctx->libctx, kSoftwareProps);
    EVP_PKEY_free(soft);
    soft = pk;
}

ProvKey *ProvKey::clone() const {
    auto *k = new ProvKey(ctx, type);
    k->se = se;
    k->pub = pub;
    k->hasPub = hasPub;
    if (soft) {
        EVP_PKEY_up_ref(soft);
        k->soft = soft;
    }
    return k;
}

int ProvKey::securityBits() const {
    if (type == KeyType::ED25519) return 128;
    if (type == KeyType::EC) return pub.bits >= 512 ? 256 : pub.bits / 2;
    return BN_security_bits(pub.bits, -1);
}

int ProvKey::maxSignatureSize() const {
    if (type == KeyType::RSA) return (pub.bits + 7) / 8;
    if (type == KeyType::ED25519) return 64;
    // DER ECDSA-Sig-Value: SEQUENCE of two INTEGERs, each up to the order size + 1.
    int n = (pub.bits + 7) / 8;
    int content = 2 * (n + 3);
    return content + (content >= 128 ? 3 : 2);
}

ProvKey *keyFromReference(const void *ref, size_t size) {
    if (!ref || size != sizeof(ProvKey *)) return nullptr;
    ProvKey *k = *static_cast<ProvKey *const *>(ref);
    if (!k || k->magic != ProvKey::kMagic) return nullptr;
    return k;
}

}  // namespace secsf::prov
