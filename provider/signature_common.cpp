#include "signature_common.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <string>

#include "errors.h"
#include "key.h"

namespace secsf::prov {

namespace {

struct SigCtx {
    ProvCtx *ctx;
    KeyType type;
    ProvKey *key = nullptr;  // borrowed: the EVP_PKEY outlives the operation
    bool signing = false;
    EVP_MD_CTX *hash = nullptr;      // digest-sign: our hashing of the message
    EVP_MD_CTX *softMd = nullptr;    // digest mode: the software verify context
    EVP_PKEY_CTX *soft = nullptr;    // plain mode: the software verify context

    EVP_PKEY_CTX *params() const { return softMd ? EVP_MD_CTX_get_pkey_ctx(softMd) : soft; }
    void reset() {
        EVP_MD_CTX_free(hash);
        EVP_MD_CTX_free(softMd);
        EVP_PKEY_CTX_free(soft);
        hash = softMd = nullptr;
        soft = nullptr;
    }
    ~SigCtx() { reset(); }
};

ProvKey *checkKey(SigCtx *c, void *keydata, bool signing) {
    auto *k = static_cast<ProvKey *>(keydata);
    if (!k || k->magic != ProvKey::kMagic || k->type != c->type)
        throw Error(Reason::BadInput, "not a secsf key of the right type");
    if (signing && !k->hasPrivate())
        throw Error(Reason::Unsupported, "signing needs a private key in a Secure Environment");
    if (!k->soft)
        throw Error(Reason::NotFound, "the key's public half is not available from the SE");
    return k;
}

std::string getUtf8(EVP_PKEY_CTX *p, const char *name) {
    char buf[80] = {0};
    OSSL_PARAM q[] = {OSSL_PARAM_utf8_string(name, buf, sizeof buf), OSSL_PARAM_END};
    if (!EVP_PKEY_CTX_get_params(p, q) || !OSSL_PARAM_modified(q)) return {};
    return buf;
}

int getInt(EVP_PKEY_CTX *p, const char *name, int dflt) {
    int v = dflt;
    OSSL_PARAM q[] = {OSSL_PARAM_int(name, &v), OSSL_PARAM_END};
    if (!EVP_PKEY_CTX_get_params(p, q) || !OSSL_PARAM_modified(q)) return dflt;
    return v;
}

int digestNid(SigCtx *c, const std::string &name, int *size) {
    if (name.empty()) return 0;
    EVP_MD *md = EVP_MD_fetch(c->ctx->libctx, name.c_str(), kSoftwareProps);
    if (!md) throw Error(Reason::Unsupported, "unknown digest " + name);
    int nid = EVP_MD_get_type(md);
    if (size) *size = EVP_MD_get_size(md);
    EVP_MD_free(md);
    return nid;
}

Bytes derEcdsa(const Bytes &rs) {
    size_t half = rs.size() / 2;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs.data(), (int)half, nullptr);
    BIGNUM *ss = BN_bin2bn(rs.data() + half, (int)half, nullptr);
    if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss)) {
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(s);
        throw Error(Reason::Generic, "out of memory");
    }
    unsigned char *der = nullptr;
    int len = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    if (len <= 0) throw Error(Reason::DeviceError, "cannot encode the SE's ECDSA signature");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

// The SE signs a digest (or raw input) with the parameters of the software context.
Bytes signWithSe(SigCtx *c, const unsigned char *tbs, size_t tbslen) {
    EVP_PKEY_CTX *p = c->params();
    SignRequest req;
    int mdSize = 0;
    req.digestNid = digestNid(c, getUtf8(p, OSSL_SIGNATURE_PARAM_DIGEST), &mdSize);
    req.data.assign(tbs, tbs + tbslen);
    if (req.digestNid && tbslen != (size_t)mdSize)
        throw Error(Reason::BadInput, "input is " + std::to_string(tbslen) +
                                          " bytes, the digest is " + std::to_string(mdSize));
    if (c->type == KeyType::EC) {
        req.scheme = SignScheme::Ecdsa;
        return derEcdsa(c->key->se->sign(req));
    }
    int pad = getInt(p, OSSL_SIGNATURE_PARAM_PAD_MODE, RSA_PKCS1_PADDING);
    if (pad == RSA_PKCS1_PADDING) {
        req.scheme = SignScheme::RsaPkcs1;
    } else if (pad == RSA_PKCS1_PSS_PADDING) {
        if (!req.digestNid) throw Error(Reason::BadInput, "RSA-PSS needs a digest to be set");
        req.scheme = SignScheme::RsaPss;
        req.mgf1Nid = digestNid(c, getUtf8(p, OSSL_SIGNATURE_PARAM_MGF1_DIGEST), nullptr);
        int salt = getInt(p, OSSL_SIGNATURE_PARAM_PSS_SALTLEN, RSA_PSS_SALTLEN_AUTO);
        int emLen = (c->key->bits() - 1 + 7) / 8;
        int maxSalt = emLen - mdSize - 2;
        if (salt == RSA_PSS_SALTLEN_DIGEST) salt = mdSize;
        else if (salt == RSA_PSS_SALTLEN_MAX || salt == RSA_PSS_SALTLEN_AUTO) salt = maxSalt;
        if (salt < 0 || salt > maxSalt) throw Error(Reason::BadInput, "invalid RSA-PSS salt length");
        req.saltLen = salt;
    } else {
        throw Error(Reason::Unsupported, "RSA padding mode " + std::to_string(pad) +
                                             " is not available for SE keys");
    }
    return c->key->se->sign(req);
}

int finishSign(SigCtx *c, unsigned char *sig, size_t *siglen, size_t sigsize, const Bytes &s) {
    if (s.size() > sigsize) throw Error(Reason::BadInput, "signature buffer too small");
    std::copy(s.begin(), s.end(), sig);
    *siglen = s.size();
    (void)c;
    return 1;
}

int initCommon(SigCtx *c, void *keydata, const char *mdname, const OSSL_PARAM params[],
               bool signing, bool digest) {
    c->reset();
    c->key = checkKey(c, keydata, signing);
    c->signing = signing;
    if (digest && c->type == KeyType::ED25519) {
        // EdDSA hashes inside the algorithm and signs in one shot.
        if (mdname && *mdname)
            throw Error(Reason::BadInput, std::string("Ed25519 takes no digest (got ") + mdname + ")");
        c->softMd = EVP_MD_CTX_new();
        if (!c->softMd || !EVP_DigestVerifyInit_ex(c->softMd, nullptr, nullptr, c->ctx->libctx,
                                                   kSoftwareProps, c->key->soft, nullptr))
            throw Error(Reason::Unsupported, "no software Ed25519 verifier");
    } else if (digest) {
        c->softMd = EVP_MD_CTX_new();
        if (!c->softMd || !EVP_DigestVerifyInit_ex(c->softMd, nullptr, mdname, c->ctx->libctx,
                                                   kSoftwareProps, c->key->soft, nullptr))
            throw Error(Reason::Unsupported,
                        std::string("cannot set up digest ") + (mdname ? mdname : "(default)"));
        if (signing) {
            std::string md = getUtf8(c->params(), OSSL_SIGNATURE_PARAM_DIGEST);
            EVP_MD *m = EVP_MD_fetch(c->ctx->libctx, md.empty() ? "SHA256" : md.c_str(),
                                     kSoftwareProps);
            c->hash = EVP_MD_CTX_new();
            bool ok = m && c->hash && EVP_DigestInit_ex2(c->hash, m, nullptr);
            EVP_MD_free(m);
            if (!ok) throw Error(Reason::Unsupported, "cannot start digest " + md);
        }
    } else {
        c->soft = EVP_PKEY_CTX_new_from_pkey(c->ctx->libctx, c->key->soft, kSoftwareProps);
        if (!c->soft || EVP_PKEY_verify_init(c->soft) <= 0)
            throw Error(Reason::Unsupported, "no software verifier for this key type");
    }
    if (params && !EVP_PKEY_CTX_set_params(c->params(), params)) return 0;
    return 1;
}

}  // namespace

void *sig_newctx(void *provctx, const char *, KeyType t) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * { return new SigCtx{ctx, t}; });
}

void sig_freectx(void *ctx) { delete static_cast<SigCtx *>(ctx); }

void *sig_dupctx(void *ctx) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, (void *)nullptr, [&]() -> void * {
        std::unique_ptr<SigCtx> d(new SigCtx{c->ctx, c->type, c->key, c->signing});
        if (c->hash && (!(d->hash = EVP_MD_CTX_new()) || !EVP_MD_CTX_copy_ex(d->hash, c->hash)))
            return nullptr;
        if (c->softMd &&
            (!(d->softMd = EVP_MD_CTX_new()) || !EVP_MD_CTX_copy_ex(d->softMd, c->softMd)))
            return nullptr;
        if (c->soft && !(d->soft = EVP_PKEY_CTX_dup(c->soft))) return nullptr;
        return d.release();
    });
}

int sig_sign_init(void *ctx, void *key, const OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] { return initCommon(c, key, nullptr, params, true, false); });
}

int sig_verify_init(void *ctx, void *key, const OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] { return initCommon(c, key, nullptr, params, false, false); });
}

int sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
             const unsigned char *tbs, size_t tbslen) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] {
        if (!sig) {
            *siglen = c->key->maxSignatureSize();
            return 1;
        }
        return finishSign(c, sig, siglen, sigsize, signWithSe(c, tbs, tbslen));
    });
}

int sig_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
               size_t tbslen) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] { return EVP_PKEY_verify(c->soft, sig, siglen, tbs, tbslen); });
}

int sig_digest_sign_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] { return initCommon(c, key, mdname, params, true, true); });
}

int sig_digest_verify_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] { return initCommon(c, key, mdname, params, false, true); });
}

int sig_digest_update(void *ctx, const unsigned char *data, size_t len) {
    auto *c = static_cast<SigCtx *>(ctx);
    if (c->signing) return EVP_DigestUpdate(c->hash, data, len);
    return EVP_DigestVerifyUpdate(c->softMd, data, len);
}

int sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] {
        if (!sig) {
            *siglen = c->key->maxSignatureSize();
            return 1;
        }
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (!EVP_DigestFinal_ex(c->hash, md, &mdlen))
            throw Error(Reason::Generic, "digest failed");
        return finishSign(c, sig, siglen, sigsize, signWithSe(c, md, mdlen));
    });
}

int sig_digest_verify_final(void *ctx, const unsigned char *sig, size_t siglen) {
    auto *c = static_cast<SigCtx *>(ctx);
    return EVP_DigestVerifyFinal(c->softMd, sig, siglen);
}

int sig_digest_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] {
        if (!sig) {
            *siglen = c->key->maxSignatureSize();
            return 1;
        }
        SignRequest req;
        req.scheme = SignScheme::EdDsa;
        req.data.assign(tbs, tbs + tbslen);
        return finishSign(c, sig, siglen, sigsize, c->key->se->sign(req));
    });
}

int sig_digest_verify(void *ctx, const unsigned char *sig, size_t siglen,
                      const unsigned char *tbs, size_t tbslen) {
    auto *c = static_cast<SigCtx *>(ctx);
    return EVP_DigestVerify(c->softMd, sig, siglen, tbs, tbslen);
}

int sig_get_ctx_params(void *ctx, OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    if (!c->params()) return 0;
    return EVP_PKEY_CTX_get_params(c->params(), params);
}

int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    if (!params || !params[0].key) return 1;
    if (!c->params()) return 0;
    return EVP_PKEY_CTX_set_params(c->params(), params);
}

const OSSL_PARAM *sig_gettable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_END};
    return p;
}

const OSSL_PARAM *sig_settable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, nullptr, 0),
        OSSL_PARAM_END};
    return p;
}

}  // namespace secsf::prov
