// Many threads on one token key from a cold start (the login race), fork() with
// keys in use, and a process with keys on two tokens that forks. Every signature
// is verified under the default provider.
#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <cstdlib>
#include <thread>
#include <vector>

#include "fixture.h"

using namespace testfix;

namespace {

const std::string kMsg = "oneM2M secured message";

std::string node2Uri(const std::string &object) {
    return "pkcs11:token=node2;object=" + object + ";type=private?pin-source=file:" + pinFile("node2");
}

bool signsAndVerifies(EVP_PKEY *k, const char *md = "SHA256") {
    Bytes s = sign(k, md, kMsg);
    return !s.empty() && verifyWithDefault(k, md, kMsg, s);
}

bool signByUri(const std::string &uri) {
    EVP_PKEY *k = loadKey(uri);
    bool ok = k && signsAndVerifies(k);
    EVP_PKEY_free(k);
    return ok;
}

}  // namespace

class ThreadsForkTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ThreadsForkTest);
    CPPUNIT_TEST(generateKeys);
    CPPUNIT_TEST(eightThreadsFromColdStart);
    CPPUNIT_TEST(forkThenSignInBoth);
    CPPUNIT_TEST(twoTokensForkAndSignOnBoth);
    CPPUNIT_TEST(forkWhileAnotherThreadIsSigning);
    CPPUNIT_TEST(preforkedWorkersSignSideBySide);
    CPPUNIT_TEST(keyDeletedWhileRunningIsSeen);
    CPPUNIT_TEST(keyAddedWhileRunningIsFound);
    CPPUNIT_TEST(keyReplacedWhileRunningIsTheNewOne);
    CPPUNIT_TEST(sixteenThreadsLoadWhileAnotherProcessWritesTheToken);
    CPPUNIT_TEST_SUITE_END();

public:
    void generateKeys() {
        EVP_PKEY *a = genEcKey("threads");
        CPPUNIT_ASSERT_MESSAGE(errors(), a);
        CPPUNIT_ASSERT_EQUAL(std::string("secsf"), providerOf(a));
        CPPUNIT_ASSERT(signsAndVerifies(a));
        EVP_PKEY *b = genEcKey("second", "pkcs11:token=node2?pin-source=file:" + pinFile("node2"));
        CPPUNIT_ASSERT_MESSAGE(errors(), b);
        CPPUNIT_ASSERT(signsAndVerifies(b));
        EVP_PKEY_free(a);
        EVP_PKEY_free(b);
    }

    void eightThreadsFromColdStart() {
        // A fresh child each round: the module is initialised anew and nobody is
        // logged in, so the eight threads race to the first login every time.
        for (int round = 0; round < 5; round++) {
        bool ok = inChild([] {
            std::atomic<int> good{0};
            std::vector<std::thread> ts;
            for (int i = 0; i < 8; i++)
                ts.emplace_back([&] {
                    EVP_PKEY *k = loadKey("pkcs11:token=node1;object=threads;type=private");
                    int n = 0;
                    for (int j = 0; k && j < 25; j++) n += signsAndVerifies(k);
                    EVP_PKEY_free(k);
                    if (n == 25) good++;
                    // The error queue is per thread: report it from here.
                    else fprintf(stderr, "thread: key %s, %d/25 signed\n%s", k ? "loaded" : "not loaded", n,
                                 errors().c_str());
                });
            for (auto &t : ts) t.join();
            if (good != 8) fprintf(stderr, "%d of 8 threads signed\n%s", good.load(), errors().c_str());
            return good == 8;
        });
        CPPUNIT_ASSERT_MESSAGE("round " + std::to_string(round), ok);
        }
    }

    void forkThenSignInBoth() {
        EVP_PKEY *k = loadKey("pkcs11:token=node1;object=threads;type=private");
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        CPPUNIT_ASSERT(signsAndVerifies(k));
        bool child = inChild([&] { return signsAndVerifies(k) && signsAndVerifies(k, "SHA384"); });
        CPPUNIT_ASSERT_MESSAGE("child could not sign with the inherited key", child);
        CPPUNIT_ASSERT_MESSAGE(errors(), signsAndVerifies(k));
        EVP_PKEY_free(k);
    }

    void twoTokensForkAndSignOnBoth() {
        EVP_PKEY *a = loadKey("pkcs11:token=node1;object=threads;type=private");
        EVP_PKEY *b = loadKey(node2Uri("second"));
        CPPUNIT_ASSERT_MESSAGE(errors(), a && b);
        CPPUNIT_ASSERT(signsAndVerifies(a) && signsAndVerifies(b));
        bool child = inChild([&] {
            return signsAndVerifies(a) && signsAndVerifies(b) && signByUri(node2Uri("second"));
        });
        CPPUNIT_ASSERT(child);
        CPPUNIT_ASSERT(signsAndVerifies(a) && signsAndVerifies(b));
        EVP_PKEY_free(a);
        EVP_PKEY_free(b);
    }

    // Issue 17 items 1-3 for PKCS#11: a fork() while another thread is inside the
    // module, and the pre-forking server pattern.
    void forkWhileAnotherThreadIsSigning() {
        EVP_PKEY *k = loadKey("pkcs11:token=node1;object=threads;type=private");
        CPPUNIT_ASSERT_MESSAGE(errors(), k && signsAndVerifies(k));
        int parentSigs = 0;
        int children = forksWhileBusy(
            3, 15, [&] { return signsAndVerifies(k); },
            [&] { return signsAndVerifies(k) && signByUri("pkcs11:token=node1;object=threads;type=private"); },
            &parentSigs);
        CPPUNIT_ASSERT_EQUAL(3, children);
        CPPUNIT_ASSERT(parentSigs > 0);
        CPPUNIT_ASSERT_MESSAGE(errors(), signsAndVerifies(k));
        EVP_PKEY_free(k);
    }
    void preforkedWorkersSignSideBySide() {
        EVP_PKEY *k = loadKey("pkcs11:token=node1;object=threads;type=private");
        CPPUNIT_ASSERT_MESSAGE(errors(), k && signsAndVerifies(k));
        auto fiftySignatures = [&](int) {
            int n = 0;
            for (int j = 0; j < 50; j++) n += signsAndVerifies(k);
            return n == 50;
        };
        int workers = preforkedWorkers(4, 60, fiftySignatures, [&] { return fiftySignatures(-1); });
        CPPUNIT_ASSERT_MESSAGE(errors(), workers == 4);
        EVP_PKEY_free(k);
    }

    void keyDeletedWhileRunningIsSeen() {
        EVP_PKEY *k = genEcKey("short-lived");
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        CPPUNIT_ASSERT(signByUri("pkcs11:token=node1;object=short-lived;type=private"));
        std::string cmd = "OPENSSL_CONF=/dev/null pkcs11-tool --module " +
                          softhsmModule() +
                          " --token-label node1 --login --pin 1234 --delete-object --type privkey"
                          " --label short-lived >/dev/null 2>&1";
        CPPUNIT_ASSERT_EQUAL(0, std::system(cmd.c_str()));
        EVP_PKEY *gone = loadKey("pkcs11:token=node1;object=short-lived;type=private");
        CPPUNIT_ASSERT_MESSAGE("a deleted key was still found", !gone);
        std::string e = errors();
        CPPUNIT_ASSERT_MESSAGE(e, e.find("no private key matches") != std::string::npos);
        // A key this process loaded before keeps working, like an open file: it
        // signs with the session copy secsf made of it (README, "Behaviour").
        Bytes s = sign(k, "SHA256", kMsg);
        CPPUNIT_ASSERT_MESSAGE(errors(), !s.empty() && verifyWithDefault(k, "SHA256", kMsg, s));
        EVP_PKEY_free(k);
    }

    void keyAddedWhileRunningIsFound() {
        // Look once (nothing there), let another process add the key, look again.
        const std::string uri = "pkcs11:token=node1;object=added-later;type=private";
        CPPUNIT_ASSERT(!loadKey(uri));
        errors();
        std::string cmd = "OPENSSL_CONF=/dev/null pkcs11-tool --module " +
                          softhsmModule() +
                          " --token-label node1 --login --pin 1234 --keypairgen"
                          " --key-type EC:prime256v1 --id 77 --label added-later >/dev/null 2>&1";
        CPPUNIT_ASSERT_EQUAL(0, std::system(cmd.c_str()));
        CPPUNIT_ASSERT_MESSAGE(errors(), signByUri(uri));
    }

    void keyReplacedWhileRunningIsTheNewOne() {
        // secsf remembers where a lookup found its key; another process replaces the
        // key under the same label and id: the next lookup must give the new key.
        const std::string uri = "pkcs11:token=node1;object=replaced;type=private";
        std::string tool = "OPENSSL_CONF=/dev/null pkcs11-tool --module " + softhsmModule() +
                           " --token-label node1 --login --pin 1234 ";
        std::string gen = tool + "--keypairgen --key-type EC:prime256v1 --id 78 --label replaced >/dev/null 2>&1";
        CPPUNIT_ASSERT_EQUAL(0, std::system(gen.c_str()));
        EVP_PKEY *before = loadKey(uri);
        EVP_PKEY *again = loadKey(uri);  // the remembered search
        CPPUNIT_ASSERT_MESSAGE(errors(), before && again && EVP_PKEY_eq(before, again) == 1);
        for (const char *type : {"privkey", "pubkey"}) {
            std::string del = tool + "--delete-object --type " + type + " --label replaced >/dev/null 2>&1";
            CPPUNIT_ASSERT_EQUAL(0, std::system(del.c_str()));
        }
        CPPUNIT_ASSERT_EQUAL(0, std::system(gen.c_str()));
        EVP_PKEY *after = loadKey(uri);
        CPPUNIT_ASSERT_MESSAGE(errors(), after);
        CPPUNIT_ASSERT_MESSAGE("the replaced key was still answered", EVP_PKEY_eq(before, after) != 1);
        Bytes sig = sign(after, "SHA256", kMsg);
        CPPUNIT_ASSERT_MESSAGE(errors(), !sig.empty() && verifyWithDefault(after, "SHA256", kMsg, sig));
        EVP_PKEY_free(before);
        EVP_PKEY_free(again);
        EVP_PKEY_free(after);
    }

    // Issue 15 item 3: another process makes and deletes an unrelated key pair in a
    // loop (SoftHSM rewrites the token's files each time) while 16 threads look up
    // and use stable keys. Every lookup must find its key, every signature verify.
    void sixteenThreadsLoadWhileAnotherProcessWritesTheToken() {
        EVP_PKEY *k = genEcKey("stable-under-writes");
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        EVP_PKEY_free(k);
        std::string stop = workDir() + "/writer.stop";
        std::remove(stop.c_str());
        std::string tool = "OPENSSL_CONF=/dev/null pkcs11-tool --module " + softhsmModule() +
                           " --token-label node1 --login --pin 1234 ";
        std::string writer = "(while [ ! -e '" + stop + "' ]; do " + tool +
                             "--keypairgen --key-type EC:prime256v1 --label churn --id 99 >/dev/null 2>&1; " + tool +
                             "--delete-object --type privkey --id 99 >/dev/null 2>&1; " + tool +
                             "--delete-object --type pubkey --id 99 >/dev/null 2>&1; done; rm -f '" + stop +
                             "') &";
        CPPUNIT_ASSERT_EQUAL(0, std::system(writer.c_str()));
        std::atomic<int> failures{0}, done{0};
        std::string firstError;
        std::mutex errMu;
        std::vector<std::thread> threads;
        int rounds = std::getenv("SECSF_WRITER_ROUNDS") ? std::atoi(std::getenv("SECSF_WRITER_ROUNDS")) : 100;
        for (int t = 0; t < 16; t++)
            threads.emplace_back([&] {
                for (int i = 0; i < rounds; i++) {
                    if (signByUri("pkcs11:token=node1;object=stable-under-writes;type=private")) {
                        done++;
                        continue;
                    }
                    failures++;
                    std::lock_guard<std::mutex> lk(errMu);
                    if (firstError.empty()) firstError = errors();
                }
            });
        for (auto &th : threads) th.join();
        std::ofstream(stop) << "stop\n";
        for (int i = 0; i < 100 && std::ifstream(stop); i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CPPUNIT_ASSERT_MESSAGE(std::to_string(failures.load()) + " of " + std::to_string(16 * rounds) +
                                   " lookups failed; first: " + firstError,
                               failures.load() == 0 && done.load() == 16 * rounds);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ThreadsForkTest);
