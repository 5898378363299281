// ECDH, SA key establishment, RSA decryption, the SE's random generator and the
// TS-0003 key derivations — each cross-checked byte for byte against OpenSSL's own
// implementation in the default provider, fed with the same inputs.
#include <cppunit/extensions/HelperMacros.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

#include "../../se-plugins/pkcs11/pkcs11_plugin.h"
#include "fixture.h"

using namespace testfix;

namespace {

EVP_PKEY *softEc(const char *curve) { return EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", curve); }

// ECDH through the EVP API; kdf "" for plain Z. extra: bytes more than asked for.
Bytes derive(EVP_PKEY *key, EVP_PKEY *peer, const char *kdf = "", size_t outlen = 0,
             const Bytes &ukm = {}, const Bytes &salt = {}, bool askSizeFirst = true) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
    Bytes out;
    if (!c || EVP_PKEY_derive_init(c) <= 0 || EVP_PKEY_derive_set_peer(c, peer) <= 0) {
        EVP_PKEY_CTX_free(c);
        return out;
    }
    OSSL_PARAM p[6];
    int n = 0;
    if (*kdf) {
        p[n++] = OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, (char *)kdf, 0);
        p[n++] = OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, (char *)"SHA256", 0);
        p[n++] = OSSL_PARAM_construct_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, &outlen);
        if (!ukm.empty())
            p[n++] = OSSL_PARAM_construct_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, (void *)ukm.data(), ukm.size());
        if (!salt.empty())
            p[n++] = OSSL_PARAM_construct_octet_string("secsf.hkdf-salt", (void *)salt.data(), salt.size());
    }
    p[n] = OSSL_PARAM_construct_end();
    size_t len = 0;
    if (n && EVP_PKEY_CTX_set_params(c, p) <= 0) {
        EVP_PKEY_CTX_free(c);
        return out;
    }
    if (askSizeFirst) {
        if (EVP_PKEY_derive(c, nullptr, &len) <= 0) len = 0;
    } else {
        len = 200;  // a buffer larger than the secret
    }
    out.resize(len);
    if (len == 0 || EVP_PKEY_derive(c, out.data(), &len) <= 0) out.clear();
    else out.resize(len);
    EVP_PKEY_CTX_free(c);
    return out;
}

Bytes softKdf(const char *name, const Bytes &key, size_t outlen, const Bytes &info, const Bytes &salt) {
    EVP_KDF *k = EVP_KDF_fetch(nullptr, name, "provider=default");
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(k);
    EVP_KDF_free(k);
    OSSL_PARAM p[5];
    int n = 0;
    p[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key.data(), key.size());
    if (!info.empty()) p[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.data(), info.size());
    if (!salt.empty()) p[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.data(), salt.size());
    p[n] = OSSL_PARAM_construct_end();
    Bytes out(outlen);
    if (EVP_KDF_derive(c, out.data(), out.size(), p) <= 0) out.clear();
    EVP_KDF_CTX_free(c);
    return out;
}

Bytes softHmac(const Bytes &key, const Bytes &data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t len = 0;
    EVP_Q_mac(nullptr, "HMAC", "provider=default", "SHA256", nullptr, key.data(), key.size(),
              data.data(), data.size(), md, sizeof md, &len);
    return Bytes(md, md + len);
}

Bytes str(const std::string &s) { return Bytes(s.begin(), s.end()); }
Bytes cat(Bytes a, const Bytes &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// ONEM2M-KDF through EVP_KDF with string/octet parameters.
Bytes onem2mKdf(std::vector<std::pair<std::string, std::string>> utf8,
                std::vector<std::pair<std::string, Bytes>> octets = {}, unsigned int index = 0) {
    EVP_KDF *k = EVP_KDF_fetch(nullptr, "ONEM2M-KDF", nullptr);
    EVP_KDF_CTX *c = k ? EVP_KDF_CTX_new(k) : nullptr;
    EVP_KDF_free(k);
    std::vector<OSSL_PARAM> p;
    for (auto &[n, v] : utf8) p.push_back(OSSL_PARAM_construct_utf8_string(n.c_str(), (char *)v.c_str(), 0));
    for (auto &[n, v] : octets)
        p.push_back(OSSL_PARAM_construct_octet_string(n.c_str(), (void *)v.data(), v.size()));
    if (index) p.push_back(OSSL_PARAM_construct_uint("index", &index));
    p.push_back(OSSL_PARAM_construct_end());
    Bytes out(32);
    if (!c || EVP_KDF_derive(c, out.data(), out.size(), p.data()) <= 0) out.clear();
    EVP_KDF_CTX_free(c);
    return out;
}

Bytes randomBytes(size_t n) {
    Bytes b(n);
    RAND_bytes(b.data(), (int)n);
    return b;
}

const std::string kKe = "pkcs11:token=node1;object=enrolment-ke";

}  // namespace

class DeriveTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DeriveTest);
    CPPUNIT_TEST(ecdhEqualsPeer);
    CPPUNIT_TEST(ecdhPeerAsKeyPairAndLargeBuffer);
    CPPUNIT_TEST(ecdhP384);
    CPPUNIT_TEST(saKeysX963MatchOpenSSL);
    CPPUNIT_TEST(saKeysHkdfMatchOpenSSL);
    CPPUNIT_TEST(saKeysEqualAcrossTwoTokens);
    CPPUNIT_TEST(rsaOaepAndPkcs1Decrypt);
    CPPUNIT_TEST(rsaOaepSha256RefusedByName);
    CPPUNIT_TEST(tamperedCiphertextFailsCleanly);
    CPPUNIT_TEST(randomFromToken);
    CPPUNIT_TEST(kmKpsaUsageConstrainedInToken);
    CPPUNIT_TEST(identifiersAreNfkcNormalised);
    CPPUNIT_TEST(sessionEsPrimKey);
    CPPUNIT_TEST(ke2eExpansion);
    CPPUNIT_TEST(kdfRefusals);
    CPPUNIT_TEST_SUITE_END();

public:
    void ecdhEqualsPeer() {
        EVP_PKEY *mine = genEcKey("dh-256");
        EVP_PKEY *peer = softEc("P-256");
        CPPUNIT_ASSERT_MESSAGE(errors(), mine && peer);
        EVP_PKEY *peerPub = publicOnly(peer), *minePub = publicOnly(mine);
        Bytes z1 = derive(mine, peerPub);
        Bytes z2 = derive(peer, minePub);
        CPPUNIT_ASSERT_MESSAGE(errors(), z1.size() == 32);
        CPPUNIT_ASSERT(z1 == z2);
        for (EVP_PKEY *k : {mine, peer, peerPub, minePub}) EVP_PKEY_free(k);
    }
    void ecdhPeerAsKeyPairAndLargeBuffer() {
        EVP_PKEY *mine = loadKey("pkcs11:token=node1;object=dh-256;type=private");
        EVP_PKEY *peer = softEc("P-256");
        EVP_PKEY *minePub = publicOnly(mine);
        Bytes want = derive(peer, minePub);
        Bytes z = derive(mine, peer, "", 0, {}, {}, /*askSizeFirst=*/false);
        CPPUNIT_ASSERT_MESSAGE(errors(), z.size() == 32 && z == want);
        for (EVP_PKEY *k : {mine, peer, minePub}) EVP_PKEY_free(k);
    }
    void ecdhP384() {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, "EC", "provider=secsf");
        EVP_PKEY *mine = nullptr;
        OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("group", (char *)"P-384", 0),
                          OSSL_PARAM_construct_utf8_string("secsf.label", (char *)"dh-384", 0),
                          OSSL_PARAM_construct_end()};
        CPPUNIT_ASSERT(EVP_PKEY_keygen_init(c) > 0 && EVP_PKEY_CTX_set_params(c, p) > 0 &&
                       EVP_PKEY_generate(c, &mine) > 0);
        EVP_PKEY_CTX_free(c);
        EVP_PKEY *peer = softEc("P-384"), *peerPub = publicOnly(peer), *minePub = publicOnly(mine);
        Bytes z1 = derive(mine, peerPub), z2 = derive(peer, minePub);
        CPPUNIT_ASSERT_MESSAGE(errors(), z1.size() == 48 && z1 == z2);
        for (EVP_PKEY *k : {mine, peer, peerPub, minePub}) EVP_PKEY_free(k);
    }
    void saKeysX963MatchOpenSSL() {
        EVP_PKEY *mine = loadKey("pkcs11:token=node1;object=dh-256;type=private");
        EVP_PKEY *peer = softEc("P-256"), *peerPub = publicOnly(peer), *minePub = publicOnly(mine);
        Bytes ukm = str("SA-4711 initiator responder");
        Bytes k1 = derive(mine, peerPub, "X963KDF", 48, ukm);
        Bytes k2 = derive(peer, minePub, "X963KDF", 48, ukm);  // OpenSSL's own ECDH + X9.63
        Bytes k3 = softKdf("X963KDF", derive(peer, minePub), 48, ukm, {});
        CPPUNIT_ASSERT_MESSAGE(errors(), k1.size() == 48);
        CPPUNIT_ASSERT(k1 == k2 && k1 == k3);
        for (EVP_PKEY *k : {mine, peer, peerPub, minePub}) EVP_PKEY_free(k);
    }
    void saKeysHkdfMatchOpenSSL() {
        EVP_PKEY *mine = loadKey("pkcs11:token=node1;object=dh-256;type=private");
        EVP_PKEY *peer = softEc("P-256"), *peerPub = publicOnly(peer), *minePub = publicOnly(mine);
        Bytes info = str("oneM2M SA keys"), salt = randomBytes(16);
        Bytes k1 = derive(mine, peerPub, "HKDF", 64, info, salt);
        Bytes k2 = softKdf("HKDF", derive(peer, minePub), 64, info, salt);
        CPPUNIT_ASSERT_MESSAGE(errors(), k1.size() == 64 && k1 == k2);
        for (EVP_PKEY *k : {mine, peer, peerPub, minePub}) EVP_PKEY_free(k);
    }
    void saKeysEqualAcrossTwoTokens() {
        EVP_PKEY *a = loadKey("pkcs11:token=node1;object=dh-256;type=private");
        EVP_PKEY *b = genEcKey("dh-responder", "pkcs11:token=node2?pin-source=file:" + pinFile("node2"));
        CPPUNIT_ASSERT_MESSAGE(errors(), a && b);
        EVP_PKEY *aPub = publicOnly(a), *bPub = publicOnly(b);
        Bytes info = str("SA-1"), salt = str("nonce-i|nonce-r");
        Bytes ka = derive(a, bPub, "HKDF", 32, info, salt);
        Bytes kb = derive(b, aPub, "HKDF", 32, info, salt);
        CPPUNIT_ASSERT_MESSAGE(errors(), ka.size() == 32 && ka == kb);
        for (EVP_PKEY *k : {a, b, aPub, bPub}) EVP_PKEY_free(k);
    }

    static Bytes encrypt(EVP_PKEY *pub, const Bytes &m, int pad, const char *md) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, pub, "provider=default");
        Bytes out(1024);
        size_t len = out.size();
        bool ok = EVP_PKEY_encrypt_init(c) > 0 && EVP_PKEY_CTX_set_rsa_padding(c, pad) > 0 &&
                  (!md || EVP_PKEY_CTX_set_rsa_oaep_md_name(c, md, nullptr) > 0) &&
                  EVP_PKEY_encrypt(c, out.data(), &len, m.data(), m.size()) > 0;
        EVP_PKEY_CTX_free(c);
        out.resize(ok ? len : 0);
        return out;
    }
    // pad 0: set nothing at all (OpenSSL's default padding).
    static Bytes decrypt(EVP_PKEY *key, const Bytes &ct, int pad, const char *md) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr);
        size_t len = 0;
        Bytes out;
        if (EVP_PKEY_decrypt_init(c) > 0 && (!pad || EVP_PKEY_CTX_set_rsa_padding(c, pad) > 0) &&
            (!md || EVP_PKEY_CTX_set_rsa_oaep_md_name(c, md, nullptr) > 0) &&
            EVP_PKEY_decrypt(c, nullptr, &len, ct.data(), ct.size()) > 0) {
            out.resize(len);
            if (EVP_PKEY_decrypt(c, out.data(), &len, ct.data(), ct.size()) > 0) out.resize(len);
            else out.clear();
        }
        EVP_PKEY_CTX_free(c);
        return out;
    }
    EVP_PKEY *rsaKey() {
        EVP_PKEY *k = loadKey("pkcs11:token=node1;object=rsa-dec;type=private");
        if (k) return k;
        errors();
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", "provider=secsf");
        size_t bits = 2048;
        OSSL_PARAM p[] = {OSSL_PARAM_construct_size_t("bits", &bits),
                          OSSL_PARAM_construct_utf8_string("secsf.label", (char *)"rsa-dec", 0),
                          OSSL_PARAM_construct_end()};
        if (EVP_PKEY_keygen_init(c) > 0 && EVP_PKEY_CTX_set_params(c, p) > 0) EVP_PKEY_generate(c, &k);
        EVP_PKEY_CTX_free(c);
        return k;
    }
    void rsaOaepAndPkcs1Decrypt() {
        EVP_PKEY *k = rsaKey();
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        EVP_PKEY *pub = publicOnly(k);
        Bytes m = randomBytes(32);  // keying material
        CPPUNIT_ASSERT(decrypt(k, encrypt(pub, m, RSA_PKCS1_OAEP_PADDING, nullptr), RSA_PKCS1_OAEP_PADDING, nullptr) == m);
        CPPUNIT_ASSERT(decrypt(k, encrypt(pub, m, RSA_PKCS1_OAEP_PADDING, "SHA1"), RSA_PKCS1_OAEP_PADDING, "SHA1") == m);
        CPPUNIT_ASSERT(decrypt(k, encrypt(pub, m, RSA_PKCS1_PADDING, nullptr), RSA_PKCS1_PADDING, nullptr) == m);
        CPPUNIT_ASSERT(decrypt(k, encrypt(pub, m, RSA_PKCS1_PADDING, nullptr), 0, nullptr) == m);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(k);
    }
    void rsaOaepSha256RefusedByName() {
        // SoftHSM 2.6.1 does OAEP with SHA-1 only: the refusal names the digest.
        EVP_PKEY *k = rsaKey(), *pub = publicOnly(k);
        Bytes ct = encrypt(pub, randomBytes(16), RSA_PKCS1_OAEP_PADDING, "SHA256");
        Bytes got = decrypt(k, ct, RSA_PKCS1_OAEP_PADDING, "SHA256");
        std::string e = errors();
        CPPUNIT_ASSERT(got.empty());
        CPPUNIT_ASSERT_MESSAGE(e, e.find("does not do RSA-OAEP with SHA256") != std::string::npos);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(k);
    }
    void tamperedCiphertextFailsCleanly() {
        EVP_PKEY *k = rsaKey(), *pub = publicOnly(k);
        Bytes ct = encrypt(pub, randomBytes(32), RSA_PKCS1_OAEP_PADDING, nullptr);
        ct[17] ^= 0x40;
        CPPUNIT_ASSERT(decrypt(k, ct, RSA_PKCS1_OAEP_PADDING, nullptr).empty());
        std::string e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("ciphertext was rejected") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(e, e.find("padding check failed") == std::string::npos);
        ct.pop_back();
        CPPUNIT_ASSERT(decrypt(k, ct, RSA_PKCS1_OAEP_PADDING, nullptr).empty());
        e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("ciphertext is 255 bytes") != std::string::npos);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(k);
    }
    void randomFromToken() {
        EVP_RAND *r = EVP_RAND_fetch(nullptr, "SECSF-RNG", nullptr);
        CPPUNIT_ASSERT_MESSAGE(errors(), r);
        CPPUNIT_ASSERT_EQUAL(std::string("secsf"), std::string(OSSL_PROVIDER_get0_name(EVP_RAND_get0_provider(r))));
        EVP_RAND_CTX *c = EVP_RAND_CTX_new(r, nullptr);
        EVP_RAND_free(r);
        CPPUNIT_ASSERT(EVP_RAND_instantiate(c, 256, 0, nullptr, 0, nullptr) > 0);
        Bytes a(100000), b(64);
        CPPUNIT_ASSERT(EVP_RAND_generate(c, a.data(), a.size(), 256, 0, nullptr, 0) > 0);
        CPPUNIT_ASSERT(EVP_RAND_generate(c, b.data(), b.size(), 256, 0, nullptr, 0) > 0);
        CPPUNIT_ASSERT(!std::equal(b.begin(), b.end(), a.begin()));
        // Not constant, not all zero: every byte value shows up in 100 kB.
        bool seen[256] = {};
        for (unsigned char x : a) seen[x] = true;
        CPPUNIT_ASSERT(std::all_of(std::begin(seen), std::end(seen), [](bool s) { return s; }));
        EVP_RAND_CTX_free(c);
    }

    // Ke, known to the test, placed in the token as a non-extractable secret.
    Bytes enrolmentKey() {
        static Bytes ke;
        if (!ke.empty()) return ke;
        ke = randomBytes(32);
        secsf::Pkcs11Config cfg;
        cfg.modulePath = softhsmModule();
        cfg.token = "node1";
        cfg.pinSource = "file:" + pinFile("node1");
        secsf::Pkcs11Plugin se(cfg);
        se.importSecret(secsf::SecureBytes(ke.begin(), ke.end()), "enrolment-ke", "");
        return ke;
    }
    void kmKpsaUsageConstrainedInToken() {
        Bytes ke = enrolmentKey();
        Bytes km = onem2mKdf({{"mode", "Km"}, {"key-uri", kKe}, {"id", "maf.sp.example"}});
        CPPUNIT_ASSERT_MESSAGE(errors(), km.size() == 32);
        CPPUNIT_ASSERT(km == softHmac(ke, str("oneM2M Enrolment Key to Master Credential derivationmaf.sp.example")));
        Bytes kpsa = onem2mKdf({{"mode", "Kpsa"}, {"key-uri", kKe}, {"id", "cse-b.sp.example"}});
        CPPUNIT_ASSERT(kpsa == softHmac(ke, str("oneM2M Enrolment Key to Provisioned Secure Connection Key derivationcse-b.sp.example")));
        Bytes uc = onem2mKdf({{"mode", "usage-constrained"}, {"key-uri", kKe}, {"suid", "42"}, {"target-id", "mef.sp.example"}});
        CPPUNIT_ASSERT(uc == softHmac(ke, str("oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation42mef.sp.example")));
        CPPUNIT_ASSERT(km != kpsa && kpsa != uc);
    }
    void identifiersAreNfkcNormalised() {
        Bytes ke = enrolmentKey();
        // U+FB01 (the "fi" ligature) and a full-width digit normalise to "fi" and "1".
        Bytes a = onem2mKdf({{"mode", "Km"}, {"key-uri", kKe}, {"id", "maf-\xEF\xAC\x81\xEF\xBC\x91.example"}});
        Bytes b = onem2mKdf({{"mode", "Km"}, {"key-uri", kKe}, {"id", "maf-fi1.example"}});
        CPPUNIT_ASSERT_MESSAGE(errors(), !a.empty() && a == b);
        CPPUNIT_ASSERT(a == softHmac(ke, str("oneM2M Enrolment Key to Master Credential derivationmaf-fi1.example")));
        CPPUNIT_ASSERT(onem2mKdf({{"mode", "Km"}, {"key-uri", kKe}, {"id", "bad\xC3"}}).empty());
        std::string e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("not valid UTF-8") != std::string::npos);
    }
    void sessionEsPrimKey() {
        Bytes ke = enrolmentKey();  // stands in for pairwiseESPrimKey here
        Bytes rr = randomBytes(16), orr = randomBytes(16);
        Bytes k = onem2mKdf({{"mode", "sessionESPrimKey"}, {"key-uri", kKe}},
                            {{"receiver-rand", rr}, {"originator-rand", orr}});
        CPPUNIT_ASSERT_MESSAGE(errors(), k.size() == 32);
        CPPUNIT_ASSERT(k == softHmac(ke, cat(cat(rr, orr), str("oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm"))));
    }
    void ke2eExpansion() {
        Bytes kpsa = randomBytes(32), salt = randomBytes(16);
        Bytes master = softHmac(salt, kpsa);
        const char *labels[] = {"E2E Message Authentication Key", "E2E Message Confidentiality Key",
                                "E2E Attribute Authenticity Key", "E2E Attribute Confidentiality Key"};
        Bytes t;
        for (unsigned int n = 1; n <= 4; n++) {
            Bytes data = cat(t, str(labels[n - 1]));
            data.push_back((unsigned char)n);
            t = softHmac(master, data);
            Bytes got = onem2mKdf({{"mode", "Ke2e"}}, {{"key", kpsa}, {"salt", salt}}, n);
            CPPUNIT_ASSERT_MESSAGE(errors(), got == t);
        }
    }
    void kdfRefusals() {
        CPPUNIT_ASSERT(onem2mKdf({{"mode", "Km"}, {"key-uri", kKe}}).empty());
        std::string e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("needs id") != std::string::npos);
        CPPUNIT_ASSERT(onem2mKdf({{"mode", "Kx"}, {"key-uri", kKe}, {"id", "x"}}).empty());
        e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("is not one of") != std::string::npos);
        CPPUNIT_ASSERT(onem2mKdf({{"mode", "Km"}, {"key-uri", "pkcs11:token=node1;object=no-such-ke"}, {"id", "x"}}).empty());
        e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("no secret key matches") != std::string::npos);
        CPPUNIT_ASSERT(onem2mKdf({{"mode", "Ke2e"}, {"key-uri", kKe}}, {{"salt", str("s")}}, 1).empty());
        e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("needs Kpsa as 'key'") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DeriveTest);
