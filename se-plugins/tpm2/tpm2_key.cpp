#include "tpm2_key.h"

#include <openssl/objects.h>

#include <cstring>

#include "secsf/error.h"

namespace secsf::tpm2 {

namespace {

TPMI_ALG_HASH hashAlg(int nid) {
    switch (nid) {
    case NID_sha1: return TPM2_ALG_SHA1;
    case NID_sha256: return TPM2_ALG_SHA256;
    case NID_sha384: return TPM2_ALG_SHA384;
    case NID_sha512: return TPM2_ALG_SHA512;
    default:
        throw Error(Reason::Unsupported, std::string("the TPM has no ") +
                                             (nid ? OBJ_nid2sn(nid) : "(no digest)") +
                                             " for this operation");
    }
}

void appendPadded(Bytes &out, const uint8_t *p, size_t n, size_t width) {
    if (n < width) out.insert(out.end(), width - n, 0);
    out.insert(out.end(), p, p + n);
}

}  // namespace

PublicKey publicOf(const TPM2B_PUBLIC &b) {
    const TPMT_PUBLIC &p = b.publicArea;
    PublicKey k;
    if (p.type == TPM2_ALG_ECC) {
        k.type = KeyType::EC;
        int field;
        switch (p.parameters.eccDetail.curveID) {
        case TPM2_ECC_NIST_P256: k.group = "prime256v1"; field = 32; break;
        case TPM2_ECC_NIST_P384: k.group = "secp384r1"; field = 48; break;
        case TPM2_ECC_NIST_P521: k.group = "secp521r1"; field = 66; break;
        default: throw Error(Reason::Unsupported, "TPM key on a curve secsf does not know");
        }
        k.bits = field == 66 ? 521 : field * 8;
        k.ecPoint.push_back(0x04);
        appendPadded(k.ecPoint, p.unique.ecc.x.buffer, p.unique.ecc.x.size, field);
        appendPadded(k.ecPoint, p.unique.ecc.y.buffer, p.unique.ecc.y.size, field);
    } else if (p.type == TPM2_ALG_RSA) {
        k.type = KeyType::RSA;
        k.n.assign(p.unique.rsa.buffer, p.unique.rsa.buffer + p.unique.rsa.size);
        uint32_t e = p.parameters.rsaDetail.exponent ? p.parameters.rsaDetail.exponent : 65537;
        for (int shift = 24; shift >= 0; shift -= 8)
            if ((e >> shift) || !k.e.empty()) k.e.push_back((unsigned char)(e >> shift));
        k.bits = p.parameters.rsaDetail.keyBits;
    } else {
        throw Error(Reason::Unsupported, "TPM object is neither an ECC nor an RSA key");
    }
    return k;
}

Key::Key(std::string seName, const Config &cfg, KeyRef ref)
    : seName_(std::move(seName)), cfg_(cfg), ref_(std::move(ref)), pub_(publicOf(ref_.pub)) {}

std::string Key::uri() const {
    Uri u;
    u.handle = ref_.handle;
    u.file = ref_.file;
    if (!ref_.label.empty()) u.label = ref_.label;
    if (!ref_.pinSourceText.empty()) u.pinSource = ref_.pinSourceText;
    return u.format();
}

ESYS_TR Key::load(Session &s) {
    ESYS_TR h = ESYS_TR_NONE;
    if (ref_.handle) {
        h = s.persistent(*ref_.handle, "finding " + uri() + " in the TPM");
    } else {
        s.check(Esys_Load(s.esys(), s.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                          &ref_.priv, &ref_.pub, &h),
                "loading " + uri() + " into the TPM (is it this TPM's key?)");
        s.flushLater(h);
    }
    // A key under dictionary-attack protection (one made with an authorization value,
    // or by another tool): a value that has not worked yet might be wrong.
    if (!(ref_.pub.publicArea.objectAttributes & TPMA_OBJECT_NODA) && !authWorked_) s.refuseLastTries(uri());
    TPM2B_AUTH auth{};
    if (ref_.auth.present()) {
        SecureString a = ref_.auth.read();
        if (a.str().size() > sizeof auth.buffer) throw Error(Reason::BadInput, "authorization value too long");
        auth.size = (UINT16)a.str().size();
        memcpy(auth.buffer, a.str().data(), auth.size);
    }
    s.check(Esys_TR_SetAuth(s.esys(), h, &auth), "setting the key's authorization");
    OPENSSL_cleanse(&auth, sizeof auth);
    return h;
}

Bytes Key::sign(const SignRequest &req) {
    if (req.scheme == SignScheme::EdDsa) throw Error(Reason::Unsupported, "the TPM has no Ed25519");
    if (!req.digestNid)
        throw Error(Reason::Unsupported, "the TPM signs digests with their algorithm, not raw data");
    TPMT_SIG_SCHEME scheme{};
    TPMI_ALG_HASH h = hashAlg(req.digestNid);
    int mdSize = (int)req.data.size();
    switch (req.scheme) {
    case SignScheme::Ecdsa: scheme.scheme = TPM2_ALG_ECDSA; scheme.details.ecdsa.hashAlg = h; break;
    case SignScheme::RsaPkcs1: scheme.scheme = TPM2_ALG_RSASSA; scheme.details.rsassa.hashAlg = h; break;
    case SignScheme::RsaPss:
        // The TPM (TPM 2.0 spec part 1, 1.38+) salts PSS with the digest length.
        if (req.saltLen != mdSize)
            throw Error(Reason::Unsupported, "the TPM makes RSA-PSS signatures with a salt as long as "
                                             "the digest (" + std::to_string(mdSize) + " bytes), not " +
                                                 std::to_string(req.saltLen));
        if (req.mgf1Nid && req.mgf1Nid != req.digestNid)
            throw Error(Reason::Unsupported, "the TPM uses the signature digest for MGF1");
        scheme.scheme = TPM2_ALG_RSAPSS;
        scheme.details.rsapss.hashAlg = h;
        break;
    default: break;
    }
    TPM2B_DIGEST digest{};
    if (req.data.size() > sizeof digest.buffer) throw Error(Reason::BadInput, "digest too long");
    digest.size = (UINT16)req.data.size();
    memcpy(digest.buffer, req.data.data(), digest.size);
    TPMT_TK_HASHCHECK ticket{};
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    Session s(cfg_);
    ESYS_TR k = load(s);
    TPMT_SIGNATURE *sig = nullptr;
    s.check(Esys_Sign(s.esys(), k, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                      &ticket, &sig),
            "signing with " + uri());
    authWorked();
    Bytes out;
    if (sig->sigAlg == TPM2_ALG_ECDSA) {
        size_t field = (pub_.bits + 7) / 8;
        appendPadded(out, sig->signature.ecdsa.signatureR.buffer, sig->signature.ecdsa.signatureR.size, field);
        appendPadded(out, sig->signature.ecdsa.signatureS.buffer, sig->signature.ecdsa.signatureS.size, field);
    } else {
        const TPM2B_PUBLIC_KEY_RSA &r = sig->sigAlg == TPM2_ALG_RSAPSS ? sig->signature.rsapss.sig
                                                                        : sig->signature.rsassa.sig;
        out.assign(r.buffer, r.buffer + r.size);
    }
    Esys_Free(sig);
    return out;
}

SecureBytes Key::derive(const Bytes &peer) {
    if (pub_.type != KeyType::EC) throw Error(Reason::Unsupported, "ECDH needs an EC key; " + uri() + " is not one");
    size_t field = (pub_.bits + 7) / 8;
    if (peer.size() != 1 + 2 * field || peer[0] != 0x04)
        throw Error(Reason::BadInput, "the peer point is not an uncompressed point on the key's curve");
    TPM2B_ECC_POINT in{};
    in.point.x.size = in.point.y.size = (UINT16)field;
    memcpy(in.point.x.buffer, peer.data() + 1, field);
    memcpy(in.point.y.buffer, peer.data() + 1 + field, field);
    Session s(cfg_);
    ESYS_TR k = load(s);
    TPM2B_ECC_POINT *z = nullptr;
    s.check(Esys_ECDH_ZGen(s.esys(), k, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in, &z),
            "ECDH (TPM2_ECDH_ZGen) with " + uri());
    authWorked();
    SecureBytes out;
    if (z->point.x.size < field) out.insert(out.end(), field - z->point.x.size, 0);
    out.insert(out.end(), z->point.x.buffer, z->point.x.buffer + z->point.x.size);
    OPENSSL_cleanse(z, sizeof *z);
    Esys_Free(z);
    return out;
}

SecureBytes Key::decrypt(const DecryptRequest &req, const Bytes &ct) {
    if (pub_.type != KeyType::RSA) throw Error(Reason::Unsupported, "decryption needs an RSA key; " + uri() + " is not one");
    TPMT_RSA_DECRYPT scheme{};
    TPM2B_DATA label{};
    if (req.padding == DecryptRequest::Oaep) {
        int md = req.oaepDigestNid ? req.oaepDigestNid : NID_sha1;
        if (req.mgf1Nid && req.mgf1Nid != md)
            throw Error(Reason::Unsupported, "the TPM uses the OAEP digest for MGF1");
        scheme.scheme = TPM2_ALG_OAEP;
        scheme.details.oaep.hashAlg = hashAlg(md);
        if (!req.label.empty()) {
            // The TPM takes the label with its terminating zero (spec part 1, B.4).
            if (req.label.size() + 1 > sizeof label.buffer) throw Error(Reason::BadInput, "OAEP label too long");
            memcpy(label.buffer, req.label.data(), req.label.size());
            label.size = (UINT16)req.label.size() + 1;
        }
    } else {
        scheme.scheme = TPM2_ALG_RSAES;
    }
    TPM2B_PUBLIC_KEY_RSA in{};
    if (ct.size() > sizeof in.buffer) throw Error(Reason::BadInput, "ciphertext too long");
    in.size = (UINT16)ct.size();
    memcpy(in.buffer, ct.data(), ct.size());
    Session s(cfg_);
    ESYS_TR k = load(s);
    TPM2B_PUBLIC_KEY_RSA *m = nullptr;
    TSS2_RC rc = Esys_RSA_Decrypt(s.esys(), k, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in,
                                  &scheme, &label, &m);
    try {
        s.check(rc, "decrypting with " + uri());
    } catch (const Error &e) {
        // Parameter errors mean the TPM refused the data; libtpms answers a bad OAEP
        // block with TPM_RC_FAILURE (and goes on working), so that counts too.
        bool refused = e.reason() == Reason::BadInput || e.reason() == Reason::Unsupported ||
                       (rc & 0xfff) == TPM2_RC_FAILURE;
        if (!refused) throw;
        throw Error(Reason::BadInput, std::string("the ciphertext was rejected (wrong key, wrong "
                                                  "padding or tampered data): ") + e.what());
    }
    authWorked();
    SecureBytes out(m->buffer, m->buffer + m->size);
    OPENSSL_cleanse(m, sizeof *m);
    Esys_Free(m);
    return out;
}

SecureBytes Key::hmac(int, const Bytes &) {
    throw Error(Reason::Unsupported, "secsf does not run the TS-0003 HMAC derivations on the TPM yet");
}

}  // namespace secsf::tpm2
