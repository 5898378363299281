// ONEM2M-KDF: the key derivations of TS-0003 10.3 as an OpenSSL KDF, with the input
// key named by URI so that the HMAC runs inside the SE (CKM_SHA256_HMAC on PKCS#11).
//   mode=Km                 HMAC(Ke, "oneM2M Enrolment Key to Master Credential derivation" || MAF-ID)
//   mode=Kpsa               HMAC(Ke, "...Provisioned Secure Connection Key derivation" || Enrolee-B-ID)
//   mode=usage-constrained  HMAC(Ke, "...Usage-Constrained Symmetric Key derivation" || SUID || target)
//   mode=sessionESPrimKey   HMAC(pairwiseESPrimKey, receiverRand || originatorRand || label)
//   mode=Ke2e               master = HMAC(salt, Kpsa); T(n) = HMAC(master, T(n-1) || label_n || n)
//   mode=import             the input `key` itself (Ke from a TLS exporter, a pre-provisioned key)
// With store-label (and optionally store-where, a URI naming the SE or token), the
// result is not returned but put into the SE as a non-extractable HMAC key object,
// and the output buffer receives that object's URI, NUL-padded: the key never
// reaches the caller. Identifiers are NFKC-normalised UTF-8. Ke2e feeds Kpsa to HMAC as *data*, which no
// token can do with a key it keeps: that mode takes Kpsa as `key` and runs in this
// process, in locked memory that is wiped.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>

#include <string>

#include "errors.h"
#include "nfkc.h"
#include "provider.h"

namespace secsf::prov {
namespace {

constexpr size_t kOutLen = 32;  // HMAC-SHA-256
const char *const kLabelKm = "oneM2M Enrolment Key to Master Credential derivation";
const char *const kLabelKpsa = "oneM2M Enrolment Key to Provisioned Secure Connection Key derivation";
const char *const kLabelUsage = "oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation";
const char *const kLabelSession = "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm";
const char *const kLabelsE2e[] = {"E2E Message Authentication Key", "E2E Message Confidentiality Key",
                                  "E2E Attribute Authenticity Key", "E2E Attribute Confidentiality Key"};

struct KdfCtx {
    ProvCtx *ctx;
    std::string mode, keyUri, id, suid, target, storeLabel, storeWhere;
    SecureBytes key;  // Ke2e only: Kpsa
    Bytes salt, receiverRand, originatorRand;
    unsigned int index = 0;
};

void *kdf_newctx(void *provctx) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * { return new KdfCtx{ctx}; });
}
void kdf_freectx(void *c) { delete static_cast<KdfCtx *>(c); }
void *kdf_dupctx(void *c) {
    auto *k = static_cast<KdfCtx *>(c);
    return guard(k->ctx, (void *)nullptr, [&]() -> void * { return new KdfCtx(*k); });
}
void kdf_reset(void *c) {
    auto *k = static_cast<KdfCtx *>(c);
    ProvCtx *ctx = k->ctx;
    *k = KdfCtx{ctx};
}

void append(Bytes &b, const std::string &s) { b.insert(b.end(), s.begin(), s.end()); }

// HMAC-SHA-256 in software (default provider): for Ke2e's host-side steps.
SecureBytes softHmac(KdfCtx *k, const unsigned char *key, size_t keylen, const Bytes &data) {
    EVP_MAC *mac = EVP_MAC_fetch(k->ctx->libctx, "HMAC", kSoftwareProps);
    EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    EVP_MAC_free(mac);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                      OSSL_PARAM_construct_end()};
    SecureBytes out(kOutLen);
    size_t n = 0;
    bool ok = mc && EVP_MAC_init(mc, key, keylen, p) && EVP_MAC_update(mc, data.data(), data.size()) &&
              EVP_MAC_final(mc, out.data(), &n, out.size());
    EVP_MAC_CTX_free(mc);
    if (!ok) throw Error(Reason::Generic, "HMAC-SHA-256 failed");
    return out;
}

SecureBytes inSe(KdfCtx *k, const Bytes &data) {
    if (k->keyUri.empty()) throw Error(Reason::BadInput, "mode " + k->mode + " needs key-uri (the key in the SE)");
    SePlugin &se = k->ctx->registry.forUri(k->keyUri);
    if (!(se.capabilities() & CapHmac))
        throw Error(Reason::Unsupported, "SE '" + se.name() + "' (" + se.info().device +
                                             ") offers no CKM_SHA256_HMAC for the TS-0003 derivations");
    return se.findSecret(k->keyUri)->hmac(NID_sha256, data);
}

SecureBytes ke2e(KdfCtx *k) {
    if (k->key.empty())
        throw Error(Reason::BadInput,
                    "mode Ke2e needs Kpsa as 'key': TS-0003 feeds it to HMAC as data, which a "
                    "token cannot do with a key it keeps");
    if (k->salt.empty()) throw Error(Reason::BadInput, "mode Ke2e needs a salt");
    if (k->index < 1 || k->index > 4)
        throw Error(Reason::BadInput, "mode Ke2e needs index 1..4 (which of the four E2E keys)");
    SecureBytes master = softHmac(k, k->salt.data(), k->salt.size(), Bytes(k->key.begin(), k->key.end()));
    SecureBytes t;
    for (unsigned int n = 1; n <= k->index; n++) {
        Bytes data(t.begin(), t.end());
        append(data, kLabelsE2e[n - 1]);
        data.push_back((unsigned char)n);
        t = softHmac(k, master.data(), master.size(), data);
        OPENSSL_cleanse(data.data(), data.size());
    }
    return t;
}

int kdf_set_ctx_params(void *c, const OSSL_PARAM params[]);

int kdf_derive(void *c, unsigned char *out, size_t outlen, const OSSL_PARAM params[]) {
    auto *k = static_cast<KdfCtx *>(c);
    return guard(k->ctx, 0, [&] {
        if (!kdf_set_ctx_params(c, params)) return 0;
        if (outlen != kOutLen && k->storeLabel.empty())
            throw Error(Reason::BadInput, "TS-0003 derivations give 32 bytes, not " + std::to_string(outlen));
        Bytes data;
        SecureBytes r;
        if (k->mode == "Km" || k->mode == "Kpsa") {
            if (k->id.empty())
                throw Error(Reason::BadInput, "mode " + k->mode + " needs id (" +
                                                  (k->mode == "Km" ? "the MAF-ID" : "the Enrolee-B-ID") + ")");
            append(data, k->mode == "Km" ? kLabelKm : kLabelKpsa);
            append(data, nfkc(k->id));
            r = inSe(k, data);
        } else if (k->mode == "usage-constrained") {
            if (k->suid.empty() || k->target.empty())
                throw Error(Reason::BadInput, "mode usage-constrained needs suid and target-id");
            append(data, kLabelUsage);
            append(data, nfkc(k->suid));
            append(data, nfkc(k->target));
            r = inSe(k, data);
        } else if (k->mode == "sessionESPrimKey") {
            if (k->receiverRand.empty() || k->originatorRand.empty())
                throw Error(Reason::BadInput, "mode sessionESPrimKey needs receiver-rand and originator-rand");
            data = k->receiverRand;
            data.insert(data.end(), k->originatorRand.begin(), k->originatorRand.end());
            append(data, kLabelSession);
            r = inSe(k, data);
        } else if (k->mode == "Ke2e") {
            r = ke2e(k);
        } else if (k->mode == "import") {
            if (k->key.empty() || k->storeLabel.empty())
                throw Error(Reason::BadInput, "mode import needs the key and store-label");
            r = k->key;
        } else {
            throw Error(Reason::BadInput, "mode '" + k->mode +
                                              "' is not one of Km, Kpsa, usage-constrained, Ke2e, sessionESPrimKey, import");
        }
        if (!k->storeLabel.empty()) {
            SePlugin &se = k->storeWhere.empty() ? k->ctx->registry.able(CapHmac, "keeping a secret key")
                                                 : k->ctx->registry.forUri(k->storeWhere);
            std::string uri = se.importSecret(r, k->storeLabel, k->storeWhere)->uri();
            if (uri.size() >= outlen)
                throw Error(Reason::BadInput, "the output buffer is too small for the new key's URI (" +
                                                  std::to_string(uri.size() + 1) + " bytes)");
            std::fill(out, out + outlen, 0);
            std::copy(uri.begin(), uri.end(), out);
            return 1;
        }
        std::copy(r.begin(), r.end(), out);
        return 1;
    });
}

int kdf_set_ctx_params(void *c, const OSSL_PARAM params[]) {
    auto *k = static_cast<KdfCtx *>(c);
    if (!params) return 1;
    return guard(k->ctx, 0, [&] {
        const OSSL_PARAM *p;
        for (auto [name, dst] : {std::pair{"mode", &k->mode}, std::pair{"key-uri", &k->keyUri},
                                 std::pair{"id", &k->id}, std::pair{"suid", &k->suid},
                                 std::pair{"target-id", &k->target}, std::pair{"store-label", &k->storeLabel},
                                 std::pair{"store-where", &k->storeWhere}}) {
            const char *s = nullptr;
            if (!(p = OSSL_PARAM_locate_const(params, name))) continue;
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            *dst = s;
        }
        for (auto [name, dst] : {std::pair{"salt", &k->salt}, std::pair{"receiver-rand", &k->receiverRand},
                                 std::pair{"originator-rand", &k->originatorRand}}) {
            const void *v = nullptr;
            size_t n = 0;
            if (!(p = OSSL_PARAM_locate_const(params, name))) continue;
            if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &n)) return 0;
            dst->assign((const unsigned char *)v, (const unsigned char *)v + n);
        }
        if ((p = OSSL_PARAM_locate_const(params, OSSL_KDF_PARAM_KEY))) {
            const void *v = nullptr;
            size_t n = 0;
            if (!OSSL_PARAM_get_octet_string_ptr(p, &v, &n)) return 0;
            k->key.assign((const unsigned char *)v, (const unsigned char *)v + n);
        }
        if ((p = OSSL_PARAM_locate_const(params, "index")) && !OSSL_PARAM_get_uint(p, &k->index))
            return 0;
        return 1;
    });
}

const OSSL_PARAM *kdf_settable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string("mode", nullptr, 0),
        OSSL_PARAM_utf8_string("key-uri", nullptr, 0),
        OSSL_PARAM_utf8_string("id", nullptr, 0),
        OSSL_PARAM_utf8_string("suid", nullptr, 0),
        OSSL_PARAM_utf8_string("target-id", nullptr, 0),
        OSSL_PARAM_utf8_string("store-label", nullptr, 0),
        OSSL_PARAM_utf8_string("store-where", nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, nullptr, 0),
        OSSL_PARAM_octet_string("salt", nullptr, 0),
        OSSL_PARAM_octet_string("receiver-rand", nullptr, 0),
        OSSL_PARAM_octet_string("originator-rand", nullptr, 0),
        OSSL_PARAM_uint("index", nullptr),
        OSSL_PARAM_END};
    return p;
}

int kdf_get_ctx_params(void *, OSSL_PARAM params[]) {
    OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_KDF_PARAM_SIZE);
    return p ? OSSL_PARAM_set_size_t(p, kOutLen) : 1;
}

const OSSL_PARAM *kdf_gettable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {OSSL_PARAM_size_t(OSSL_KDF_PARAM_SIZE, nullptr), OSSL_PARAM_END};
    return p;
}

}  // namespace

const OSSL_DISPATCH kOneM2MKdf[] = {
    {OSSL_FUNC_KDF_NEWCTX, (void (*)(void))kdf_newctx},
    {OSSL_FUNC_KDF_DUPCTX, (void (*)(void))kdf_dupctx},
    {OSSL_FUNC_KDF_FREECTX, (void (*)(void))kdf_freectx},
    {OSSL_FUNC_KDF_RESET, (void (*)(void))kdf_reset},
    {OSSL_FUNC_KDF_DERIVE, (void (*)(void))kdf_derive},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, (void (*)(void))kdf_settable_ctx_params},
    {OSSL_FUNC_KDF_SET_CTX_PARAMS, (void (*)(void))kdf_set_ctx_params},
    {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, (void (*)(void))kdf_gettable_ctx_params},
    {OSSL_FUNC_KDF_GET_CTX_PARAMS, (void (*)(void))kdf_get_ctx_params},
    {0, nullptr}};

}  // namespace secsf::prov
