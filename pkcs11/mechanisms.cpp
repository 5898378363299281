#include "mechanisms.h"

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <memory>

#include "secsf/error.h"

namespace secsf::p11 {

namespace {
struct Hash {
    int nid;
    CK_MECHANISM_TYPE mech;
    CK_RSA_PKCS_MGF_TYPE mgf;
    CK_MECHANISM_TYPE hmac;
};
const Hash kHashes[] = {
    {NID_sha1, CKM_SHA_1, CKG_MGF1_SHA1, CKM_SHA_1_HMAC},
    {NID_sha224, CKM_SHA224, CKG_MGF1_SHA224, CKM_SHA224_HMAC},
    {NID_sha256, CKM_SHA256, CKG_MGF1_SHA256, CKM_SHA256_HMAC},
    {NID_sha384, CKM_SHA384, CKG_MGF1_SHA384, CKM_SHA384_HMAC},
    {NID_sha512, CKM_SHA512, CKG_MGF1_SHA512, CKM_SHA512_HMAC},
};

const Hash &hash(int nid) {
    for (auto &h : kHashes)
        if (h.nid == nid) return h;
    throw Error(Reason::Unsupported,
                std::string("digest ") + (OBJ_nid2sn(nid) ? OBJ_nid2sn(nid) : "?") +
                    " has no PKCS#11 mechanism secsf knows");
}
}  // namespace

CK_MECHANISM_TYPE hashMechanism(int nid) { return hash(nid).mech; }
CK_RSA_PKCS_MGF_TYPE mgf1Generator(int nid) { return hash(nid).mgf; }
CK_MECHANISM_TYPE hmacMechanism(int nid) { return hash(nid).hmac; }

Bytes digestInfo(int nid, const Bytes &digest) {
    std::unique_ptr<X509_SIG, decltype(&X509_SIG_free)> sig(X509_SIG_new(), X509_SIG_free);
    if (!sig) throw Error(Reason::Generic, "out of memory");
    X509_ALGOR *alg = nullptr;
    ASN1_OCTET_STRING *oct = nullptr;
    X509_SIG_getm(sig.get(), &alg, &oct);
    ASN1_OBJECT *obj = OBJ_nid2obj(nid);
    if (!obj || OBJ_length(obj) == 0)
        throw Error(Reason::Unsupported, "digest has no OID for a PKCS#1 DigestInfo");
    if (!X509_ALGOR_set0(alg, obj, V_ASN1_NULL, nullptr) ||
        !ASN1_OCTET_STRING_set(oct, digest.data(), (int)digest.size()))
        throw Error(Reason::Generic, "cannot build DigestInfo");
    unsigned char *der = nullptr;
    int len = i2d_X509_SIG(sig.get(), &der);
    if (len <= 0) throw Error(Reason::Generic, "cannot encode DigestInfo");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Bytes ecParamsForCurve(const std::string &curve) {
    int nid = curve == "ED25519" ? NID_ED25519 : EC_curve_nist2nid(curve.c_str());
    if (nid == NID_undef) nid = OBJ_txt2nid(curve.c_str());
    if (nid == NID_undef) throw Error(Reason::Unsupported, "unknown EC curve '" + curve + "'");
    ASN1_OBJECT *obj = OBJ_nid2obj(nid);
    int len = i2d_ASN1_OBJECT(obj, nullptr);
    if (len <= 0) throw Error(Reason::Unsupported, "EC curve '" + curve + "' has no OID");
    Bytes out(len);
    unsigned char *p = out.data();
    i2d_ASN1_OBJECT(obj, &p);
    return out;
}

void curveFromEcParams(const Bytes &params, std::string &name, int &fieldBits) {
    const unsigned char *p = params.data();
    ASN1_OBJECT *obj = d2i_ASN1_OBJECT(nullptr, &p, (long)params.size());
    int nid = obj ? OBJ_obj2nid(obj) : NID_undef;
    ASN1_OBJECT_free(obj);
    if (nid == NID_undef) {
        // RFC 8410 names are also written as PrintableString "edwards25519".
        std::string s(params.begin(), params.end());
        if (s.find("edwards25519") != std::string::npos) nid = NID_ED25519;
    }
    if (nid == NID_ED25519) {
        name = "ED25519";
        fieldBits = 256;
        return;
    }
    if (nid == NID_undef)
        throw Error(Reason::Unsupported, "EC key with explicit or unknown curve parameters");
    std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> g(EC_GROUP_new_by_curve_name(nid),
                                                          EC_GROUP_free);
    if (!g) throw Error(Reason::Unsupported, std::string("unsupported EC curve ") + OBJ_nid2sn(nid));
    name = OBJ_nid2sn(nid);
    fieldBits = EC_GROUP_get_degree(g.get());
}

}  // namespace secsf::p11
