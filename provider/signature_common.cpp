#include "signature_common.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include <cstring>
#include <string>

#include "digests.h"
#include "errors.h"
#include "key.h"

namespace secsf::prov {

namespace {

// The parameters OpenSSL sets on a signature context, kept here so that signing
// needs no software context at all; one is made only to verify and to answer
// for the AlgorithmIdentifier.
struct SigParams {
    std::string md;
    int mdNid = 0, mdSize = 0;
    int pad = RSA_PKCS1_PADDING;
    int saltlen = RSA_PSS_SALTLEN_AUTO;
    std::string mgf1;
    int mgf1Nid = 0;
};

struct SigCtx {
    ProvCtx *ctx;
    KeyType type;
    ProvKey *key = nullptr;  // borrowed: the EVP_PKEY outlives the operation
    bool signing = false;
    bool digestMode = false;
    SigParams p;
    EVP_MD_CTX *hash = nullptr;      // digest-sign: our hashing of the message
    EVP_MD_CTX *softMd = nullptr;    // digest-verify: the software context
    EVP_PKEY_CTX *soft = nullptr;    // plain verify, or made on demand for AlgorithmIdentifiers

    EVP_PKEY_CTX *verifier() const { return softMd ? EVP_MD_CTX_get_pkey_ctx(softMd) : soft; }
    void reset() {
        EVP_MD_CTX_free(hash);
        EVP_MD_CTX_free(softMd);
        EVP_PKEY_CTX_free(soft);
        hash = softMd = nullptr;
        soft = nullptr;
        p = SigParams{};
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

void setDigest(SigCtx *c, const std::string &name) {
    const EVP_MD *md = digestByName(name);
    c->p.md = name;
    c->p.mdNid = EVP_MD_get_type(md);
    c->p.mdSize = EVP_MD_get_size(md);
}

int intOrName(const OSSL_PARAM *p, std::initializer_list<std::pair<const char *, int>> names, int &out) {
    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        const char *s = nullptr;
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
        for (auto &[n, v] : names)
            if (strcmp(s, n) == 0) {
                out = v;
                return 1;
            }
        char *end = nullptr;
        long v = strtol(s, &end, 10);
        if (!*s || *end) throw Error(Reason::BadInput, std::string("'") + s + "' is not a valid value");
        out = (int)v;
        return 1;
    }
    return OSSL_PARAM_get_int(p, &out);
}

int parseParams(SigCtx *c, const OSSL_PARAM params[]) {
    const OSSL_PARAM *p;
    const char *s = nullptr;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST))) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
        setDigest(c, s);
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) &&
        !intOrName(p, {{"pkcs1", RSA_PKCS1_PADDING}, {"pss", RSA_PKCS1_PSS_PADDING},
                       {"none", RSA_NO_PADDING}, {"x931", RSA_X931_PADDING}}, c->p.pad))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) &&
        !intOrName(p, {{"digest", RSA_PSS_SALTLEN_DIGEST}, {"max", RSA_PSS_SALTLEN_MAX},
                       {"auto", RSA_PSS_SALTLEN_AUTO}}, c->p.saltlen))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST))) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
        c->p.mgf1 = s;
        c->p.mgf1Nid = digestNid(s);
    }
    return 1;
}

// A software context with the same parameters, for the AlgorithmIdentifier.
EVP_PKEY_CTX *softForAid(SigCtx *c) {
    if (c->verifier()) return c->verifier();
    if (c->type == KeyType::ED25519) {  // EdDSA knows only the one-shot digest form
        c->softMd = EVP_MD_CTX_new();
        if (!c->softMd || !EVP_DigestVerifyInit_ex(c->softMd, nullptr, nullptr, c->ctx->libctx,
                                                   kSoftwareProps, c->key->soft, nullptr))
            return nullptr;
        return c->verifier();
    }
    c->soft = EVP_PKEY_CTX_new_from_pkey(c->ctx->libctx, c->key->soft, kSoftwareProps);
    if (!c->soft || EVP_PKEY_verify_init(c->soft) <= 0) return nullptr;
    OSSL_PARAM q[5];
    int n = 0;
    if (!c->p.md.empty())
        q[n++] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, const_cast<char *>(c->p.md.c_str()), 0);
    if (c->type == KeyType::RSA) {
        q[n++] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PAD_MODE, &c->p.pad);
        if (c->p.pad == RSA_PKCS1_PSS_PADDING) {
            q[n++] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &c->p.saltlen);
            if (!c->p.mgf1.empty())
                q[n++] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
                                                          const_cast<char *>(c->p.mgf1.c_str()), 0);
        }
    }
    q[n] = OSSL_PARAM_construct_end();
    if (n && !EVP_PKEY_CTX_set_params(c->soft, q)) return nullptr;
    return c->soft;
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

// The SE signs a digest (or raw input) with the context's parameters.
Bytes signWithSe(SigCtx *c, const unsigned char *tbs, size_t tbslen) {
    SignRequest req;
    req.digestNid = c->p.mdNid;
    req.data.assign(tbs, tbs + tbslen);
    if (req.digestNid && tbslen != (size_t)c->p.mdSize)
        throw Error(Reason::BadInput, "input is " + std::to_string(tbslen) + " bytes, the digest is " +
                                          std::to_string(c->p.mdSize));
    if (c->type == KeyType::EC) {
        req.scheme = SignScheme::Ecdsa;
        return derEcdsa(c->key->se->sign(req));
    }
    if (c->p.pad == RSA_PKCS1_PADDING) {
        req.scheme = SignScheme::RsaPkcs1;
    } else if (c->p.pad == RSA_PKCS1_PSS_PADDING) {
        if (!req.digestNid) throw Error(Reason::BadInput, "RSA-PSS needs a digest to be set");
        req.scheme = SignScheme::RsaPss;
        req.mgf1Nid = c->p.mgf1Nid;
        int salt = c->p.saltlen;
        int emLen = (c->key->bits() - 1 + 7) / 8;
        int maxSalt = emLen - c->p.mdSize - 2;
        if (salt == RSA_PSS_SALTLEN_DIGEST) salt = c->p.mdSize;
        else if (salt == RSA_PSS_SALTLEN_MAX || salt == RSA_PSS_SALTLEN_AUTO) salt = maxSalt;
        if (salt < 0 || salt > maxSalt) throw Error(Reason::BadInput, "invalid RSA-PSS salt length");
        req.saltLen = salt;
    } else {
        throw Error(Reason::Unsupported, "RSA padding mode " + std::to_string(c->p.pad) +
                                             " is not available for SE keys");
    }
    return c->key->se->sign(req);
}

int finishSign(unsigned char *sig, size_t *siglen, size_t sigsize, const Bytes &s) {
    if (s.size() > sigsize) throw Error(Reason::BadInput, "signature buffer too small");
    std::copy(s.begin(), s.end(), sig);
    *siglen = s.size();
    return 1;
}

int initCommon(SigCtx *c, void *keydata, const char *mdname, const OSSL_PARAM params[],
               bool signing, bool digest) {
    c->reset();
    c->key = checkKey(c, keydata, signing);
    c->signing = signing;
    c->digestMode = digest;
    if (digest && c->type == KeyType::ED25519) {
        // EdDSA hashes inside the algorithm and signs in one shot.
        if (mdname && *mdname)
            throw Error(Reason::BadInput, std::string("Ed25519 takes no digest (got ") + mdname + ")");
    } else if (digest) {
        setDigest(c, mdname && *mdname ? mdname : "SHA256");
    }
    if (params && !parseParams(c, params)) return 0;
    if (signing) {
        if (digest && c->type != KeyType::ED25519) {
            c->hash = EVP_MD_CTX_new();
            EVP_MD *m = EVP_MD_fetch(c->ctx->libctx, c->p.md.c_str(), kSoftwareProps);
            bool ok = m && c->hash && EVP_DigestInit_ex2(c->hash, m, nullptr);
            EVP_MD_free(m);
            if (!ok) throw Error(Reason::Unsupported, "cannot start digest " + c->p.md);
        }
        return 1;
    }
    // Verification runs entirely in software, on the public half.
    if (digest) {
        c->softMd = EVP_MD_CTX_new();
        const char *md = c->type == KeyType::ED25519 ? nullptr : c->p.md.c_str();
        if (!c->softMd || !EVP_DigestVerifyInit_ex(c->softMd, nullptr, md, c->ctx->libctx,
                                                   kSoftwareProps, c->key->soft, nullptr))
            throw Error(Reason::Unsupported, "no software verifier for this key");
    } else {
        c->soft = EVP_PKEY_CTX_new_from_pkey(c->ctx->libctx, c->key->soft, kSoftwareProps);
        if (!c->soft || EVP_PKEY_verify_init(c->soft) <= 0)
            throw Error(Reason::Unsupported, "no software verifier for this key type");
    }
    if (params && params[0].key && !EVP_PKEY_CTX_set_params(c->verifier(), params)) return 0;
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
        std::unique_ptr<SigCtx> d(new SigCtx{c->ctx, c->type, c->key, c->signing, c->digestMode, c->p});
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
        return finishSign(sig, siglen, sigsize, signWithSe(c, tbs, tbslen));
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
        return finishSign(sig, siglen, sigsize, signWithSe(c, md, mdlen));
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
        return finishSign(sig, siglen, sigsize, c->key->se->sign(req));
    });
}

int sig_digest_verify(void *ctx, const unsigned char *sig, size_t siglen,
                      const unsigned char *tbs, size_t tbslen) {
    auto *c = static_cast<SigCtx *>(ctx);
    return EVP_DigestVerify(c->softMd, sig, siglen, tbs, tbslen);
}

int sig_get_ctx_params(void *ctx, OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    return guard(c->ctx, 0, [&] {
        if (!c->key) return 0;
        OSSL_PARAM *p;
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID))) {
            EVP_PKEY_CTX *soft = softForAid(c);
            OSSL_PARAM q[] = {*p, OSSL_PARAM_END};
            if (!soft || !EVP_PKEY_CTX_get_params(soft, q)) return 0;
            p->return_size = q[0].return_size;
        }
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) &&
            !OSSL_PARAM_set_utf8_string(p, c->p.md.c_str()))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE))) {
            if (p->data_type == OSSL_PARAM_INTEGER ? !OSSL_PARAM_set_int(p, c->p.pad)
                : !OSSL_PARAM_set_utf8_string(p, c->p.pad == RSA_PKCS1_PSS_PADDING ? "pss" : "pkcs1"))
                return 0;
        }
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) &&
            p->data_type == OSSL_PARAM_INTEGER && !OSSL_PARAM_set_int(p, c->p.saltlen))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) &&
            !OSSL_PARAM_set_utf8_string(p, c->p.mgf1.empty() ? c->p.md.c_str() : c->p.mgf1.c_str()))
            return 0;
        return 1;
    });
}

int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[]) {
    auto *c = static_cast<SigCtx *>(ctx);
    if (!params || !params[0].key) return 1;
    return guard(c->ctx, 0, [&] {
        if (!parseParams(c, params)) return 0;
        if (c->verifier() && !EVP_PKEY_CTX_set_params(c->verifier(), params)) return 0;
        return 1;
    });
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
