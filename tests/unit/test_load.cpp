// Load: 8 threads x 10,000 mixed operations (sign, ECDH, RSA decryption, lookup by
// URI) on one token, with fork() in the middle while the threads keep going; every
// result is checked (signatures under the default provider, secrets against the
// peer's computation, plaintexts against what was encrypted). And the property that
// keys stay in the token: a private key made through secsf cannot be exported.
#define OPENSSL_SUPPRESS_DEPRECATED 1  // EC_KEY / RSA: what Node.js reads
#include <cppunit/extensions/HelperMacros.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

using namespace testfix;

namespace {

const std::string kMsg = "load test message";
const char *kEcUri = "pkcs11:token=node1;object=load-ec;type=private";

Bytes ecdh(EVP_PKEY *mine, EVP_PKEY *peer) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr);
    Bytes z(66);
    size_t len = z.size();
    bool ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_derive_set_peer(c, peer) > 0 &&
              EVP_PKEY_derive(c, z.data(), &len) > 0;
    EVP_PKEY_CTX_free(c);
    z.resize(ok ? len : 0);
    return z;
}

Bytes oaep(EVP_PKEY *k, const Bytes &in, bool encrypt) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, k, encrypt ? "provider=default" : nullptr);
    Bytes out(512);
    size_t len = out.size();
    bool ok = c && (encrypt ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
              (encrypt ? EVP_PKEY_encrypt(c, out.data(), &len, in.data(), in.size())
                       : EVP_PKEY_decrypt(c, out.data(), &len, in.data(), in.size())) > 0;
    EVP_PKEY_CTX_free(c);
    out.resize(ok ? len : 0);
    return out;
}

struct Keys {
    EVP_PKEY *ec = nullptr, *ecPub = nullptr, *rsa = nullptr, *rsaPub = nullptr, *peer = nullptr, *peerPub = nullptr;
    Bytes z;  // the peer's ECDH result with the token key's public half
    Bytes plain, cipher;
};

// One mixed operation (i picks which); true when its result checks out.
bool mixedOp(const Keys &k, long i) {
    switch (i % 10) {
    case 0: case 1: case 2: case 3: {
        Bytes s = sign(k.ec, "SHA256", kMsg + std::to_string(i));
        return !s.empty() && verifyWithDefault(k.ec, "SHA256", kMsg + std::to_string(i), s);
    }
    case 4: case 5: case 6:
        return ecdh(k.ec, k.peerPub) == k.z;
    case 7: case 8: {
        EVP_PKEY *again = loadKey(kEcUri);
        bool same = again && EVP_PKEY_eq(again, k.ecPub) == 1;
        EVP_PKEY_free(again);
        return same;
    }
    default:
        return oaep(k.rsa, k.cipher, false) == k.plain;
    }
}

}  // namespace

class LoadTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LoadTest);
    CPPUNIT_TEST(eightThreadsMixedWithForkInTheMiddle);
    CPPUNIT_TEST(privateKeysDoNotLeaveTheToken);
    CPPUNIT_TEST(legacyCopiesArePublicAndKeysKeepWorking);
    CPPUNIT_TEST_SUITE_END();

    Keys k_;

public:
    void setUp() override {
        k_.ec = genEcKey("load-ec");
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", "provider=secsf");
        unsigned int bits = 2048;
        OSSL_PARAM p[] = {OSSL_PARAM_construct_uint("bits", &bits),
                          OSSL_PARAM_construct_utf8_string("secsf.label", (char *)"load-rsa", 0),
                          OSSL_PARAM_construct_utf8_string("secsf.allow-duplicate-label", (char *)"1", 0),
                          OSSL_PARAM_construct_end()};
        if (c && EVP_PKEY_keygen_init(c) > 0 && EVP_PKEY_CTX_set_params(c, p) > 0) EVP_PKEY_generate(c, &k_.rsa);
        EVP_PKEY_CTX_free(c);
        CPPUNIT_ASSERT_MESSAGE(errors(), k_.ec && k_.rsa);
        k_.ecPub = publicOnly(k_.ec);
        k_.rsaPub = publicOnly(k_.rsa);
        k_.peer = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
        k_.peerPub = publicOnly(k_.peer);
        k_.z = ecdh(k_.peer, k_.ecPub);
        k_.plain = Bytes(48);
        RAND_bytes(k_.plain.data(), (int)k_.plain.size());
        k_.cipher = oaep(k_.rsaPub, k_.plain, true);
        CPPUNIT_ASSERT(k_.z.size() == 32 && !k_.cipher.empty());
    }
    void tearDown() override {
        for (EVP_PKEY *p : {k_.ec, k_.ecPub, k_.rsa, k_.rsaPub, k_.peer, k_.peerPub}) EVP_PKEY_free(p);
    }

    void eightThreadsMixedWithForkInTheMiddle() {
        const long perThread = std::atol(getenv("SECSF_LOAD_OPS") ? getenv("SECSF_LOAD_OPS") : "10000");
        const int threads = 8;
        std::atomic<long> done{0}, wrong{0};
        // Half way one thread forks while the seven others keep signing, deriving and
        // decrypting: the child must not inherit a lock held inside the module (secsf's
        // fork guard makes fork() wait until no thread is inside it) and must find its
        // keys again; the parent's threads must not notice.
        int childStatus = -1;
        auto forkNow = [&] {
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid == 0) {
                alarm(120);  // a deadlock must fail the test, not hang the suite
                int bad = 0;
                for (long j = 0; j < 40; j++) bad += !mixedOp(k_, j);
                _exit(bad == 0 ? 0 : 1);
            }
            waitpid(pid, &childStatus, 0);
        };
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; t++)
            ts.emplace_back([&, t] {
                for (long i = 0; i < perThread; i++) {
                    if (t == 0 && i == perThread / 2) forkNow();
                    if (!mixedOp(k_, t * 7 + i) && wrong++ < 3)
                        fprintf(stderr, "thread %d op %ld failed\n%s", t, i, errors().c_str());
                    ++done;
                }
            });
        for (auto &t : ts) t.join();
        CPPUNIT_ASSERT_EQUAL(threads * perThread, done.load());
        CPPUNIT_ASSERT_EQUAL_MESSAGE("operations whose result did not check out", 0L, wrong.load());
        CPPUNIT_ASSERT_MESSAGE("the child forked in the middle did not do all 40 operations right (status " +
                                   std::to_string(childStatus) + ")",
                               WIFEXITED(childStatus) && WEXITSTATUS(childStatus) == 0);
    }

    void privateKeysDoNotLeaveTheToken() {
        for (EVP_PKEY *key : {k_.ec, k_.rsa}) {
            BIGNUM *d = nullptr;
            CPPUNIT_ASSERT_MESSAGE("the private scalar was handed out",
                                   !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) &&
                                       !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &d));
            BN_free(d);
            errors();
            OSSL_PARAM *params = nullptr;
            if (EVP_PKEY_todata(key, EVP_PKEY_KEYPAIR, &params) > 0) {
                CPPUNIT_ASSERT(!OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PRIV_KEY));
                CPPUNIT_ASSERT(!OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_D));
                OSSL_PARAM_free(params);
            }
            errors();
            // PEM or DER of "the private key": a refusal, or secsf's URI reference.
            BIO *b = BIO_new(BIO_s_mem());
            PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
            char *text = nullptr;
            long n = BIO_get_mem_data(b, &text);
            std::string pem(text ? text : "", n > 0 ? n : 0);
            BIO_free(b);
            CPPUNIT_ASSERT_MESSAGE(pem, pem.find("PRIVATE KEY") == std::string::npos);
            unsigned char *der = nullptr;
            int len = i2d_PrivateKey(key, &der);
            OPENSSL_free(der);
            CPPUNIT_ASSERT_MESSAGE("i2d_PrivateKey wrote key material", len <= 0);
            errors();
        }
    }

    // Issue 15 item 10: Node.js reads a key's curve and size through the legacy
    // EC_KEY / RSA (asymmetricKeyDetails) and aborts when there is none. OpenSSL makes
    // that copy with the key's export: it gets the public half, never the private one,
    // and the key keeps signing in the SE afterwards (the copy must not become what
    // OpenSSL signs with).
    void legacyCopiesArePublicAndKeysKeepWorking() {
        const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(k_.ec);
        CPPUNIT_ASSERT_MESSAGE("no legacy EC_KEY: " + errors(), ec);
        CPPUNIT_ASSERT_EQUAL(NID_X9_62_prime256v1, EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)));
        CPPUNIT_ASSERT_MESSAGE("the private scalar left the token", !EC_KEY_get0_private_key(ec));
        CPPUNIT_ASSERT(EC_KEY_get0_public_key(ec));
        const RSA *rsa = EVP_PKEY_get0_RSA(k_.rsa);
        CPPUNIT_ASSERT_MESSAGE("no legacy RSA: " + errors(), rsa);
        CPPUNIT_ASSERT_EQUAL(2048, RSA_bits(rsa));
        CPPUNIT_ASSERT_MESSAGE("the private exponent left the token", !RSA_get0_d(rsa));
        for (EVP_PKEY *key : {k_.ec, k_.rsa}) {
            Bytes s = sign(key, "SHA256", "after the legacy copy");
            CPPUNIT_ASSERT_MESSAGE(errors(), !s.empty() && verifyWithDefault(key, "SHA256", "after the legacy copy", s));
            CPPUNIT_ASSERT_EQUAL(std::string("secsf"), providerOf(key));
        }
        // Comparing with a software key still leaves signing in the SE (EVP_PKEY_eq
        // moves keys between providers with the operation export).
        CPPUNIT_ASSERT_EQUAL(1, EVP_PKEY_eq(k_.ec, k_.ecPub));
        Bytes s = sign(k_.ec, "SHA256", "after a comparison");
        CPPUNIT_ASSERT_MESSAGE(errors(), !s.empty() && verifyWithDefault(k_.ec, "SHA256", "after a comparison", s));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LoadTest);
