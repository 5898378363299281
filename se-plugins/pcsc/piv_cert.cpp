// The certificate secsf puts in a slot after generating its key. OpenSSL builds the
// TBSCertificate; the card signs it; the pieces are assembled as DER here.
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "../public_key.h"
#include "piv_plugin.h"
#include "secsf/error.h"
#include "tlv.h"

namespace secsf::pcsc {

namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Bytes derOf(X509 *x) {
    unsigned char *p = nullptr;
    int n = i2d_X509(x, &p);
    if (n <= 0) throw Error(Reason::Generic, "cannot encode the certificate");
    Bytes out(p, p + n);
    OPENSSL_free(p);
    return out;
}

}  // namespace

Bytes selfSignedCertificate(SeKey &key, const std::string &commonName) {
    const PublicKey &pub = key.publicKey();
    PkeyPtr pk(publicKeyToEvp(pub), EVP_PKEY_free);
    bool rsa = pub.type == KeyType::RSA;
    int mdNid = pub.type == KeyType::EC && pub.bits == 384 ? NID_sha384 : NID_sha256;
    const EVP_MD *md = EVP_get_digestbynid(mdNid);

    X509Ptr x(X509_new(), X509_free);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7F;
    BIGNUM *sn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(sn, X509_get_serialNumber(x.get()));
    BN_free(sn);
    X509_set_version(x.get(), 2);
    X509_NAME *name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)commonName.c_str(), -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x.get(), pk.get());
    X509_EXTENSION *ku = X509V3_EXT_nconf_nid(
        nullptr, nullptr, NID_key_usage,
        rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature,keyAgreement");
    if (ku) X509_add_ext(x.get(), ku, -1);
    X509_EXTENSION_free(ku);

    // Signing once with a throw-away software key of the same kind fills in the
    // algorithm identifiers (inside and outside the TBSCertificate) the card's
    // signature needs; its signature is then replaced.
    PkeyPtr tmp(rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", (size_t)1024)
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", pub.bits == 384 ? "P-384" : "P-256"),
                EVP_PKEY_free);
    if (!tmp || X509_sign(x.get(), tmp.get(), md) <= 0) throw Error(Reason::Generic, "cannot prepare the certificate");

    unsigned char *tbsp = nullptr;
    int tbsLen = i2d_re_X509_tbs(x.get(), &tbsp);
    if (tbsLen <= 0) throw Error(Reason::Generic, "cannot encode the TBSCertificate");
    Bytes tbs(tbsp, tbsp + tbsLen);
    OPENSSL_free(tbsp);
    SignRequest req;
    req.scheme = rsa ? SignScheme::RsaPkcs1 : SignScheme::Ecdsa;
    req.digestNid = mdNid;
    req.data.resize((size_t)EVP_MD_get_size(md));
    unsigned dl = 0;
    EVP_Digest(tbs.data(), tbs.size(), req.data.data(), &dl, md, nullptr);
    Bytes sig = key.sign(req);
    if (!rsa) sig = ecdsaSigDer(sig);
    const ASN1_BIT_STRING *oldSig = nullptr;
    const X509_ALGOR *alg = nullptr;
    X509_get0_signature(&oldSig, &alg, x.get());
    unsigned char *ap = nullptr;
    int an = i2d_X509_ALGOR(alg, &ap);
    if (an <= 0) throw Error(Reason::Generic, "cannot encode the signature algorithm");
    Bytes body = tbs;
    body.insert(body.end(), ap, ap + an);
    OPENSSL_free(ap);
    Bytes bits = {0x00};
    bits.insert(bits.end(), sig.begin(), sig.end());
    Bytes bs = tlv(0x03, bits);
    body.insert(body.end(), bs.begin(), bs.end());
    Bytes der = tlv(0x30, body);

    const unsigned char *p = der.data();
    X509Ptr check(d2i_X509(nullptr, &p, (long)der.size()), X509_free);
    if (!check || X509_verify(check.get(), pk.get()) != 1)
        throw Error(Reason::DeviceError, "the card's signature on the new key's certificate does not verify");
    return derOf(check.get());
}

}  // namespace secsf::pcsc
