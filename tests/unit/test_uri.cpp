// RFC 7512 parsing through secsf's wrapper: every attribute, percent-encoding,
// PIN attributes, and the clear refusals for malformed input.
#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <functional>
#include <string>

#include "../../pkcs11/pin.h"
#include "../../pkcs11/uri.h"
#include "../../se-plugins/pcsc/piv_uri.h"
#include "../../se-plugins/tpm2/tpm2_uri.h"
#include "secsf/error.h"

using secsf::Error;
using secsf::Reason;
using secsf::p11::PinSource;
using secsf::p11::Uri;

namespace {

Reason reasonOf(const std::string &text) {
    try {
        Uri::parse(text);
    } catch (const Error &e) {
        return e.reason();
    }
    return Reason::Generic;  // parsed: not what these tests expect
}

}  // namespace

class UriTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(UriTest);
    CPPUNIT_TEST(objectAttributes);
    CPPUNIT_TEST(percentEncodedId);
    CPPUNIT_TEST(tokenMatching);
    CPPUNIT_TEST(pinValueIsRedacted);
    CPPUNIT_TEST(moduleQueries);
    CPPUNIT_TEST(badPercentEncoding);
    CPPUNIT_TEST(unknownAttribute);
    CPPUNIT_TEST(hugeValue);
    CPPUNIT_TEST(emptyAndWrongScheme);
    CPPUNIT_TEST(pinSources);
    CPPUNIT_TEST(formatRoundTrip);
    CPPUNIT_TEST(repeatedAttributesAndBothPinsAreRefused);
    CPPUNIT_TEST_SUITE_END();

public:
    void objectAttributes() {
        Uri u = Uri::parse("pkcs11:token=node1;object=my%20key;type=private");
        CPPUNIT_ASSERT_EQUAL(std::string("my key"), *u.label());
        CPPUNIT_ASSERT(*u.objectClass() == CKO_PRIVATE_KEY);
        CPPUNIT_ASSERT(!u.id());
        CPPUNIT_ASSERT(u.namesToken());
        CPPUNIT_ASSERT(*Uri::parse("pkcs11:type=cert").objectClass() == CKO_CERTIFICATE);
        CPPUNIT_ASSERT(*Uri::parse("pkcs11:type=public").objectClass() == CKO_PUBLIC_KEY);
        CPPUNIT_ASSERT(!Uri::parse("pkcs11:object=x").namesToken());
    }
    void percentEncodedId() {
        Uri u = Uri::parse("pkcs11:id=%01%ab%FF");
        std::vector<unsigned char> want{0x01, 0xab, 0xff};
        CPPUNIT_ASSERT(*u.id() == want);
    }
    void tokenMatching() {
        CK_TOKEN_INFO ti{};
        memset(ti.label, ' ', sizeof ti.label);
        memcpy(ti.label, "node1", 5);
        memset(ti.serialNumber, ' ', sizeof ti.serialNumber);
        CPPUNIT_ASSERT(Uri::parse("pkcs11:token=node1").matchesToken(ti));
        CPPUNIT_ASSERT(!Uri::parse("pkcs11:token=node2").matchesToken(ti));
        CPPUNIT_ASSERT(Uri::parse("pkcs11:object=k").matchesToken(ti));
    }
    void pinValueIsRedacted() {
        Uri u = Uri::parse("pkcs11:token=t;object=k?pin-value=secret99");
        CPPUNIT_ASSERT_EQUAL(std::string("secret99"), *u.pinValue());
        CPPUNIT_ASSERT(u.redacted().find("secret99") == std::string::npos);
        CPPUNIT_ASSERT(u.redacted().find("object=k") != std::string::npos);
    }
    void moduleQueries() {
        Uri u = Uri::parse("pkcs11:object=k?module-name=softhsm2&pin-source=file:/tmp/p");
        CPPUNIT_ASSERT_EQUAL(std::string("softhsm2"), *u.moduleName());
        CPPUNIT_ASSERT_EQUAL(std::string("file:/tmp/p"), *u.pinSource());
        Uri v = Uri::parse("pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so");
        CPPUNIT_ASSERT_EQUAL(std::string("/usr/lib/softhsm/libsofthsm2.so"), *v.modulePath());
    }
    void badPercentEncoding() {
        CPPUNIT_ASSERT(reasonOf("pkcs11:object=%zz") == Reason::BadUri);
        CPPUNIT_ASSERT(reasonOf("pkcs11:id=%4") == Reason::BadUri);
    }
    void unknownAttribute() {
        CPPUNIT_ASSERT(reasonOf("pkcs11:colour=blue") == Reason::BadUri);
        try {
            Uri::parse("pkcs11:colour=blue");
        } catch (const Error &e) {
            CPPUNIT_ASSERT(std::string(e.what()).find("RFC 7512") != std::string::npos);
        }
    }
    void hugeValue() {
        CPPUNIT_ASSERT(reasonOf("pkcs11:object=" + std::string(100000, 'a')) == Reason::BadUri);
    }
    void emptyAndWrongScheme() {
        CPPUNIT_ASSERT(reasonOf("") == Reason::BadUri);
        CPPUNIT_ASSERT(reasonOf("pkcs12:object=a") == Reason::BadUri);
        CPPUNIT_ASSERT(reasonOf(std::string("pkcs11:object=a\0b", 18)) == Reason::BadUri);
    }
    void pinSources() {
        setenv("SECSF_TEST_PIN", "4321", 1);
        CPPUNIT_ASSERT_EQUAL(std::string("4321"), PinSource::fromSource("env:SECSF_TEST_PIN").read().str());
        bool threw = false;
        try {
            PinSource::fromSource("env:SECSF_UNSET_PIN_VARIABLE").read();
        } catch (const Error &e) {
            threw = e.reason() == Reason::PinRequired &&
                    std::string(e.what()).find("SECSF_UNSET_PIN_VARIABLE") != std::string::npos;
        }
        CPPUNIT_ASSERT(threw);
        threw = false;
        try {
            PinSource::fromSource("ldap://pins");
        } catch (const Error &e) {
            threw = e.reason() == Reason::Config;
        }
        CPPUNIT_ASSERT(threw);
    }
    void formatRoundTrip() {
        std::vector<unsigned char> id{0xde, 0xad};
        std::string s = secsf::p11::formatUri("node 1", "", "k;1", id, CKO_PRIVATE_KEY);
        Uri u = Uri::parse(s);
        CPPUNIT_ASSERT_EQUAL(std::string("k;1"), *u.label());
        CPPUNIT_ASSERT(*u.id() == id);
        CPPUNIT_ASSERT(*u.objectClass() == CKO_PRIVATE_KEY);
    }
    // Issue 17 item 12: the last of a repeated attribute used to win unseen
    // ("slot=9a;slot=9c" used 9c), and pin-value silently overrode pin-source.
    void repeatedAttributesAndBothPinsAreRefused() {
        auto refused = [](const std::function<void()> &parse, const char *want) {
            try {
                parse();
            } catch (const Error &e) {
                return e.reason() == Reason::BadUri && std::string(e.what()).find(want) != std::string::npos;
            }
            return false;
        };
        for (const char *u : {"pkcs11:object=a;object=b", "pkcs11:token=t;object=a;token=u",
                              "pkcs11:object=a?module-name=x&module-name=y", "pkcs11:object=a?pin-value=1&pin-value=2"})
            CPPUNIT_ASSERT_MESSAGE(u, refused([&] { Uri::parse(u); }, "more than once"));
        CPPUNIT_ASSERT(refused([] { Uri::parse("pkcs11:object=a?pin-source=file:/p&pin-value=1234"); }, "both pin-source and pin-value"));
        for (const char *u : {"piv:slot=9a;slot=9c", "piv:slot=9a?pin-value=1&pin-value=2"})
            CPPUNIT_ASSERT_MESSAGE(u, refused([&] { secsf::pcsc::PivUri::parse(u); }, "more than once"));
        CPPUNIT_ASSERT(refused([] { secsf::pcsc::PivUri::parse("piv:slot=9a?pin-source=file:/p&pin-value=1"); }, "both pin-source"));
        for (const char *u : {"tpm2:handle=0x81000001;handle=0x81000002", "tpm2:object=a;object=b"})
            CPPUNIT_ASSERT_MESSAGE(u, refused([&] { secsf::tpm2::Uri::parse(u); }, "more than once"));
        CPPUNIT_ASSERT(refused([] { secsf::tpm2::Uri::parse("tpm2:handle=0x81000001?pin-source=file:/p&pin-value=1"); }, "both pin-source"));
        // One of each is fine.
        Uri::parse("pkcs11:token=t;object=a;id=%01?pin-source=file:/p&module-name=softhsm2");
        secsf::pcsc::PivUri::parse("piv:slot=9a?pin-value=1");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(UriTest);
