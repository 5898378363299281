// libFuzzer target for the JSON/JOSE messages the services take from peers: JWS and
// JWE compact serializations (every key kind), JWTs, JWKs and access policies. Each
// must be accepted or refused with secsf::Error — an escaping JSON exception, a
// crash or an out-of-bounds read is a bug.
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "../services/access_policy.h"
#include "../services/jose.h"
#include "../services/jwt.h"
#include "secsf/error.h"

namespace {

using namespace secsf::svc;

struct Keys {
    JoseKey ec, rsa, hmac, aesKw;
    Keys() {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        ec = JoseKey::fromPkey(k);
        EVP_PKEY_free(k);
        k = EVP_RSA_gen(2048);
        rsa = JoseKey::fromPkey(k);
        EVP_PKEY_free(k);
        hmac = JoseKey::fromSecret(secsf::SecureBytes(32, 0x11));
        aesKw = JoseKey::fromSecret(secsf::SecureBytes(16, 0x22));
    }
};

template <class F> void refusedOrDone(F f) {
    try {
        f();
    } catch (const secsf::Error &) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Keys keys;
    std::string in(reinterpret_cast<const char *>(data), size);
    refusedOrDone([&] { (void)jwsPeek(in); });
    for (const JoseKey *k : {&keys.ec, &keys.rsa, &keys.hmac}) {
        refusedOrDone([&] { (void)jwsVerify(in, *k); });
        refusedOrDone([&] { (void)jwtVerify(in, *k, JwtCheck{"iss", "aud", 30}, [] { return (int64_t)1800000000; }); });
    }
    for (const JoseKey *k : {&keys.ec, &keys.rsa, &keys.hmac, &keys.aesKw})
        refusedOrDone([&] { (void)jweDecrypt(in, *k); });
    refusedOrDone([&] { (void)AccessPolicy::parse(in); });
    Json j = Json::parse(in, nullptr, false);
    if (!j.is_discarded()) refusedOrDone([&] { (void)JoseKey::fromJwk(j).publicJwk(); });
    return 0;
}
