#include "pkcs11_pubkey.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

#include "../../pkcs11/mechanisms.h"
#include "../../pkcs11/objects.h"
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
        auto point = p11::getBytes(s, obj, CKA_EC_POINT);
        if (!point) {
            auto id = p11::getBytes(s, obj, CKA_ID);
            point = findEcPoint(s, id ? *id : Bytes{});
        }
        if (!point) return false;
        // DER OCTET STRING (04 20 ...) or the raw 32 bytes.
        if (point->size() == 34 && (*point)[0] == 0x04 && (*point)[1] == 32)
            point->erase(point->begin(), point->begin() + 2);
        if (point->size() != 32) return false;
        out.ecPoint = *point;
        return true;
    }
    if (*kt == CKK_EC) {
        out.type = KeyType::EC;
        auto params = p11::getBytes(s, obj, CKA_EC_PARAMS);
        if (!params) return false;
        p11::curveFromEcParams(*params, out.group, out.bits);
        size_t field = (out.bits + 7) / 8;
        auto point = p11::getBytes(s, obj, CKA_EC_POINT);
        if (!point) {
            auto id = p11::getBytes(s, obj, CKA_ID);
            point = findEcPoint(s, id ? *id : Bytes{});
        }
        if (!point) return false;
        out.ecPoint = p11::unwrapEcPoint(*point, field);
        return true;
    }
    return false;
}

}  // namespace secsf
