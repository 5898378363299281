#include "messages.h"

#include <openssl/rand.h>

#include "secsf/error.h"

namespace secsf::svc {

std::string randomToken(size_t n) {
    Bytes b(n);
    if (RAND_bytes(b.data(), (int)n) != 1) throw Error(Reason::Generic, "no random numbers");
    return b64url(b);
}

std::string jwkThumbprint(const JoseKey &key) {
    Json jwk = key.publicJwk();
    Json required = jwk["kty"] == "EC" ? Json{{"crv", jwk["crv"]}, {"kty", "EC"}, {"x", jwk["x"]}, {"y", jwk["y"]}}
                                       : Json{{"e", jwk["e"]}, {"kty", "RSA"}, {"n", jwk["n"]}};
    std::string canonical = required.dump();  // members sorted, no whitespace: RFC 7638 3.3
    Bytes d(32);
    unsigned n = 0;
    EVP_Digest(canonical.data(), canonical.size(), d.data(), &n, EVP_sha256(), nullptr);
    return b64url(d);
}

Json parseObject(const Bytes &b, const char *what) {
    Json j = Json::parse(b.begin(), b.end(), nullptr, false);
    if (!j.is_object()) throw Error(Reason::BadInput, std::string(what) + " is not a JSON object");
    return j;
}

std::string member(const Json &j, const char *name) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) throw Error(Reason::BadInput, std::string("the message has no \"") + name + "\"");
    return it->get<std::string>();
}

Json verifiedMessage(const std::string &jws, const JoseKey &signer, const char *type) {
    Json m = parseObject(jwsVerify(jws, signer).payload, "the message");
    if (member(m, "type") != type) throw Error(Reason::BadInput, std::string("expected a ") + type + " message");
    return m;
}

void checkFresh(const Json &m, const Clock &clock, int64_t skew) {
    auto it = m.find("iat");
    if (it == m.end() || !it->is_number_integer()) throw Error(Reason::BadInput, "the message has no \"iat\"");
    int64_t iat = it->get<int64_t>(), now = clock();
    if (iat > now + skew || iat < now - skew) throw Error(Reason::BadInput, cause::kReplayed);
}

}  // namespace secsf::svc
