// RSA decryption with the private key in the SE: OAEP (OpenSSL's default digest
// SHA-1 / MGF1-SHA-1 when none is set, or any digest the token offers) and PKCS#1
// v1.5. As with signatures, a software context on the public key keeps the
// parameters (so they are read exactly as OpenSSL reads them) and does encryption.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>

#include "digests.h"
#include "errors.h"
#include "key.h"
#include "provider.h"

namespace secsf::prov {
namespace {

struct RsaCipherCtx {
    ProvCtx *ctx;
    ProvKey *key = nullptr;
    bool decrypting = false;
    EVP_PKEY_CTX *soft = nullptr;  // encrypt-initialised on the public half
    ~RsaCipherCtx() { EVP_PKEY_CTX_free(soft); }
};

void *rsa_newctx(void *provctx) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * { return new RsaCipherCtx{ctx}; });
}

void rsa_freectx(void *c) { delete static_cast<RsaCipherCtx *>(c); }

void *rsa_dupctx(void *c) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    return guard(r->ctx, (void *)nullptr, [&]() -> void * {
        auto *d = new RsaCipherCtx{r->ctx, r->key, r->decrypting};
        if (r->soft && !(d->soft = EVP_PKEY_CTX_dup(r->soft))) {
            delete d;
            return nullptr;
        }
        return d;
    });
}

int init(RsaCipherCtx *r, void *keydata, const OSSL_PARAM params[], bool decrypting) {
    auto *k = static_cast<ProvKey *>(keydata);
    if (!k || k->magic != ProvKey::kMagic || k->type != KeyType::RSA || !k->soft)
        throw Error(Reason::BadInput, "not an RSA key held by secsf");
    if (decrypting && !k->hasPrivate())
        throw Error(Reason::Unsupported, "decryption needs an RSA private key in a Secure Environment");
    EVP_PKEY_CTX_free(r->soft);
    r->soft = EVP_PKEY_CTX_new_from_pkey(r->ctx->libctx, k->soft, kSoftwareProps);
    if (!r->soft || EVP_PKEY_encrypt_init(r->soft) <= 0)
        throw Error(Reason::Unsupported, "no software RSA for the public half");
    r->key = k;
    r->decrypting = decrypting;
    if (params && params[0].key && !EVP_PKEY_CTX_set_params(r->soft, params)) return 0;
    return 1;
}

int rsa_decrypt_init(void *c, void *key, const OSSL_PARAM params[]) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    return guard(r->ctx, 0, [&] { return init(r, key, params, true); });
}

int rsa_encrypt_init(void *c, void *key, const OSSL_PARAM params[]) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    return guard(r->ctx, 0, [&] { return init(r, key, params, false); });
}

std::string utf8Param(EVP_PKEY_CTX *p, const char *name) {
    char buf[80] = {0};
    OSSL_PARAM q[] = {OSSL_PARAM_utf8_string(name, buf, sizeof buf), OSSL_PARAM_END};
    if (!EVP_PKEY_CTX_get_params(p, q) || !OSSL_PARAM_modified(q)) return {};
    return buf;
}

DecryptRequest request(RsaCipherCtx *r) {
    DecryptRequest req;
    int pad = RSA_PKCS1_PADDING;
    OSSL_PARAM q[] = {OSSL_PARAM_int(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, &pad), OSSL_PARAM_END};
    EVP_PKEY_CTX_get_params(r->soft, q);
    if (pad == RSA_PKCS1_PADDING) {
        req.padding = DecryptRequest::Pkcs1;
    } else if (pad == RSA_PKCS1_OAEP_PADDING) {
        req.padding = DecryptRequest::Oaep;
        req.oaepDigestNid = digestNid(utf8Param(r->soft, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST));
        req.mgf1Nid = digestNid(utf8Param(r->soft, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST));
        void *label = nullptr;
        size_t n = 0;
        OSSL_PARAM l[] = {OSSL_PARAM_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, &label, 0),
                          OSSL_PARAM_END};
        if (EVP_PKEY_CTX_get_params(r->soft, l) && OSSL_PARAM_modified(l) && label) {
            n = l[0].return_size;
            req.label.assign((unsigned char *)label, (unsigned char *)label + n);
        }
    } else {
        throw Error(Reason::Unsupported, "RSA padding mode " + std::to_string(pad) +
                                             " is not offered for SE keys (use OAEP or PKCS#1 v1.5)");
    }
    return req;
}

int rsa_decrypt(void *c, unsigned char *out, size_t *outlen, size_t outsize,
                const unsigned char *in, size_t inlen) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    return guard(r->ctx, 0, [&] {
        size_t max = (r->key->bits() + 7) / 8;
        if (!out) {
            *outlen = max;
            return 1;
        }
        if (inlen != max)
            throw Error(Reason::BadInput, "ciphertext is " + std::to_string(inlen) +
                                              " bytes, the key needs " + std::to_string(max));
        SecureBytes plain = r->key->se->decrypt(request(r), Bytes(in, in + inlen));
        if (plain.size() > outsize)
            throw Error(Reason::BadInput, "output buffer too small for the plaintext");
        std::copy(plain.begin(), plain.end(), out);
        *outlen = plain.size();
        return 1;
    });
}

int rsa_encrypt(void *c, unsigned char *out, size_t *outlen, size_t outsize,
                const unsigned char *in, size_t inlen) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    *outlen = outsize;
    return EVP_PKEY_encrypt(r->soft, out, outlen, in, inlen);
}

int rsa_get_ctx_params(void *c, OSSL_PARAM params[]) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    return r->soft && EVP_PKEY_CTX_get_params(r->soft, params);
}

int rsa_set_ctx_params(void *c, const OSSL_PARAM params[]) {
    auto *r = static_cast<RsaCipherCtx *>(c);
    if (!params || !params[0].key) return 1;
    return r->soft && EVP_PKEY_CTX_set_params(r->soft, params);
}

const OSSL_PARAM *rsa_settable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, nullptr, 0),
        OSSL_PARAM_END};
    return p;
}

const OSSL_PARAM *rsa_gettable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, nullptr, 0),
        OSSL_PARAM_END};
    return p;
}

}  // namespace

const OSSL_DISPATCH kRsaAsymCipher[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))rsa_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))rsa_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))rsa_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))rsa_decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))rsa_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))rsa_encrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))rsa_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))rsa_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))rsa_gettable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))rsa_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_settable_ctx_params},
    {0, nullptr}};

}  // namespace secsf::prov
