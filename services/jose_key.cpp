#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "openssl_error.h"
#include "jose.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

std::shared_ptr<EVP_PKEY> own(EVP_PKEY *k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }


struct Curve {
    const char *crv, *group;
    int bits, size;
};
const Curve kCurves[] = {{"P-256", "prime256v1", 256, 32}, {"P-384", "secp384r1", 384, 48}, {"P-521", "secp521r1", 521, 66}};

Bytes bnBytes(EVP_PKEY *k, const char *name, size_t pad = 0) {
    BIGNUM *bn = nullptr;
    if (!EVP_PKEY_get_bn_param(k, name, &bn)) throw Error(Reason::BadInput, std::string("key without ") + name);
    Bytes out(pad ? pad : (size_t)BN_num_bytes(bn));
    BN_bn2binpad(bn, out.data(), (int)out.size());
    BN_free(bn);
    return out;
}

}  // namespace

JoseKey JoseKey::fromPkey(EVP_PKEY *k) {
    if (!k || !EVP_PKEY_up_ref(k)) throw Error(Reason::BadInput, "no key");
    JoseKey j;
    j.pk_ = own(k);
    return j;
}

JoseKey JoseKey::fromSecret(SecureBytes secret) {
    if (secret.empty()) throw Error(Reason::BadInput, "an empty symmetric key");
    JoseKey j;
    j.secret_ = std::move(secret);
    return j;
}

JoseKey JoseKey::load(const std::string &uri) {
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (!s) throw Error(Reason::NotFound, "cannot open key " + uri + ": " + takeOpensslError());
    EVP_PKEY *priv = nullptr, *pub = nullptr;
    while (!OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (!i) break;
        if (!priv && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY) priv = OSSL_STORE_INFO_get1_PKEY(i);
        if (!pub && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PUBKEY) pub = OSSL_STORE_INFO_get1_PUBKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    if (!priv && !pub) throw Error(Reason::NotFound, "no key at " + uri + ": " + takeOpensslError());
    JoseKey j;
    j.pk_ = own(priv ? priv : pub);
    if (priv) EVP_PKEY_free(pub);
    return j;
}

JoseKey JoseKey::fromPublicPem(const std::string &pem) {
    BIO *b = BIO_new_mem_buf(pem.data(), (int)pem.size());
    EVP_PKEY *k = PEM_read_bio_PUBKEY_ex(b, nullptr, nullptr, nullptr, nullptr, "provider=default");
    BIO_free(b);
    if (!k) throw Error(Reason::BadInput, "not a PEM public key");
    JoseKey j;
    j.pk_ = own(k);
    return j;
}

bool JoseKey::isEc() const { return pk_ && EVP_PKEY_is_a(pk_.get(), "EC"); }
bool JoseKey::isRsa() const { return pk_ && EVP_PKEY_is_a(pk_.get(), "RSA"); }
int JoseKey::bits() const { return pk_ ? EVP_PKEY_get_bits(pk_.get()) : (int)secret_.size() * 8; }

JoseKey JoseKey::publicKey() const {
    if (!pk_) return *this;
    unsigned char *der = nullptr;
    int n = i2d_PUBKEY(pk_.get(), &der);
    if (n <= 0) throw Error(Reason::BadInput, "the key has no public half to export");
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY_ex(nullptr, &p, n, nullptr, "provider=default");
    OPENSSL_free(der);
    if (!k) throw Error(Reason::BadInput, "the public key cannot be read back");
    JoseKey j;
    j.pk_ = own(k);
    return j;
}

std::string JoseKey::publicPem() const {
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk_.get());
    char *data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, (size_t)n);
    BIO_free(b);
    return out;
}

Json JoseKey::publicJwk() const {
    if (!isEc() && !isRsa()) throw Error(Reason::Unsupported, "only EC and RSA keys have a JWK here");
    JoseKey pub = publicKey();  // the numbers come from the software copy
    EVP_PKEY *k = pub.pkey();
    if (isRsa())
        return {{"kty", "RSA"}, {"n", b64url(bnBytes(k, OSSL_PKEY_PARAM_RSA_N))}, {"e", b64url(bnBytes(k, OSSL_PKEY_PARAM_RSA_E))}};
    char group[64] = {};
    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr);
    for (const Curve &c : kCurves)
        if (std::string(group) == c.group)
            return {{"kty", "EC"}, {"crv", c.crv}, {"x", b64url(bnBytes(k, OSSL_PKEY_PARAM_EC_PUB_X, (size_t)c.size))},
                    {"y", b64url(bnBytes(k, OSSL_PKEY_PARAM_EC_PUB_Y, (size_t)c.size))}};
    throw Error(Reason::Unsupported, std::string("no JWK curve for ") + group);
}

JoseKey JoseKey::fromJwk(const Json &jwk) {
    if (!jwk.is_object() || !jwk.contains("kty") || !jwk["kty"].is_string()) throw Error(Reason::BadInput, "not a JWK");
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    std::vector<BIGNUM *> bns;
    auto bn = [&](const char *field) {
        if (!jwk.contains(field) || !jwk[field].is_string()) throw Error(Reason::BadInput, std::string("JWK without ") + field);
        Bytes v = unb64url(jwk[field].get<std::string>());
        bns.push_back(BN_bin2bn(v.data(), (int)v.size(), nullptr));
        return v;
    };
    std::string kty = jwk["kty"].get<std::string>();
    const char *type;
    Bytes point;
    try {
        if (kty == "RSA") {
            type = "RSA";
            bn("n");
            bn("e");
            OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bns[0]);
            OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, bns[1]);
        } else if (kty == "EC") {
            type = "EC";
            const Curve *curve = nullptr;
            for (const Curve &c : kCurves)
                if (jwk.contains("crv") && jwk["crv"] == c.crv) curve = &c;
            if (!curve) throw Error(Reason::Unsupported, "JWK curve not supported");
            Bytes x = bn("x"), y = bn("y");
            if (x.size() != (size_t)curve->size || y.size() != (size_t)curve->size)
                throw Error(Reason::BadInput, "JWK coordinates of the wrong size");
            point.push_back(0x04);
            point.insert(point.end(), x.begin(), x.end());
            point.insert(point.end(), y.begin(), y.end());
            OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0);
            OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
        } else {
            throw Error(Reason::Unsupported, "JWK kty " + kty + " not supported");
        }
    } catch (...) {
        for (BIGNUM *x : bns) BN_free(x);
        OSSL_PARAM_BLD_free(b);
        throw;
    }
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, type, "provider=default");
    EVP_PKEY *k = nullptr;
    bool ok = c && EVP_PKEY_fromdata_init(c) > 0 && EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    for (BIGNUM *x : bns) BN_free(x);
    if (!ok) throw Error(Reason::BadInput, "the JWK is not a valid key (point not on the curve?)");
    if (kty == "EC") {
        // fromdata does not check the point; a key-agreement peer must be on the curve.
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(nullptr, k, "provider=default");
        bool valid = chk && EVP_PKEY_public_check(chk) == 1;
        EVP_PKEY_CTX_free(chk);
        if (!valid) {
            EVP_PKEY_free(k);
            ERR_clear_error();
            throw Error(Reason::BadInput, "the JWK's point is not on its curve");
        }
    }
    JoseKey j;
    j.pk_ = own(k);
    return j;
}

std::string JoseKey::jwsAlg() const {
    if (!secret_.empty()) return "HS256";
    if (isRsa()) return "RS256";
    if (isEc()) {
        int b = bits();
        return b == 384 ? "ES384" : b == 521 ? "ES512" : "ES256";
    }
    throw Error(Reason::Unsupported, "no JWS algorithm for this key type");
}

}  // namespace secsf::svc
