#include "key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

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
    std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                        OSSL_PARAM_BLD_free);
    BIGNUM *n = nullptr, *e = nullptr;
    const char *name;
    if (type == KeyType::ED25519) {
        name = "ED25519";
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.ecPoint.data(),
                                         pub.ecPoint.size());
    } else if (type == KeyType::EC) {
        name = "EC";
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, pub.group.c_str(), 0);
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.ecPoint.data(),
                                         pub.ecPoint.size());
    } else {
        name = "RSA";
        n = BN_bin2bn(pub.n.data(), (int)pub.n.size(), nullptr);
        e = BN_bin2bn(pub.e.data(), (int)pub.e.size(), nullptr);
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e);
    }
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld.get());
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(ctx->libctx, name, kSoftwareProps);
    EVP_PKEY *pk = nullptr;
    bool ok = params && pctx && EVP_PKEY_fromdata_init(pctx) > 0 &&
              EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    BN_free(n);
    BN_free(e);
    if (!ok) throw Error(Reason::DeviceError, "the SE's public key is not a valid " +
                                                  std::string(name) + " key");
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
