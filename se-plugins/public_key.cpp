#include "public_key.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <memory>

#include "secsf/error.h"

namespace secsf {

EVP_PKEY *publicKeyToEvp(const PublicKey &pub, OSSL_LIB_CTX *libctx, const char *props) {
    std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
    BIGNUM *n = nullptr, *e = nullptr;
    const char *name;
    if (pub.type == KeyType::ED25519) {
        name = "ED25519";
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.ecPoint.data(), pub.ecPoint.size());
    } else if (pub.type == KeyType::EC) {
        name = "EC";
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, pub.group.c_str(), 0);
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.ecPoint.data(), pub.ecPoint.size());
    } else {
        name = "RSA";
        n = BN_bin2bn(pub.n.data(), (int)pub.n.size(), nullptr);
        e = BN_bin2bn(pub.e.data(), (int)pub.e.size(), nullptr);
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e);
    }
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld.get());
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(libctx, name, props);
    EVP_PKEY *pk = nullptr;
    bool ok = params && pctx && EVP_PKEY_fromdata_init(pctx) > 0 &&
              EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    BN_free(n);
    BN_free(e);
    if (!ok) throw Error(Reason::DeviceError, "the SE's public key is not a valid " + std::string(name) + " key");
    return pk;
}

PublicKey publicKeyFromEvp(EVP_PKEY *pk) {
    PublicKey k;
    if (EVP_PKEY_is_a(pk, "RSA")) {
        k.type = KeyType::RSA;
        BIGNUM *n = nullptr, *e = nullptr;
        if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) ||
            !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e)) {
            BN_free(n);
            throw Error(Reason::BadInput, "RSA public key without modulus or exponent");
        }
        k.n.resize((size_t)BN_num_bytes(n));
        k.e.resize((size_t)BN_num_bytes(e));
        BN_bn2bin(n, k.n.data());
        BN_bn2bin(e, k.e.data());
        BN_free(n);
        BN_free(e);
        k.bits = EVP_PKEY_get_bits(pk);
        return k;
    }
    bool ec = EVP_PKEY_is_a(pk, "EC");
    if (!ec && !EVP_PKEY_is_a(pk, "ED25519")) throw Error(Reason::Unsupported, "a public key of a type secsf does not use");
    k.type = ec ? KeyType::EC : KeyType::ED25519;
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &len))
        throw Error(Reason::BadInput, "public key without its point");
    k.ecPoint.resize(len);
    EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k.ecPoint.data(), len, &len);
    if (ec) {
        char group[64] = {};
        EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr);
        k.group = group;
    }
    k.bits = EVP_PKEY_get_bits(pk);
    return k;
}

Bytes ecdsaSigDer(const Bytes &rs) {
    size_t half = rs.size() / 2;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs.data(), (int)half, nullptr), *s = BN_bin2bn(rs.data() + half, (int)half, nullptr);
    unsigned char *p = nullptr;
    int n = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = nullptr;  // owned by es now
        n = i2d_ECDSA_SIG(es, &p);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    if (n <= 0) throw Error(Reason::Generic, "cannot encode the ECDSA signature");
    Bytes der(p, p + n);
    OPENSSL_free(p);
    return der;
}

std::string publicKeyPem(const PublicKey &pub) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> k(publicKeyToEvp(pub), EVP_PKEY_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), BIO_free);
    if (!k || !b || PEM_write_bio_PUBKEY(b.get(), k.get()) != 1) throw Error(Reason::Generic, "cannot write the public key as PEM");
    char *d = nullptr;
    long n = BIO_get_mem_data(b.get(), &d);
    return std::string(d, (size_t)n);
}

}  // namespace secsf
