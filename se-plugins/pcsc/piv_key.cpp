#include "piv_key.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "../../pkcs11/mechanisms.h"
#include "../public_key.h"
#include "secsf/error.h"

namespace secsf::pcsc {

namespace {

const EVP_MD *mdOf(int nid) {
    const EVP_MD *md = EVP_get_digestbynid(nid ? nid : NID_sha1);
    if (!md) throw Error(Reason::Unsupported, "unknown digest for RSA padding");
    return md;
}

// MGF1 (RFC 8017 B.2.1) XORed into `out`.
void mgf1Xor(unsigned char *out, size_t len, const unsigned char *seed, size_t seedLen, const EVP_MD *md) {
    size_t hLen = (size_t)EVP_MD_get_size(md);
    Bytes buf(seedLen + 4), h(hLen);
    memcpy(buf.data(), seed, seedLen);
    for (uint32_t counter = 0, done = 0; done < len; counter++) {
        buf[seedLen] = (unsigned char)(counter >> 24);
        buf[seedLen + 1] = (unsigned char)(counter >> 16);
        buf[seedLen + 2] = (unsigned char)(counter >> 8);
        buf[seedLen + 3] = (unsigned char)counter;
        unsigned n = 0;
        if (!EVP_Digest(buf.data(), buf.size(), h.data(), &n, md, nullptr))
            throw Error(Reason::Generic, "digest failed in MGF1");
        for (size_t i = 0; i < hLen && done < len; i++) out[done++] ^= h[i];
    }
}

// EMSA-PSS encoding (RFC 8017 9.1.1) of a message hash, as the card signs it raw.
Bytes pssEncode(const Bytes &mHash, int modBits, const EVP_MD *md, const EVP_MD *mgf, int sLen) {
    size_t hLen = (size_t)EVP_MD_get_size(md);
    size_t emBits = (size_t)modBits - 1, emLen = (emBits + 7) / 8;
    if (mHash.size() != hLen || emLen < hLen + (size_t)sLen + 2)
        throw Error(Reason::BadInput, "RSA-PSS parameters do not fit this key");
    Bytes salt((size_t)sLen);
    if (sLen && RAND_bytes(salt.data(), sLen) != 1) throw Error(Reason::Generic, "no randomness for the PSS salt");
    Bytes mPrime(8, 0);
    mPrime.insert(mPrime.end(), mHash.begin(), mHash.end());
    mPrime.insert(mPrime.end(), salt.begin(), salt.end());
    Bytes h(hLen);
    unsigned n = 0;
    EVP_Digest(mPrime.data(), mPrime.size(), h.data(), &n, md, nullptr);
    Bytes em(emLen, 0);
    size_t dbLen = emLen - hLen - 1;
    em[dbLen - (size_t)sLen - 1] = 0x01;
    memcpy(&em[dbLen - (size_t)sLen], salt.data(), (size_t)sLen);
    mgf1Xor(em.data(), dbLen, h.data(), hLen, mgf);
    em[0] &= (unsigned char)(0xFF >> (8 * emLen - emBits));
    memcpy(&em[dbLen], h.data(), hLen);
    em[emLen - 1] = 0xBC;
    return em;
}

}  // namespace

PivAlg pivAlgOf(const PublicKey &pub) {
    if (pub.type == KeyType::RSA && pub.bits == 2048) return PivRsa2048;
    if (pub.type == KeyType::EC && pub.group == "prime256v1") return PivEccP256;
    if (pub.type == KeyType::EC && pub.group == "secp384r1") return PivEccP384;
    throw Error(Reason::Unsupported, "PIV keys are EC P-256, EC P-384 or RSA 2048");
}

PivKey::PivKey(std::string seName, std::shared_ptr<CardPool> pool, PivUri uri, PublicKey pub, p11::PinSource pin)
    : seName_(std::move(seName)), pool_(std::move(pool)), uri_(std::move(uri)), pub_(std::move(pub)),
      pin_(std::move(pin)), alg_(pivAlgOf(pub_)) {}

SecureBytes PivKey::privateOp(unsigned char tag, const Bytes &in) {
    return pool_->run(uri_.reader.value_or(""),
                      [&](PivCard &card) { return card.authenticate(uri_.slot, alg_, tag, in, pin_); });
}

namespace {

// Keys found to match their certificates in this process: (reader, slot, public key).
std::mutex gPairedMu;
std::set<std::string> &gPaired = *new std::set<std::string>;  // never destroyed: used up to exit

// Whether `sig` (raw r||s for EC, PKCS#1 v1.5 for RSA) over the SHA-256 `digest`
// verifies with `pub` in the default provider.
bool verifies(const PublicKey &pub, const Bytes &digest, const Bytes &sig) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pk(publicKeyToEvp(pub, nullptr, "provider=default"),
                                                          EVP_PKEY_free);
    Bytes der = sig;
    if (pub.type == KeyType::EC) {
        try {
            der = ecdsaSigDer(sig);
        } catch (const Error &) {
            return false;
        }
    }
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, pk.get(), "provider=default");
    bool ok = c && EVP_PKEY_verify_init(c) > 0 &&
              (pub.type == KeyType::EC || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0) &&
              EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0 &&
              EVP_PKEY_verify(c, der.data(), der.size(), digest.data(), digest.size()) == 1;
    EVP_PKEY_CTX_free(c);
    ERR_clear_error();
    return ok;
}

}  // namespace

void PivKey::checkPairwise() {
    if (paired_) return;
    std::string id = uri_.reader.value_or("") + "/" + uri_.format() + "/" +
                     std::string(pub_.ecPoint.begin(), pub_.ecPoint.end()) + std::string(pub_.n.begin(), pub_.n.end());
    {
        std::lock_guard<std::mutex> g(gPairedMu);
        if (gPaired.count(id)) {
            paired_ = true;
            return;
        }
    }
    Bytes digest(32);
    if (RAND_bytes(digest.data(), (int)digest.size()) != 1) throw Error(Reason::Generic, "no random numbers for a key check");
    SignRequest req;
    req.scheme = pub_.type == KeyType::EC ? SignScheme::Ecdsa : SignScheme::RsaPkcs1;
    req.digestNid = NID_sha256;
    req.data = digest;
    std::string why;
    try {
        if (!verifies(pub_, digest, signUnchecked(req))) why = "a signature by the key does not verify with it";
    } catch (const Error &e) {
        // The card refusing the certificate's algorithm: a key of another type is there.
        if (e.reason() != Reason::Unsupported) throw;
        why = std::string("the card refuses the certificate's key type: ") + e.what();
    }
    if (!why.empty())
        throw Error(Reason::DeviceError,
                    "the key in " + uri_.format() + " does not match the slot's certificate (" + why +
                        "): the key was replaced without its certificate. Make a new key and certificate with "
                        "secsf (secsf.replace-certificate:1, or secsf key gen --replace-certificate), or load the "
                        "certificate of the key that is there");
    std::lock_guard<std::mutex> g(gPairedMu);
    gPaired.insert(id);
    paired_ = true;
}

Bytes PivKey::sign(const SignRequest &req) {
    checkPairwise();
    return signUnchecked(req);
}

Bytes PivKey::signUnchecked(const SignRequest &req) {
    if (pub_.type == KeyType::EC) {
        if (req.scheme != SignScheme::Ecdsa) throw Error(Reason::Unsupported, "an EC card key signs ECDSA only");
        // The card signs a field-sized hash: longer ones are cut (as ECDSA does),
        // shorter ones keep their value with leading zeros.
        size_t field = (size_t)(pub_.bits + 7) / 8;
        Bytes h(field, 0);
        if (req.data.size() >= field) memcpy(h.data(), req.data.data(), field);
        else memcpy(h.data() + field - req.data.size(), req.data.data(), req.data.size());
        SecureBytes der = privateOp(0x81, h);
        const unsigned char *p = der.data();
        ECDSA_SIG *sig = d2i_ECDSA_SIG(nullptr, &p, (long)der.size());
        if (!sig || p != der.data() + der.size()) {
            ECDSA_SIG_free(sig);
            throw Error(Reason::DeviceError, "the card's ECDSA signature is not DER");
        }
        Bytes out(2 * field);
        bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), out.data(), (int)field) > 0 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), out.data() + field, (int)field) > 0;
        ECDSA_SIG_free(sig);
        if (!ok) throw Error(Reason::DeviceError, "the card's ECDSA signature does not fit the curve");
        return out;
    }
    size_t k = pub_.n.size();
    Bytes em;
    if (req.scheme == SignScheme::RsaPkcs1) {
        Bytes t = req.digestNid ? p11::digestInfo(req.digestNid, req.data) : req.data;
        if (t.size() + 11 > k) throw Error(Reason::BadInput, "data too long for an RSA PKCS#1 signature");
        em.assign(k, 0xFF);
        em[0] = 0x00;
        em[1] = 0x01;
        em[k - t.size() - 1] = 0x00;
        memcpy(&em[k - t.size()], t.data(), t.size());
    } else if (req.scheme == SignScheme::RsaPss) {
        em = pssEncode(req.data, pub_.bits, mdOf(req.digestNid), mdOf(req.mgf1Nid ? req.mgf1Nid : req.digestNid),
                       req.saltLen);
        if (em.size() < k) em.insert(em.begin(), k - em.size(), 0);
    } else {
        throw Error(Reason::Unsupported, "an RSA card key signs PKCS#1 v1.5 or PSS");
    }
    SecureBytes s = privateOp(0x81, em);
    if (s.size() > k) throw Error(Reason::DeviceError, "the card's RSA signature is longer than the modulus");
    Bytes out(k - s.size(), 0);
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

SecureBytes PivKey::derive(const Bytes &peerPoint) {
    if (pub_.type != KeyType::EC) throw Error(Reason::Unsupported, "ECDH needs an EC key");
    checkPairwise();
    if (peerPoint.size() != pub_.ecPoint.size() || peerPoint.empty() || peerPoint[0] != 0x04)
        throw Error(Reason::BadInput, "the peer's public point is not an uncompressed point on this curve");
    SecureBytes z = privateOp(0x85, peerPoint);
    if (z.size() != (size_t)(pub_.bits + 7) / 8)
        throw Error(Reason::DeviceError, "the card's ECDH secret has the wrong size");
    return z;
}

// OpenSSL's padding checks are deprecated as API but are the constant-time
// implementation; the card only gives the raw RSA result.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
SecureBytes PivKey::decrypt(const DecryptRequest &req, const Bytes &ciphertext) {
    if (pub_.type != KeyType::RSA) throw Error(Reason::Unsupported, "decryption needs an RSA key");
    checkPairwise();
    size_t k = pub_.n.size();
    if (ciphertext.size() > k) throw Error(Reason::BadInput, "ciphertext longer than the RSA modulus");
    Bytes c(k - ciphertext.size(), 0);
    c.insert(c.end(), ciphertext.begin(), ciphertext.end());
    SecureBytes em = privateOp(0x81, c);
    if (em.size() > k) throw Error(Reason::DeviceError, "the card's RSA result is longer than the modulus");
    if (em.size() < k) em.insert(em.begin(), k - em.size(), 0);
    SecureBytes out(k);
    int n;
    ERR_set_mark();
    if (req.padding == DecryptRequest::Oaep) {
        const EVP_MD *md = mdOf(req.oaepDigestNid);
        const EVP_MD *mgf = req.mgf1Nid ? mdOf(req.mgf1Nid) : md;
        n = RSA_padding_check_PKCS1_OAEP_mgf1(out.data(), (int)k, em.data(), (int)k, (int)k, req.label.data(),
                                              (int)req.label.size(), md, mgf);
    } else {
        n = RSA_padding_check_PKCS1_type_2(out.data(), (int)k, em.data(), (int)k, (int)k);
    }
    ERR_pop_to_mark();
    if (n < 0) throw Error(Reason::BadInput, "the ciphertext was rejected");
    out.resize((size_t)n);
    return out;
}
#pragma GCC diagnostic pop

SecureBytes PivKey::hmac(int, const Bytes &) {
    throw Error(Reason::Unsupported, "a PIV card holds no HMAC keys");
}

}  // namespace secsf::pcsc
