#include "pkcs11_pubkey.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <memory>
#include <mutex>
#include <set>

#include "../../pkcs11/mechanisms.h"
#include "../../pkcs11/objects.h"
#include "../../pkcs11/uri.h"
#include "../public_key.h"
#include "secsf/error.h"

namespace secsf {

namespace {

// The point from a DER certificate with the same CKA_ID (some tokens keep only
// private key + certificate, like PIV cards behind OpenSC).
bool ecPointFromCert(const Bytes &der, Bytes &point) {
    const unsigned char *p = der.data();
    std::unique_ptr<X509, decltype(&X509_free)> x(d2i_X509(nullptr, &p, (long)der.size()),
                                                  X509_free);
    if (!x) return false;
    EVP_PKEY *pk = X509_get0_pubkey(x.get());
    if (!pk) return false;
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(pk, "encoded-pub-key", nullptr, 0, &len)) return false;
    point.resize(len);
    return EVP_PKEY_get_octet_string_param(pk, "encoded-pub-key", point.data(), len, &len);
}

std::optional<Bytes> findEcPoint(p11::Session &s, const Bytes &id) {
    if (id.empty()) return std::nullopt;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, certc = CKO_CERTIFICATE;
    std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &pubc, sizeof pubc},
                                {CKA_ID, (void *)id.data(), id.size()}};
    for (CK_OBJECT_HANDLE h : p11::findObjectsRemembered(s, t))
        if (auto v = p11::getBytes(s, h, CKA_EC_POINT)) return v;
    t[0] = {CKA_CLASS, &certc, sizeof certc};
    for (CK_OBJECT_HANDLE h : p11::findObjectsRemembered(s, t)) {
        Bytes pt;
        if (auto der = p11::getBytes(s, h, CKA_VALUE))
            if (ecPointFromCert(*der, pt)) return pt;
    }
    return std::nullopt;
}

// The point from a DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO, PKCS#11 3.0).
bool ecPointFromSpki(const Bytes &der, Bytes &point) {
    const unsigned char *p = der.data();
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pk(d2i_PUBKEY(nullptr, &p, (long)der.size()),
                                                          EVP_PKEY_free);
    size_t len = 0;
    if (!pk || !EVP_PKEY_get_octet_string_param(pk.get(), "encoded-pub-key", nullptr, 0, &len)) return false;
    point.resize(len);
    return EVP_PKEY_get_octet_string_param(pk.get(), "encoded-pub-key", point.data(), len, &len);
}

bool isPrivate(p11::Session &s, CK_OBJECT_HANDLE obj) {
    auto c = p11::getULong(s, obj, CKA_CLASS);
    return c && *c == CKO_PRIVATE_KEY;
}

// The point the private object states itself, where the token gives one.
std::optional<Bytes> ownPoint(p11::Session &s, CK_OBJECT_HANDLE obj) {
    if (auto v = p11::getBytes(s, obj, CKA_EC_POINT)) return v;
    Bytes pt;
    if (auto spki = p11::getBytes(s, obj, CKA_PUBLIC_KEY_INFO))
        if (!spki->empty() && ecPointFromSpki(*spki, pt)) return pt;
    return std::nullopt;
}

// A signature over a random digest by the private key, verified in software
// (the default provider) with `pub`.
bool signsFor(p11::Session &s, CK_OBJECT_HANDLE priv, const PublicKey &pub) {
    unsigned char digest[32];
    if (RAND_bytes(digest, sizeof digest) != 1) throw Error(Reason::Generic, "no random numbers for a key check");
    CK_MECHANISM mech{pub.type == KeyType::ED25519 ? CKM_EDDSA : CKM_ECDSA, nullptr, 0};
    Bytes sig(pub.type == KeyType::ED25519 ? 64 : 2 * ((pub.bits + 7) / 8));
    CK_ULONG n = sig.size();
    CK_RV rv = s.fn()->C_SignInit(s.handle(), &mech, priv);
    if (rv == CKR_OK) rv = s.fn()->C_Sign(s.handle(), digest, sizeof digest, sig.data(), &n);
    if (rv != CKR_OK) {
        s.discard();
        // A key that cannot sign here (no login, no CKA_SIGN) cannot be checked this
        // way; its public half stays unverified, not refused.
        return true;
    }
    sig.resize(n);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pk(publicKeyToEvp(pub, nullptr, "provider=default"),
                                                          EVP_PKEY_free);
    bool ok = false;
    if (pub.type == KeyType::ED25519) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestVerifyInit_ex(md, nullptr, nullptr, nullptr, "provider=default", pk.get(), nullptr) == 1 &&
             EVP_DigestVerify(md, sig.data(), sig.size(), digest, sizeof digest) == 1;
        EVP_MD_CTX_free(md);
    } else if (sig.size() % 2 == 0) {
        Bytes der;
        try {
            der = ecdsaSigDer(sig);
        } catch (const Error &) {
        }
        EVP_PKEY_CTX *vc = EVP_PKEY_CTX_new_from_pkey(nullptr, pk.get(), "provider=default");
        ok = !der.empty() && vc && EVP_PKEY_verify_init(vc) == 1 &&
             EVP_PKEY_verify(vc, der.data(), der.size(), digest, sizeof digest) == 1;
        EVP_PKEY_CTX_free(vc);
    }
    ERR_clear_error();
    return ok;
}

// Pairs already checked in this process, by token, module generation, private
// object and point: another point or object under the same name is checked anew.
class CheckedPairs {
public:
    bool contains(const std::string &k) {
        std::lock_guard<std::mutex> lk(mu_);
        return seen_.count(k) > 0;
    }
    void add(const std::string &k) {
        std::lock_guard<std::mutex> lk(mu_);
        if (seen_.size() >= 100000) seen_.clear();  // bounded; a miss costs one signature
        seen_.insert(k);
    }

private:
    std::mutex mu_;
    std::set<std::string> seen_;
};

void checkCompanion(p11::Session &s, CK_OBJECT_HANDLE priv, const PublicKey &pub) {
    static CheckedPairs checked;
    p11::Token *t = s.token();
    std::string k = t->serial() + '/' + t->label() + '/' + std::to_string(t->generation()) + '/' +
                    std::to_string(priv) + '/' + std::string(pub.ecPoint.begin(), pub.ecPoint.end());
    if (checked.contains(k)) return;
    if (!signsFor(s, priv, pub)) {
        auto id = p11::getBytes(s, priv, CKA_ID);
        std::string key = p11::formatUri(t->label(), t->serial(), p11::getString(s, priv, CKA_LABEL),
                                         id ? *id : Bytes{}, CKO_PRIVATE_KEY);
        throw Error(Reason::DeviceError,
                    "the public key or certificate object with the CKA_ID of " + key +
                        " is not the public half of that private key (a signature by it does not "
                        "verify with it): refusing to use it. "
                        "Remove the stray public key or certificate object, or give the key pair ids of its own");
    }
    checked.add(k);
}

}  // namespace

bool readPublicKey(p11::Session &s, CK_OBJECT_HANDLE obj, PublicKey &out) {
    auto kt = p11::getULong(s, obj, CKA_KEY_TYPE);
    if (!kt) return false;
    if (*kt == CKK_RSA) {
        out.type = KeyType::RSA;
        auto n = p11::getBytes(s, obj, CKA_MODULUS);
        auto e = p11::getBytes(s, obj, CKA_PUBLIC_EXPONENT);
        if (!n || !e || n->empty()) return false;
        size_t z = 0;
        while (z + 1 < n->size() && (*n)[z] == 0) z++;
        out.n.assign(n->begin() + z, n->end());
        out.e = *e;
        out.bits = (int)out.n.size() * 8;
        for (unsigned char top = out.n[0]; !(top & 0x80); top <<= 1) out.bits--;
        return true;
    }
    if (*kt == CKK_EC_EDWARDS) {
        out.type = KeyType::ED25519;
        auto params = p11::getBytes(s, obj, CKA_EC_PARAMS);
        if (!params) return false;
        p11::curveFromEcParams(*params, out.group, out.bits);
        if (out.group != "ED25519")
            throw Error(Reason::Unsupported, "only Ed25519 is supported among Edwards curves");
        auto point = ownPoint(s, obj);
        bool companion = !point;
        if (companion) {
            auto id = p11::getBytes(s, obj, CKA_ID);
            point = findEcPoint(s, id ? *id : Bytes{});
        }
        if (!point) return false;
        // DER OCTET STRING (04 20 ...) or the raw 32 bytes.
        if (point->size() == 34 && (*point)[0] == 0x04 && (*point)[1] == 32)
            point->erase(point->begin(), point->begin() + 2);
        if (point->size() != 32) return false;
        out.ecPoint = *point;
        if (companion && isPrivate(s, obj)) checkCompanion(s, obj, out);
        return true;
    }
    if (*kt == CKK_EC) {
        out.type = KeyType::EC;
        auto params = p11::getBytes(s, obj, CKA_EC_PARAMS);
        if (!params) return false;
        p11::curveFromEcParams(*params, out.group, out.bits);
        size_t field = (out.bits + 7) / 8;
        auto point = ownPoint(s, obj);
        bool companion = !point;
        if (companion) {
            auto id = p11::getBytes(s, obj, CKA_ID);
            point = findEcPoint(s, id ? *id : Bytes{});
        }
        if (!point) return false;
        out.ecPoint = p11::unwrapEcPoint(*point, field);
        if (companion && isPrivate(s, obj)) checkCompanion(s, obj, out);
        return true;
    }
    return false;
}

}  // namespace secsf
