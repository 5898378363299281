#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "openssl_error.h"
#include "jose.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

struct Alg {
    const char *name, *digest;
    enum { Ec, Rsa, Hmac } kind;
    int size;  // ECDSA: coordinate size
};
const Alg kAlgs[] = {{"ES256", "SHA256", Alg::Ec, 32},   {"ES384", "SHA384", Alg::Ec, 48},
                     {"ES512", "SHA512", Alg::Ec, 66},   {"RS256", "SHA256", Alg::Rsa, 0},
                     {"RS384", "SHA384", Alg::Rsa, 0},   {"RS512", "SHA512", Alg::Rsa, 0},
                     {"HS256", "SHA256", Alg::Hmac, 0}, {"HS384", "SHA384", Alg::Hmac, 0},
                     {"HS512", "SHA512", Alg::Hmac, 0}};

const Alg &algNamed(const std::string &name) {
    for (const Alg &a : kAlgs)
        if (name == a.name) return a;
    throw Error(Reason::Unsupported, "JWS algorithm '" + name + "' is not supported");
}

// The algorithm must fit the key: a verifier never lets the message choose.
void checkFits(const Alg &a, const JoseKey &key) {
    bool ok = (a.kind == Alg::Hmac && !key.secret().empty()) || (a.kind == Alg::Rsa && key.isRsa()) ||
              (a.kind == Alg::Ec && key.isEc() && (key.bits() == 521 ? 66 : key.bits() / 8) == a.size);
    if (!ok) throw Error(Reason::BadInput, std::string("JWS algorithm ") + a.name + " does not fit the key");
}

Bytes hmac(const Alg &a, const SecureBytes &key, const std::string &input) {
    EVP_MAC *mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)a.digest, 0), OSSL_PARAM_construct_end()};
    Bytes out(64);
    size_t n = 0;
    bool ok = c && EVP_MAC_init(c, key.data(), key.size(), p) && EVP_MAC_update(c, (const unsigned char *)input.data(), input.size()) &&
              EVP_MAC_final(c, out.data(), &n, out.size());
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    if (!ok) throw Error(Reason::Generic, "HMAC failed");
    out.resize(n);
    return out;
}

}  // namespace

std::vector<std::string> compactParts(const std::string &s, size_t parts) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t dot = s.find('.', start);
        out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (out.size() != parts) throw Error(Reason::BadInput, "not a compact JOSE object of " + std::to_string(parts) + " parts");
    return out;
}

namespace {

Json parseHeader(const std::string &b64) {
    Bytes h = unb64url(b64);
    Json j = parseJson(h);
    if (!j.is_object() || !j.contains("alg") || !j["alg"].is_string())
        throw Error(Reason::BadInput, "the JOSE header is not a JSON object with \"alg\"");
    // RFC 7515 4.1.11: a header we do not understand in "crit" must fail.
    if (j.contains("crit")) throw Error(Reason::Unsupported, "JOSE \"crit\" extensions are not supported");
    return j;
}

}  // namespace

std::string jwsSign(const JoseKey &key, const Bytes &payload, Json header) {
    if (!header.is_object()) throw Error(Reason::BadInput, "a JWS header is a JSON object");
    if (!header.contains("alg")) header["alg"] = key.jwsAlg();
    if (!header["alg"].is_string()) throw Error(Reason::BadInput, "a JWS header needs a string \"alg\"");
    const Alg &a = algNamed(header["alg"].get<std::string>());
    checkFits(a, key);
    std::string input = b64url(dumpJson(header)) + "." + b64url(payload);
    Bytes sig;
    if (a.kind == Alg::Hmac) {
        sig = hmac(a, key.secret(), input);
    } else {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        size_t n = 0;
        bool ok = EVP_DigestSignInit_ex(m, nullptr, a.digest, nullptr, nullptr, key.pkey(), nullptr) > 0 &&
                  EVP_DigestSign(m, nullptr, &n, (const unsigned char *)input.data(), input.size()) > 0;
        sig.resize(n);
        ok = ok && EVP_DigestSign(m, sig.data(), &n, (const unsigned char *)input.data(), input.size()) > 0;
        EVP_MD_CTX_free(m);
        if (!ok) {
            throw Error(Reason::DeviceError, "signing the JWS failed: " + takeOpensslError());
        }
        sig.resize(n);
        if (a.kind == Alg::Ec) {  // DER -> R || S (RFC 7518 3.4)
            const unsigned char *p = sig.data();
            ECDSA_SIG *es = d2i_ECDSA_SIG(nullptr, &p, (long)sig.size());
            if (!es) throw Error(Reason::Generic, "ECDSA signature is not DER");
            Bytes rs((size_t)a.size * 2);
            BN_bn2binpad(ECDSA_SIG_get0_r(es), rs.data(), a.size);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), rs.data() + a.size, a.size);
            ECDSA_SIG_free(es);
            sig = rs;
        }
    }
    return input + "." + b64url(sig);
}

Jws jwsPeek(const std::string &compact) {
    auto parts = compactParts(compact, 3);
    Jws j;
    j.header = parseHeader(parts[0]);
    j.payload = unb64url(parts[1]);
    unb64url(parts[2]);
    return j;
}

Jws jwsVerify(const std::string &compact, const JoseKey &key) {
    auto parts = compactParts(compact, 3);
    Jws j;
    j.header = parseHeader(parts[0]);
    const Alg &a = algNamed(j.header["alg"].get<std::string>());
    checkFits(a, key);
    std::string input = parts[0] + "." + parts[1];
    Bytes sig = unb64url(parts[2]);
    bool ok;
    if (a.kind == Alg::Hmac) {
        Bytes want = hmac(a, key.secret(), input);
        ok = want.size() == sig.size() && CRYPTO_memcmp(want.data(), sig.data(), sig.size()) == 0;
    } else {
        if (a.kind == Alg::Ec) {
            if (sig.size() != (size_t)a.size * 2) throw Error(Reason::BadInput, "the JWS signature has the wrong size");
            ECDSA_SIG *es = ECDSA_SIG_new();
            ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), a.size, nullptr), BN_bin2bn(sig.data() + a.size, a.size, nullptr));
            unsigned char *der = nullptr;
            int n = i2d_ECDSA_SIG(es, &der);
            ECDSA_SIG_free(es);
            sig.assign(der, der + n);
            OPENSSL_free(der);
        }
        JoseKey pub = key.publicKey();
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit_ex(m, nullptr, a.digest, nullptr, "provider=default", pub.pkey(), nullptr) > 0 &&
             EVP_DigestVerify(m, sig.data(), sig.size(), (const unsigned char *)input.data(), input.size()) == 1;
        EVP_MD_CTX_free(m);
        ERR_clear_error();
    }
    if (!ok) throw Error(Reason::BadInput, "the JWS signature does not verify");
    j.payload = unb64url(parts[1]);
    return j;
}

}  // namespace secsf::svc
