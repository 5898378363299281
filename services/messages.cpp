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
    Json j = parseJson(b);
    if (!j.is_object()) throw Error(Reason::BadInput, std::string(what) + " is not a JSON object");
    return j;
}

std::string member(const Json &j, const char *name) {
    auto it = j.is_object() ? j.find(name) : j.end();
    if (!j.is_object() || it == j.end() || !it->is_string()) throw Error(Reason::BadInput, std::string("the message has no \"") + name + "\"");
    return it->get<std::string>();
}

std::string optMember(const Json &j, const char *name, const std::string &otherwise) {
    if (!j.is_object()) throw Error(Reason::BadInput, "the message is not a JSON object");
    auto it = j.find(name);
    if (it == j.end()) return otherwise;
    if (!it->is_string()) throw Error(Reason::BadInput, std::string("the message's \"") + name + "\" is not a string");
    return it->get<std::string>();
}

int64_t intMember(const Json &j, const char *name) {
    auto it = j.is_object() ? j.find(name) : j.end();
    if (!j.is_object() || it == j.end() || !it->is_number_integer())
        throw Error(Reason::BadInput, std::string("the message has no integer \"") + name + "\"");
    return it->get<int64_t>();
}

bool boolMember(const Json &j, const char *name, bool otherwise) {
    if (!j.is_object()) throw Error(Reason::BadInput, "the message is not a JSON object");
    auto it = j.find(name);
    if (it == j.end()) return otherwise;
    if (!it->is_boolean()) throw Error(Reason::BadInput, std::string("the message's \"") + name + "\" is not true or false");
    return it->get<bool>();
}

Json verifiedMessage(const std::string &jws, const JoseKey &signer, const char *type) {
    Json m = parseObject(jwsVerify(jws, signer).payload, "the message");
    if (member(m, "type") != type) throw Error(Reason::BadInput, std::string("expected a ") + type + " message");
    return m;
}

void checkFresh(const Json &m, const Clock &clock, int64_t skew) {
    int64_t iat = intMember(m, "iat"), now = clock();
    if (iat > now + skew || iat < now - skew) throw Error(Reason::BadInput, cause::kReplayed);
}

}  // namespace secsf::svc
