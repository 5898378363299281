#include "integrity.h"

#include "secsf/error.h"

namespace secsf::svc {

namespace {

std::string canonical(Json message) {
    message.erase("cv");
    return dumpJson(message);  // nlohmann keeps object members sorted
}

}  // namespace

std::string calculateCheckValue(const JoseKey &key, const Json &message) {
    std::string body = canonical(message);
    std::string jws = jwsSign(key, Bytes(body.begin(), body.end()));
    size_t a = jws.find('.'), b = jws.rfind('.');
    return jws.substr(0, a) + ".." + jws.substr(b + 1);  // detached payload
}

Json insertCheckValue(const JoseKey &key, Json message) {
    if (!message.is_object()) throw Error(Reason::BadInput, "a check value goes into a JSON object");
    message["cv"] = calculateCheckValue(key, message);
    return message;
}

void validateCheckValue(const JoseKey &key, const Json &message) {
    if (!message.is_object() || !message.contains("cv") || !message["cv"].is_string())
        throw Error(Reason::BadInput, "the message has no check value");
    std::string cv = message["cv"].get<std::string>();
    size_t a = cv.find('.'), b = cv.rfind('.');
    if (a == std::string::npos || b != a + 1) throw Error(Reason::BadInput, "the check value is not a detached JWS");
    std::string body = canonical(message);
    try {
        jwsVerify(cv.substr(0, a) + "." + b64url(body) + "." + cv.substr(b + 1), key);
    } catch (const Error &) {
        throw Error(Reason::BadInput, "the check value does not match the message");
    }
}

}  // namespace secsf::svc
