#include "service_fixture.h"

#include <cppunit/TestAssert.h>

#include <map>

#include "fixture.h"

namespace testfix {

int64_t gNow = 1'800'000'000;

secsf::svc::Clock testClock() {
    return [] { return gNow; };
}

secsf::svc::JoseKey seKey(const std::string &label, const std::string &token) {
    static std::map<std::string, bool> made;
    std::string pin = token == "node1" ? "" : "?pin-source=file:" + pinFile(token);
    std::string uri = "pkcs11:token=" + token + ";object=" + label + ";type=private";
    if (!made[uri]) {
        EVP_PKEY *k = genEcKey(label, token == "node1" ? "" : "pkcs11:token=" + token + pin);
        CPPUNIT_ASSERT_MESSAGE(errors(), k);
        EVP_PKEY_free(k);
        made[uri] = true;
    }
    return secsf::svc::JoseKey::load(uri + pin);
}

secsf::svc::JoseKey softKey() {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
    secsf::svc::JoseKey j = secsf::svc::JoseKey::fromPkey(k);
    EVP_PKEY_free(k);
    return j;
}

}  // namespace testfix
