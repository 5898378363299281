// The values of secsf's configuration keys: what is accepted, and that every typo
// stops the configuration with the key's name instead of becoming 0.
#include <cppunit/extensions/HelperMacros.h>

#include <string>

#include "../../se-plugins/config_values.h"
#include "../../se-plugins/registry_config.h"
#include "secsf/error.h"

using secsf::Error;
using secsf::Reason;

namespace {

// The message of the Error(Config) `f` throws, or "" when it does not throw.
template <class F> std::string refusal(F f) {
    try {
        f();
    } catch (const Error &e) {
        CPPUNIT_ASSERT(e.reason() == Reason::Config);
        return e.what();
    }
    return "";
}

}  // namespace

class ConfigValuesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ConfigValuesTest);
    CPPUNIT_TEST(levels);
    CPPUNIT_TEST(handles);
    CPPUNIT_TEST(functionLevels);
    CPPUNIT_TEST(refusalQuotesNamesPrintably);
    CPPUNIT_TEST(registryRefusesBadLevel);
    CPPUNIT_TEST_SUITE_END();

public:
    void levels() {
        CPPUNIT_ASSERT_EQUAL(1, secsf::parseSecurityLevel("k", "1"));
        CPPUNIT_ASSERT_EQUAL(3, secsf::parseSecurityLevel("k", " 3 "));
        for (const char *bad : {"", "0", "10", "high", "3x", "-1", "+2", "2.5", "99999999999999999999999"}) {
            std::string m = refusal([&] { secsf::parseSecurityLevel("tpm2-security-level", bad); });
            CPPUNIT_ASSERT_MESSAGE(bad, m.find("tpm2-security-level") != std::string::npos);
        }
    }
    void handles() {
        CPPUNIT_ASSERT_EQUAL(0x81000001u, secsf::parsePersistentHandle("k", "0x81000001"));
        CPPUNIT_ASSERT_EQUAL(0x81000002u, secsf::parsePersistentHandle("k", "2164260866"));
        for (const char *bad : {"", "0x", "0x40000001", "0x81000001z", "81000001", "0x1810000010", "owner"})
            CPPUNIT_ASSERT_MESSAGE(bad, !refusal([&] { secsf::parsePersistentHandle("tpm2-parent-handle", bad); }).empty());
        // A non-printable value is shown without its control characters.
        std::string m = refusal([] { secsf::parsePersistentHandle("tpm2-parent-handle", "0x81\n\x1b[2J"); });
        CPPUNIT_ASSERT(m.find('\n') == std::string::npos && m.find('\x1b') == std::string::npos);
    }
    // Found by fuzz_config: a function name quoted in the refusal kept its newline.
    void refusalQuotesNamesPrintably() {
        std::string m = refusal([] { secsf::parseFunctionLevels("function-levels", "\001\nvure=2, secure-st:SECSF_PIN"); });
        CPPUNIT_ASSERT(!m.empty() && m.find('\n') == std::string::npos && m.find('\001') == std::string::npos);
    }
    void functionLevels() {
        auto l = secsf::parseFunctionLevels("function-levels", "signature=2, secure-storage = 3");
        CPPUNIT_ASSERT_EQUAL(size_t(2), l.size());
        CPPUNIT_ASSERT_EQUAL(2, l["signature"]);
        CPPUNIT_ASSERT_EQUAL(3, l["secure-storage"]);
        CPPUNIT_ASSERT(secsf::parseFunctionLevels("function-levels", "").empty());
        for (const char *bad : {"signature", "signature=", "=2", "Signature=2", "signature=2,signature=3", "signature=2,,x=1",
                                "signature=two"})
            CPPUNIT_ASSERT_MESSAGE(bad, refusal([&] { secsf::parseFunctionLevels("function-levels", bad); })
                                            .find("function-levels") != std::string::npos);
    }
    void registryRefusesBadLevel() {
        secsf::SeRegistry registry;
        std::string m = refusal([&] {
            secsf::configureRegistry(registry, [](const char *key) {
                return std::string(key) == "pcsc-reader" ? "*" : std::string(key) == "pcsc-security-level" ? "three" : "";
            });
        });
        CPPUNIT_ASSERT(m.find("pcsc-security-level = 'three'") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConfigValuesTest);
