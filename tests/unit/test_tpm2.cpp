// The TPM plug-in under threads, fork() and a TPM that goes away and comes back,
// against a private swtpm. Every signature is verified under the default provider.
#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../../se-plugins/tpm2/tpm2_plugin.h"
#include "fixture.h"
#include "secsf/error.h"

using namespace testfix;

extern "C" const bool secsf_test_needs_swtpm = true;

namespace {

const std::string kMsg = "signed in the TPM";

std::string keyUri() { return "tpm2:file=" + workDir() + "/tpm-ec.tpm2;object=tpm-ec"; }

bool signsAndVerifies(EVP_PKEY *k) {
    Bytes s = sign(k, "SHA256", kMsg);
    return !s.empty() && verifyWithDefault(k, "SHA256", kMsg, s);
}

}  // namespace

class Tpm2Test : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(Tpm2Test);
    CPPUNIT_TEST(generateInTpm);
    CPPUNIT_TEST(eightThreads);
    CPPUNIT_TEST(forkThenSignInBoth);
    CPPUNIT_TEST(forkWhileAnotherThreadIsInsideTheTpm);
    CPPUNIT_TEST(preforkedWorkersSignSideBySide);
    CPPUNIT_TEST(tpmGoesAwayAndComesBack);
    CPPUNIT_TEST(sealedStorage);
    CPPUNIT_TEST_SUITE_END();

public:
    void generateInTpm() {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, "EC", "provider=secsf");
        EVP_PKEY *k = nullptr;
        std::string where = "tpm2:file=" + workDir() + "/tpm-ec.tpm2";
        OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("group", (char *)"P-256", 0),
                          OSSL_PARAM_construct_utf8_string("secsf.label", (char *)"tpm-ec", 0),
                          OSSL_PARAM_construct_utf8_string("secsf.uri", (char *)where.c_str(), 0),
                          OSSL_PARAM_construct_end()};
        CPPUNIT_ASSERT(c && EVP_PKEY_keygen_init(c) > 0 && EVP_PKEY_CTX_set_params(c, p) > 0);
        CPPUNIT_ASSERT_MESSAGE(errors(), EVP_PKEY_generate(c, &k) > 0);
        EVP_PKEY_CTX_free(c);
        CPPUNIT_ASSERT_EQUAL(std::string("secsf"), providerOf(k));
        CPPUNIT_ASSERT(signsAndVerifies(k));
        EVP_PKEY_free(k);
    }
    void eightThreads() {
        std::atomic<int> good{0};
        std::vector<std::thread> ts;
        for (int i = 0; i < 8; i++)
            ts.emplace_back([&] {
                EVP_PKEY *k = loadKey(keyUri());
                int n = 0;
                for (int j = 0; k && j < 10; j++) n += signsAndVerifies(k);
                EVP_PKEY_free(k);
                if (n == 10) good++;
            });
        for (auto &t : ts) t.join();
        CPPUNIT_ASSERT_MESSAGE(errors(), good == 8);
    }
    void forkThenSignInBoth() {
        EVP_PKEY *k = loadKey(keyUri());
        CPPUNIT_ASSERT_MESSAGE(errors(), k && signsAndVerifies(k));
        // The child uses the key it inherited: it opens its own TPM connection.
        bool child = inChild([&] {
            int n = 0;
            for (int j = 0; j < 10; j++) n += signsAndVerifies(k);
            return n == 10;
        });
        CPPUNIT_ASSERT(child);
        CPPUNIT_ASSERT(signsAndVerifies(k));
        EVP_PKEY_free(k);
    }
    // Issue 17 item 1: a fork() while another thread holds the TPM lock must not leave
    // the child (and then every TPM user) waiting for a lock nobody will release.
    void forkWhileAnotherThreadIsInsideTheTpm() {
        EVP_PKEY *k = loadKey(keyUri());
        CPPUNIT_ASSERT_MESSAGE(errors(), k && signsAndVerifies(k));
        // The busy thread is inside a TPM operation nearly all the time.
        int parentSigs = 0;
        int children = forksWhileBusy(
            3, 15, [&] { return signsAndVerifies(k); }, [&] { return signsAndVerifies(k); }, &parentSigs);
        CPPUNIT_ASSERT_EQUAL(3, children);
        CPPUNIT_ASSERT(parentSigs > 0);
        CPPUNIT_ASSERT_MESSAGE(errors(), signsAndVerifies(k));
        EVP_PKEY_free(k);
    }
    // Issue 17 item 3: the parent loads and uses the key, then its workers and the
    // parent sign at the same time; each takes its turn at a one-client swtpm.
    void preforkedWorkersSignSideBySide() {
        EVP_PKEY *k = loadKey(keyUri());
        CPPUNIT_ASSERT_MESSAGE(errors(), k && signsAndVerifies(k));
        auto tenSignatures = [&](int) {
            int n = 0;
            for (int j = 0; j < 10; j++) n += signsAndVerifies(k);
            return n == 10;
        };
        int workers = preforkedWorkers(3, 60, tenSignatures, [&] { return tenSignatures(-1); });
        CPPUNIT_ASSERT_MESSAGE(errors(), workers == 3);
        EVP_PKEY_free(k);
    }
    void tpmGoesAwayAndComesBack() {
        EVP_PKEY *k = loadKey(keyUri());
        CPPUNIT_ASSERT(k && signsAndVerifies(k));
        stopSwtpm();
        CPPUNIT_ASSERT(sign(k, "SHA256", kMsg).empty());
        std::string e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("cannot reach the TPM") != std::string::npos ||
                                      e.find("cannot talk to the TPM") != std::string::npos);
        startSwtpm();
        CPPUNIT_ASSERT_MESSAGE(errors(), signsAndVerifies(k));
        EVP_PKEY_free(k);
    }
    void sealedStorage() {
        secsf::tpm2::Config cfg;
        cfg.tcti = "swtpm:path=" + workDir() + "/tpm/sock";
        cfg.storageDir = workDir() + "/sealed";
        secsf::tpm2::Plugin tpm(cfg);
        CPPUNIT_ASSERT(tpm.capabilities() & secsf::CapStorage);
        Bytes data{'K', 'p', 's', 'a', 0, 1, 2};
        tpm.storagePut("CAE-1", "credential", data);
        CPPUNIT_ASSERT(tpm.storageGet("CAE-1", "credential") == data);
        tpm.storagePut("CAE-1", "credential", Bytes{9});
        CPPUNIT_ASSERT(tpm.storageGet("CAE-1", "credential") == Bytes{9});
        bool other = false;
        try {
            tpm.storageGet("/cse-in", "credential");
        } catch (const secsf::Error &e) {
            other = e.reason() == secsf::Reason::NotFound;
        }
        CPPUNIT_ASSERT_MESSAGE("another owner read the object", other);
        CPPUNIT_ASSERT(tpm.storageList("CAE-1") == std::vector<std::string>{"credential"});
        // The file on disk is sealed: the value is not in it.
        std::string cmd = "grep -rqF Kpsa '" + workDir() + "/sealed'";
        tpm.storagePut("CAE-1", "credential", data);
        CPPUNIT_ASSERT(std::system(cmd.c_str()) != 0);
        bool tooBig = false;
        try {
            tpm.storagePut("CAE-1", "big", Bytes(200));
        } catch (const secsf::Error &e) {
            tooBig = std::string(e.what()).find("up to 128 bytes") != std::string::npos;
        }
        CPPUNIT_ASSERT(tooBig);
        CPPUNIT_ASSERT(tpm.storageDelete("CAE-1", "credential"));
        CPPUNIT_ASSERT(tpm.storageList("CAE-1").empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(Tpm2Test);
