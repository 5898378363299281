// Secure storage through the SE plug-in interface: owner-tagged, private objects.
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <functional>

#include "../../se-plugins/pkcs11/pkcs11_plugin.h"
#include "fixture.h"
#include "secsf/error.h"

using namespace testfix;

namespace {
secsf::Pkcs11Plugin &se() {
    static secsf::Pkcs11Plugin *p = [] {
        secsf::Pkcs11Config cfg;
        cfg.modulePath = getenv("SOFTHSM_MODULE") ? getenv("SOFTHSM_MODULE") : "/usr/lib/softhsm/libsofthsm2.so";
        cfg.token = "node1";
        cfg.pinSource = "file:" + pinFile("node1");
        return new secsf::Pkcs11Plugin(cfg);
    }();
    return *p;
}
secsf::Reason reasonOf(std::function<void()> f) {
    try {
        f();
    } catch (const secsf::Error &e) {
        return e.reason();
    }
    return secsf::Reason::Generic;
}
}  // namespace

class StorageTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StorageTest);
    CPPUNIT_TEST(putGetRoundTrip);
    CPPUNIT_TEST(otherOwnerCannotRead);
    CPPUNIT_TEST(overwriteAndList);
    CPPUNIT_TEST(deleteRemoves);
    CPPUNIT_TEST(badInputRefused);
    CPPUNIT_TEST(objectsArePrivateOnTheToken);
    CPPUNIT_TEST_SUITE_END();

public:
    void putGetRoundTrip() {
        Bytes data{'a', 0, 'b', 0xff};
        se().storagePut("CAE-sensor-7", "credential", data);
        CPPUNIT_ASSERT(se().storageGet("CAE-sensor-7", "credential") == data);
    }
    void otherOwnerCannotRead() {
        se().storagePut("CAE-sensor-7", "secret", Bytes{1, 2, 3});
        CPPUNIT_ASSERT(reasonOf([] { se().storageGet("/cse-in", "secret"); }) == secsf::Reason::NotFound);
        CPPUNIT_ASSERT(!se().storageDelete("/cse-in", "secret"));
        CPPUNIT_ASSERT(se().storageGet("CAE-sensor-7", "secret") == (Bytes{1, 2, 3}));
    }
    void overwriteAndList() {
        se().storagePut("/cse-mn", "a", Bytes{1});
        se().storagePut("/cse-mn", "b", Bytes{2});
        se().storagePut("/cse-mn", "a", Bytes{3});
        CPPUNIT_ASSERT(se().storageGet("/cse-mn", "a") == Bytes{3});
        auto names = se().storageList("/cse-mn");
        std::sort(names.begin(), names.end());
        CPPUNIT_ASSERT(names == (std::vector<std::string>{"a", "b"}));
    }
    void deleteRemoves() {
        se().storagePut("/cse-mn", "gone", Bytes{9});
        CPPUNIT_ASSERT(se().storageDelete("/cse-mn", "gone"));
        CPPUNIT_ASSERT(reasonOf([] { se().storageGet("/cse-mn", "gone"); }) == secsf::Reason::NotFound);
    }
    void badInputRefused() {
        CPPUNIT_ASSERT(reasonOf([] { se().storagePut("", "x", Bytes{1}); }) == secsf::Reason::BadInput);
        CPPUNIT_ASSERT(reasonOf([] { se().storagePut("o", "", Bytes{1}); }) == secsf::Reason::BadInput);
        CPPUNIT_ASSERT(reasonOf([] { se().storagePut("o", "big", Bytes(70000)); }) == secsf::Reason::BadInput);
    }
    void objectsArePrivateOnTheToken() {
        // Without login the token shows no data objects at all.
        std::string cmd = "OPENSSL_CONF=/dev/null pkcs11-tool --module " +
                          std::string(getenv("SOFTHSM_MODULE") ? getenv("SOFTHSM_MODULE") : "/usr/lib/softhsm/libsofthsm2.so") +
                          " --token-label node1 --list-objects --type data 2>/dev/null | grep -c 'Data object'";
        FILE *f = popen(cmd.c_str(), "r");
        char buf[16] = {0};
        fgets(buf, sizeof buf, f);
        pclose(f);
        CPPUNIT_ASSERT_EQUAL(0, atoi(buf));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StorageTest);
