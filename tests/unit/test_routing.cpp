// secsf answers only for keys in an SE: software keys keep running in the default
// provider with secsf loaded, and token keys match their certificates.
#include <cppunit/extensions/HelperMacros.h>

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "fixture.h"

using namespace testfix;

namespace {

std::string opProvider(EVP_MD_CTX *m) {
    const OSSL_PROVIDER *p = EVP_PKEY_CTX_get0_provider(EVP_MD_CTX_get_pkey_ctx(m));
    return p ? OSSL_PROVIDER_get0_name(p) : "(none)";
}

EVP_PKEY *softwareKey() {
    return EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
}

}  // namespace

class RoutingTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RoutingTest);
    CPPUNIT_TEST(softwareKeysStayInDefault);
    CPPUNIT_TEST(tokenKeysSignInSecsf);
    CPPUNIT_TEST(certificateMatchesTokenKey);
    CPPUNIT_TEST(softwarePrivateKeyIsNotImported);
    CPPUNIT_TEST_SUITE_END();

public:
    void softwareKeysStayInDefault() {
        EVP_PKEY *k = softwareKey();
        CPPUNIT_ASSERT(k);
        CPPUNIT_ASSERT_EQUAL(std::string("default"), providerOf(k));
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        CPPUNIT_ASSERT(EVP_DigestSignInit_ex(m, nullptr, "SHA256", nullptr, nullptr, k, nullptr) > 0);
        CPPUNIT_ASSERT_EQUAL(std::string("default"), opProvider(m));
        EVP_MD_CTX_free(m);
        m = EVP_MD_CTX_new();
        CPPUNIT_ASSERT(EVP_DigestVerifyInit_ex(m, nullptr, "SHA256", nullptr, nullptr, k, nullptr) > 0);
        CPPUNIT_ASSERT_EQUAL(std::string("default"), opProvider(m));
        EVP_MD_CTX_free(m);
        EVP_PKEY_free(k);
    }

    void tokenKeysSignInSecsf() {
        EVP_PKEY *k = genEcKey("routing");
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        CPPUNIT_ASSERT(EVP_DigestSignInit_ex(m, nullptr, "SHA256", nullptr, nullptr, k, nullptr) > 0);
        CPPUNIT_ASSERT_EQUAL(std::string("secsf"), opProvider(m));
        EVP_MD_CTX_free(m);
        EVP_PKEY_free(k);
    }

    void certificateMatchesTokenKey() {
        EVP_PKEY *k = loadKey("pkcs11:token=node1;object=routing;type=private");
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        X509 *x = X509_new();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"routing", -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(x));
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        CPPUNIT_ASSERT(X509_set_pubkey(x, k));
        CPPUNIT_ASSERT_MESSAGE(errors(), X509_sign(x, k, EVP_sha256()) > 0);
        CPPUNIT_ASSERT_EQUAL(1, X509_verify(x, X509_get0_pubkey(x)));
        CPPUNIT_ASSERT_MESSAGE(errors(), X509_check_private_key(x, k) == 1);
        EVP_PKEY *other = softwareKey();
        CPPUNIT_ASSERT(X509_check_private_key(x, other) != 1);
        errors();
        EVP_PKEY_free(other);
        X509_free(x);
        EVP_PKEY_free(k);
    }

    void softwarePrivateKeyIsNotImported() {
        // Asking secsf by property for a software key's operation must not copy the
        // private key into secsf: it refuses, with a sentence.
        EVP_PKEY *k = softwareKey();
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        int rc = EVP_DigestSignInit_ex(m, nullptr, "SHA256", nullptr, "provider=secsf", k, nullptr);
        std::string e = errors();
        CPPUNIT_ASSERT(rc <= 0 || opProvider(m) != "secsf");
        EVP_MD_CTX_free(m);
        EVP_PKEY_free(k);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RoutingTest);
