// The recursion trap: SoftHSM initialises OpenSSL inside C_Initialize and reads the
// same openssl.cnf, which loads secsf again. Here the application works in its own
// library context, so the module's OpenSSL initialisation happens during secsf's
// first device call: it must finish, not deadlock, and the key must work.
#include <cppunit/extensions/HelperMacros.h>

#include <openssl/provider.h>
#include <openssl/store.h>

#include <unistd.h>

#include "fixture.h"

using namespace testfix;

class RecursionTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RecursionTest);
    CPPUNIT_TEST(ownLibraryContextFirstUse);
    CPPUNIT_TEST_SUITE_END();

public:
    void ownLibraryContextFirstUse() {
        // A child, so that nothing in this process has touched OpenSSL's default
        // context or the module yet; alarm() turns a deadlock into a failure.
        bool ok = inChild([] {
            alarm(60);
            OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
            if (!ctx || !OSSL_LIB_CTX_load_config(ctx, getenv("OPENSSL_CONF"))) return false;
            EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_from_name(ctx, "EC", "provider=secsf");
            EVP_PKEY *key = nullptr;
            OSSL_PARAM p[] = {
                OSSL_PARAM_construct_utf8_string("group", (char *)"P-256", 0),
                OSSL_PARAM_construct_utf8_string("secsf.label", (char *)"recursion", 0),
                OSSL_PARAM_construct_end()};
            bool made = g && EVP_PKEY_keygen_init(g) > 0 && EVP_PKEY_CTX_set_params(g, p) > 0 &&
                        EVP_PKEY_generate(g, &key) > 0;
            EVP_PKEY_CTX_free(g);
            if (!made) {
                fprintf(stderr, "%s", errors().c_str());
                return false;
            }
            EVP_MD_CTX *m = EVP_MD_CTX_new();
            unsigned char sig[128];
            size_t len = sizeof sig;
            const unsigned char msg[] = "recursion";
            bool signedOk = EVP_DigestSignInit_ex(m, nullptr, "SHA256", ctx, nullptr, key, nullptr) > 0 &&
                            EVP_DigestSign(m, sig, &len, msg, sizeof msg) > 0;
            EVP_MD_CTX_free(m);
            bool verified = signedOk &&
                            verifyWithDefault(key, "SHA256", std::string((const char *)msg, sizeof msg),
                                              Bytes(sig, sig + len));
            EVP_PKEY_free(key);
            OSSL_LIB_CTX_free(ctx);
            return verified;
        });
        CPPUNIT_ASSERT(ok);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RecursionTest);
