// JOSE with keys in the SoftHSM token through the provider: JWS, JWE and JWT made
// here, every bit of them tampered with, and checked both ways against an
// independent implementation (python3-jwcrypto).
#include <cppunit/extensions/HelperMacros.h>
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>

#include "../../services/jose.h"
#include "../../services/jwt.h"
#include "fixture.h"
#include "service_fixture.h"
#include "secsf/error.h"

using namespace testfix;
using namespace secsf::svc;

namespace {

const std::string kTokenKey = "pkcs11:token=node1;object=jose-ec;type=private";

JoseKey tokenKey() {
    static bool made = false;
    if (!made) {
        EVP_PKEY *k = genEcKey("jose-ec");
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        EVP_PKEY_free(k);
        made = true;
    }
    JoseKey k = JoseKey::load(kTokenKey);
    CPPUNIT_ASSERT_EQUAL(std::string("secsf"), providerOf(k.pkey()));
    return k;
}

JoseKey softKey(const char *type, const char *param) {
    EVP_PKEY *k = std::string(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, "provider=default", "RSA", (size_t)2048)
                                             : EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", param);
    JoseKey j = JoseKey::fromPkey(k);
    EVP_PKEY_free(k);
    return j;
}

std::string writeFile(const std::string &name, const std::string &data) {
    std::string path = workDir() + "/" + name;
    std::ofstream(path, std::ios::binary) << data;
    return path;
}

std::string privatePem(const JoseKey &k) {
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k.pkey(), nullptr, nullptr, 0, nullptr, nullptr);
    char *d = nullptr;
    long n = BIO_get_mem_data(b, &d);
    std::string s(d, (size_t)n);
    BIO_free(b);
    return s;
}

// Runs the independent peer; its stdout, or "ERROR" when it fails.
std::string peer(const std::string &args) {
    std::string cmd = "OPENSSL_CONF=/dev/null /usr/bin/python3 " + std::string(getenv("srcdir") ? getenv("srcdir") : ".") +
                      "/jose_peer.py " + args + " 2>/dev/null";
    FILE *p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    return pclose(p) == 0 ? out : "ERROR";
}

Bytes bytes(const std::string &s) { return Bytes(s.begin(), s.end()); }

// Every single-bit change of every character must be refused.
template <class F> int acceptedTamperings(const std::string &token, F check) {
    int accepted = 0;
    for (size_t i = 0; i < token.size(); i++) {
        if (token[i] == '.') continue;
        std::string t = token;
        t[i] = t[i] == 'A' ? 'B' : 'A';
        try {
            check(t);
            accepted++;
        } catch (const secsf::Error &) {
        }
    }
    return accepted;
}

}  // namespace

class JoseTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JoseTest);
    CPPUNIT_TEST(jwsWithTokenKey);
    CPPUNIT_TEST(jwsTamperedAnywhereIsRefused);
    CPPUNIT_TEST(jwsAlgorithmMustFitTheKey);
    CPPUNIT_TEST(jwsRsaAndHmac);
    CPPUNIT_TEST(jweEcdhToTokenKey);
    CPPUNIT_TEST(jweTamperedAnywhereIsRefused);
    CPPUNIT_TEST(jweRsaOaepDirAndKeyWrap);
    CPPUNIT_TEST(jwtClaimsChecked);
    CPPUNIT_TEST(peerVerifiesOurJwsAndJwt);
    CPPUNIT_TEST(weVerifyPeerJwsAndJwt);
    CPPUNIT_TEST(peerDecryptsOurJwe);
    CPPUNIT_TEST(weDecryptPeerJweWithTokenKey);
    CPPUNIT_TEST(headersOfTheWrongJsonTypesAreRefusedWithError);
    CPPUNIT_TEST_SUITE_END();

public:
    void jwsWithTokenKey() {
        JoseKey k = tokenKey();
        std::string t = jwsSign(k, bytes("hello oneM2M"), {{"kid", "node1"}});
        Jws j = jwsVerify(t, k.publicKey());
        CPPUNIT_ASSERT(j.payload == bytes("hello oneM2M"));
        CPPUNIT_ASSERT_EQUAL(std::string("ES256"), j.header["alg"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("node1"), j.header["kid"].get<std::string>());
    }
    void jwsTamperedAnywhereIsRefused() {
        JoseKey k = tokenKey();
        JoseKey pub = k.publicKey();
        std::string t = jwsSign(k, bytes("{\"cmd\":\"deactivate\"}"));
        CPPUNIT_ASSERT_EQUAL(0, acceptedTamperings(t, [&](const std::string &x) { jwsVerify(x, pub); }));
        CPPUNIT_ASSERT_THROW(jwsVerify(t.substr(0, t.size() - 3), pub), secsf::Error);
        CPPUNIT_ASSERT_THROW(jwsVerify(t + ".x", pub), secsf::Error);
    }
    void jwsAlgorithmMustFitTheKey() {
        JoseKey ec = tokenKey();
        JoseKey hs = JoseKey::fromSecret(secsf::SecureBytes(32, 7));
        // The classic confusion: an HMAC made with the public key's bytes as secret.
        std::string pem = ec.publicPem();
        JoseKey forged = JoseKey::fromSecret(secsf::SecureBytes(pem.begin(), pem.end()));
        std::string t = jwsSign(forged, bytes("x"));
        CPPUNIT_ASSERT_THROW(jwsVerify(t, ec.publicKey()), secsf::Error);
        std::string none = b64url(std::string("{\"alg\":\"none\"}")) + "." + b64url(std::string("x")) + ".";
        CPPUNIT_ASSERT_THROW(jwsVerify(none, ec.publicKey()), secsf::Error);
        CPPUNIT_ASSERT_THROW(jwsVerify(jwsSign(hs, bytes("x")), ec.publicKey()), secsf::Error);
    }
    void jwsRsaAndHmac() {
        JoseKey rsa = softKey("RSA", nullptr);
        for (const char *alg : {"RS256", "RS384", "RS512"}) {
            std::string t = jwsSign(rsa, bytes("r"), {{"alg", alg}});
            CPPUNIT_ASSERT(jwsVerify(t, rsa.publicKey()).payload == bytes("r"));
        }
        JoseKey hs = JoseKey::fromSecret(secsf::SecureBytes(32, 9));
        std::string t = jwsSign(hs, bytes("h"));
        CPPUNIT_ASSERT(jwsVerify(t, hs).payload == bytes("h"));
        CPPUNIT_ASSERT_THROW(jwsVerify(t, JoseKey::fromSecret(secsf::SecureBytes(32, 8))), secsf::Error);
        JoseKey p384 = softKey("EC", "P-384");
        CPPUNIT_ASSERT(jwsVerify(jwsSign(p384, bytes("e")), p384.publicKey()).header["alg"] == "ES384");
    }
    void jweEcdhToTokenKey() {
        JoseKey k = tokenKey();
        for (const char *alg : {"ECDH-ES+A128KW", "ECDH-ES+A256KW"})
            for (const char *enc : {"A128GCM", "A256GCM"}) {
                std::string t = jweEncrypt(k.publicKey(), bytes("temporary identities"), alg, enc);
                secsf::SecureBytes pt = jweDecrypt(t, k);
                CPPUNIT_ASSERT(std::string(pt.begin(), pt.end()) == "temporary identities");
            }
        // Someone else's key cannot read it.
        std::string t = jweEncrypt(k.publicKey(), bytes("x"), "ECDH-ES+A128KW");
        CPPUNIT_ASSERT_THROW(jweDecrypt(t, softKey("EC", "P-256")), secsf::Error);
    }
    void jweTamperedAnywhereIsRefused() {
        JoseKey k = tokenKey();
        std::string t = jweEncrypt(k.publicKey(), bytes("keying material"), "ECDH-ES+A128KW", "A128GCM");
        CPPUNIT_ASSERT_EQUAL(0, acceptedTamperings(t, [&](const std::string &x) { jweDecrypt(x, k); }));
        CPPUNIT_ASSERT_THROW(jweDecrypt(t.substr(0, t.size() / 2), k), secsf::Error);
    }
    void jweRsaOaepDirAndKeyWrap() {
        JoseKey rsa = softKey("RSA", nullptr);
        std::string t = jweEncrypt(rsa.publicKey(), bytes("oaep"), "RSA-OAEP-256", "A256GCM");
        CPPUNIT_ASSERT(jweDecrypt(t, rsa) == secsf::SecureBytes({'o', 'a', 'e', 'p'}));
        JoseKey sa = JoseKey::fromSecret(secsf::SecureBytes(16, 3));
        t = jweEncrypt(sa, bytes("dir"), "dir", "A128GCM");
        CPPUNIT_ASSERT(jweDecrypt(t, sa) == secsf::SecureBytes({'d', 'i', 'r'}));
        CPPUNIT_ASSERT_THROW(jweDecrypt(t, JoseKey::fromSecret(secsf::SecureBytes(16, 4))), secsf::Error);
        JoseKey kek = JoseKey::fromSecret(secsf::SecureBytes(32, 5));
        t = jweEncrypt(kek, bytes("kw"), "A256KW", "A128GCM");
        CPPUNIT_ASSERT(jweDecrypt(t, kek) == secsf::SecureBytes({'k', 'w'}));
    }
    void jwtClaimsChecked() {
        JoseKey k = tokenKey();
        int64_t now = 1'800'000'000;
        Clock clock = [&] { return now; };
        Json claims = {{"jti", "t1"}, {"iss", "mzf.sp.example"}, {"nbf", now}, {"exp", now + 600},
                       {"aud", Json::array({"CSE-in"})}};
        std::string t = jwtIssue(k, claims, "mzf-key");
        JwtCheck ok{"mzf.sp.example", "CSE-in"};
        CPPUNIT_ASSERT_EQUAL(std::string("t1"), jwtVerify(t, k.publicKey(), ok, clock)["jti"].get<std::string>());
        auto fails = [&](const JwtCheck &c, const std::string &why) {
            try {
                jwtVerify(t, k.publicKey(), c, clock);
                CPPUNIT_FAIL("accepted: " + why);
            } catch (const secsf::Error &e) {
                CPPUNIT_ASSERT_MESSAGE(e.what(), std::string(e.what()).find(why) != std::string::npos);
            }
        };
        fails({"mzf.sp.example", "CSE-other"}, "another audience");
        fails({"maf.sp.example", "CSE-in"}, "wrong issuer");
        now += 600 + 31;  // past exp by more than the leeway
        fails(ok, "expired");
        now -= 2000;
        fails(ok, "not yet valid");
        now += 1369;
        Json noJti = claims;
        noJti.erase("jti");
        CPPUNIT_ASSERT_THROW(jwtVerify(jwtIssue(k, noJti), k.publicKey(), ok, clock), secsf::Error);
    }
    void peerVerifiesOurJwsAndJwt() {
        JoseKey k = tokenKey();
        std::string jwkFile = writeFile("ec.jwk", k.publicJwk().dump());
        std::string t = jwsSign(k, bytes("made in the SE"));
        CPPUNIT_ASSERT_EQUAL(std::string("made in the SE"), peer("verify " + jwkFile + " " + writeFile("t.jws", t)));
        Json claims = {{"jti", "t2"}, {"iss", "mzf"}, {"nbf", 1}, {"exp", 4102444800}, {"aud", "CSE-in"}};
        std::string jwt = jwtIssue(k, claims);
        CPPUNIT_ASSERT_EQUAL(claims, Json::parse(peer("verify " + jwkFile + " " + writeFile("t.jwt", jwt))));
        // A tampered one is refused there too.
        jwt[jwt.size() / 2] = jwt[jwt.size() / 2] == 'A' ? 'B' : 'A';
        CPPUNIT_ASSERT_EQUAL(std::string("ERROR"), peer("verify " + jwkFile + " " + writeFile("bad.jwt", jwt)));
    }
    void weVerifyPeerJwsAndJwt() {
        JoseKey soft = softKey("EC", "P-256");
        std::string pem = writeFile("peer.pem", privatePem(soft));
        std::string t = peer("sign " + pem + " ES256 from-the-peer");
        CPPUNIT_ASSERT(jwsVerify(t, soft.publicKey()).payload == bytes("from-the-peer"));
        std::string jwt = peer("jwt " + pem + " '{\"jti\":\"p1\",\"iss\":\"peer\",\"nbf\":1,\"exp\":4102444800,\"aud\":\"x\"}'");
        Json c = jwtVerify(jwt, soft.publicKey(), {"peer", "x"}, systemClock());
        CPPUNIT_ASSERT_EQUAL(std::string("p1"), c["jti"].get<std::string>());
        JoseKey rsa = softKey("RSA", nullptr);
        std::string rsaPem = writeFile("peer-rsa.pem", privatePem(rsa));
        CPPUNIT_ASSERT(jwsVerify(peer("sign " + rsaPem + " RS256 rsa"), rsa.publicKey()).payload == bytes("rsa"));
    }
    void peerDecryptsOurJwe() {
        for (const char *type : {"EC", "RSA"}) {
            JoseKey soft = softKey(type, "P-256");
            std::string pem = writeFile("rcpt.pem", privatePem(soft));
            std::string alg = std::string(type) == "EC" ? "ECDH-ES+A128KW" : "RSA-OAEP-256";
            std::string t = jweEncrypt(soft.publicKey(), bytes("for the peer"), alg, "A256GCM");
            CPPUNIT_ASSERT_EQUAL(std::string("for the peer"), peer("decrypt " + pem + " " + writeFile("t.jwe", t)));
        }
    }
    void weDecryptPeerJweWithTokenKey() {
        JoseKey k = tokenKey();
        std::string jwkFile = writeFile("ec.jwk", k.publicJwk().dump());
        for (const char *alg : {"ECDH-ES+A128KW", "ECDH-ES+A256KW"}) {
            std::string t = peer("encrypt " + jwkFile + " " + alg + " A128GCM from-the-peer");
            secsf::SecureBytes pt = jweDecrypt(t, k);
            CPPUNIT_ASSERT_EQUAL(std::string("from-the-peer"), std::string(pt.begin(), pt.end()));
        }
    }
    // Issue 16 item 1: a header member of the wrong JSON type is bad input like any
    // other, refused with secsf::Error; the JSON library's exceptions never escape.
    void headersOfTheWrongJsonTypesAreRefusedWithError() {
        JoseKey ec = softKey("EC", "P-256");
        std::string jwe = jweEncrypt(ec.publicKey(), Bytes{'h', 'i'}, "ECDH-ES+A128KW", "A128GCM");
        for (const Json &change : {Json{{"apu", 1}}, Json{{"apv", Json::array()}}, Json{{"epk", {{"crv", 1}}}},
                                   Json{{"epk", {{"kty", 1}}}}, Json{{"epk", "x"}}, Json{{"epk", {{"x", 1}}}},
                                   Json{{"enc", 5}}, Json{{"alg", nullptr}}, Json{{"crit", 1}}})
            CPPUNIT_ASSERT_EQUAL_MESSAGE(change.dump(), std::string("refused"),
                                         ending([&] { jweDecrypt(withHeader(jwe, change), ec); }));
        std::string jws = jwsSign(ec, Json{{"a", 1}});
        for (const Json &change : {Json{{"alg", 1}}, Json{{"alg", Json::array({"ES256"})}}, Json{{"typ", 1}}})
            CPPUNIT_ASSERT_EQUAL_MESSAGE(change.dump(), std::string("refused"),
                                         ending([&] { jwsVerify(withHeader(jws, change), ec); }));
        // A JWT whose signed header says "typ": 1, and claims of the wrong types.
        std::string jwt = jwsSign(ec, Json{{"jti", "t"}, {"iss", "i"}, {"nbf", 0}, {"exp", 4000000000}, {"aud", "a"}},
                                  {{"typ", 1}});
        CPPUNIT_ASSERT_EQUAL(std::string("refused"), ending([&] { jwtVerify(jwt, ec, {"i", "a", 30}, [] { return (int64_t)1; }); }));
        CPPUNIT_ASSERT_EQUAL(std::string("refused"), ending([&] { jwsSign(ec, Bytes{}, {{"alg", 1}}); }));
        CPPUNIT_ASSERT_EQUAL(std::string("refused"), ending([&] { jwsSign(ec, Bytes{}, Json::array()); }));
        Json jwk = ec.publicJwk();
        jwk["crv"] = 256;
        CPPUNIT_ASSERT_EQUAL(std::string("refused"), ending([&] { JoseKey::fromJwk(jwk); }));
        // Nesting deeper than anything a message needs is refused before it is parsed.
        std::string deep(100000, '[');
        CPPUNIT_ASSERT_EQUAL(std::string("refused"),
                             ending([&] { jwsVerify(b64url(deep) + "." + b64url(deep) + ".AA", ec); }));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JoseTest);
