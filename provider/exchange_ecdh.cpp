// ECDH with the private key in the SE (CKM_ECDH1_DERIVE on PKCS#11). Z comes back
// to this process once, in locked memory that is wiped, and is either the result
// (plain ECDH) or the input of a KDF run right here in one call — the SA key
// establishment of seed 002: kdf-type "X963KDF" (OpenSSL's standard ECDH parameter)
// or "HKDF" (RFC 5869, secsf's addition, with secsf.hkdf-salt), both computed by
// OpenSSL's own KDFs in the default provider.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string>

#include "errors.h"
#include "key.h"
#include "provider.h"

namespace secsf::prov {
namespace {

struct EcdhCtx {
    ProvCtx *ctx;
    ProvKey *key = nullptr;   // borrowed, as OpenSSL keeps the EVP_PKEY alive
    ProvKey *peer = nullptr;  // borrowed likewise
    std::string kdf;          // "", "X963KDF" or "HKDF"
    std::string digest = "SHA256";
    size_t outlen = 0;
    Bytes ukm, salt;
};

void *ecdh_newctx(void *provctx) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * { return new EcdhCtx{ctx}; });
}

void ecdh_freectx(void *c) { delete static_cast<EcdhCtx *>(c); }

void *ecdh_dupctx(void *c) {
    auto *e = static_cast<EcdhCtx *>(c);
    return guard(e->ctx, (void *)nullptr, [&]() -> void * { return new EcdhCtx(*e); });
}

int ecdh_set_ctx_params(void *c, const OSSL_PARAM params[]);

int ecdh_init(void *c, void *keydata, const OSSL_PARAM params[]) {
    auto *e = static_cast<EcdhCtx *>(c);
    return guard(e->ctx, 0, [&] {
        auto *k = static_cast<ProvKey *>(keydata);
        if (!k || k->magic != ProvKey::kMagic || k->type != KeyType::EC || !k->hasPrivate())
            throw Error(Reason::Unsupported, "ECDH needs an EC private key in a Secure Environment");
        e->key = k;
        return ecdh_set_ctx_params(c, params);
    });
}

int ecdh_set_peer(void *c, void *peerdata) {
    auto *e = static_cast<EcdhCtx *>(c);
    return guard(e->ctx, 0, [&] {
        auto *p = static_cast<ProvKey *>(peerdata);
        if (!p || p->magic != ProvKey::kMagic || p->type != KeyType::EC || !p->hasPub)
            throw Error(Reason::BadInput, "the ECDH peer must be an EC public key");
        if (e->key && e->key->hasPub && p->pub.group != e->key->pub.group)
            throw Error(Reason::BadInput, "the peer key is on " + p->pub.group + ", ours on " +
                                              e->key->pub.group);
        e->peer = p;
        return 1;
    });
}

SecureBytes runKdf(EcdhCtx *e, const SecureBytes &z) {
    EVP_KDF *kdf = EVP_KDF_fetch(e->ctx->libctx, e->kdf.c_str(), kSoftwareProps);
    if (!kdf) throw Error(Reason::Unsupported, "KDF " + e->kdf + " is not available");
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    OSSL_PARAM p[5];
    int n = 0;
    p[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char *>(e->digest.c_str()), 0);
    p[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char *>(z.data()), z.size());
    if (!e->ukm.empty())
        p[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, e->ukm.data(), e->ukm.size());
    if (e->kdf == "HKDF" && !e->salt.empty())
        p[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, e->salt.data(), e->salt.size());
    p[n] = OSSL_PARAM_construct_end();
    SecureBytes out(e->outlen);
    bool ok = kc && EVP_KDF_derive(kc, out.data(), out.size(), p) > 0;
    EVP_KDF_CTX_free(kc);
    if (!ok) throw Error(Reason::BadInput, e->kdf + " over the ECDH secret failed (digest " + e->digest + ")");
    return out;
}

int ecdh_derive(void *c, unsigned char *secret, size_t *secretlen, size_t outlen) {
    auto *e = static_cast<EcdhCtx *>(c);
    return guard(e->ctx, 0, [&] {
        if (!e->key || !e->peer) throw Error(Reason::BadInput, "ECDH needs a key and a peer");
        size_t size = e->kdf.empty() ? (size_t)(e->key->pub.bits + 7) / 8 : e->outlen;
        if (!e->kdf.empty() && e->outlen == 0)
            throw Error(Reason::BadInput, "set kdf-outlen for " + e->kdf);
        if (!secret) {
            *secretlen = size;
            return 1;
        }
        if (outlen < size)
            throw Error(Reason::BadInput, "output buffer of " + std::to_string(outlen) +
                                              " bytes is smaller than the " + std::to_string(size) +
                                              "-byte result");
        SecureBytes z = e->key->se->derive(e->peer->pub.ecPoint);
        SecureBytes out = e->kdf.empty() ? std::move(z) : runKdf(e, z);
        std::copy(out.begin(), out.end(), secret);
        *secretlen = out.size();
        return 1;
    });
}

int ecdh_set_ctx_params(void *c, const OSSL_PARAM params[]) {
    auto *e = static_cast<EcdhCtx *>(c);
    if (!params) return 1;
    return guard(e->ctx, 0, [&] {
        const OSSL_PARAM *p;
        const char *s = nullptr;
        if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            std::string k = s;
            if (k.empty()) e->kdf.clear();
            else if (k == "X963KDF") e->kdf = "X963KDF";
            else if (k == "HKDF") e->kdf = "HKDF";
            else throw Error(Reason::Unsupported, "ECDH kdf-type '" + k + "' is not offered (X963KDF, HKDF)");
        }
        if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            e->digest = s;
        }
        if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN)) &&
            !OSSL_PARAM_get_size_t(p, &e->outlen))
            return 0;
        for (auto [name, dst] : {std::pair{OSSL_EXCHANGE_PARAM_KDF_UKM, &e->ukm},
                                 std::pair{"secsf.hkdf-salt", &e->salt}}) {
            if (!(p = OSSL_PARAM_locate_const(params, name))) continue;
            const void *v = nullptr;
            size_t n = 0;
            if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &n)) return 0;
            dst->assign((const unsigned char *)v, (const unsigned char *)v + n);
        }
        return 1;
    });
}

const OSSL_PARAM *ecdh_settable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS, nullptr, 0),
        OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, nullptr),
        OSSL_PARAM_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, nullptr, 0),
        OSSL_PARAM_octet_string("secsf.hkdf-salt", nullptr, 0),
        OSSL_PARAM_END};
    return p;
}

int ecdh_get_ctx_params(void *c, OSSL_PARAM params[]) {
    auto *e = static_cast<EcdhCtx *>(c);
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) &&
        !OSSL_PARAM_set_utf8_string(p, e->kdf.c_str()))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST)) &&
        !OSSL_PARAM_set_utf8_string(p, e->digest.c_str()))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN)) &&
        !OSSL_PARAM_set_size_t(p, e->outlen))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE)) &&
        !OSSL_PARAM_set_int(p, 0))
        return 0;
    return 1;
}

const OSSL_PARAM *ecdh_gettable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, nullptr, 0),
        OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, nullptr),
        OSSL_PARAM_END};
    return p;
}

}  // namespace

const OSSL_DISPATCH kEcdhExchange[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))ecdh_newctx},
    {OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))ecdh_init},
    {OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))ecdh_set_peer},
    {OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))ecdh_derive},
    {OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))ecdh_freectx},
    {OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))ecdh_dupctx},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))ecdh_set_ctx_params},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))ecdh_settable_ctx_params},
    {OSSL_FUNC_KEYEXCH_GET_CTX_PARAMS, (void (*)(void))ecdh_get_ctx_params},
    {OSSL_FUNC_KEYEXCH_GETTABLE_CTX_PARAMS, (void (*)(void))ecdh_gettable_ctx_params},
    {0, nullptr}};

}  // namespace secsf::prov
