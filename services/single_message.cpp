#include "single_message.h"

#include "integrity.h"
#include "messages.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

// What the authorization code covers: the message without its authz, plus token and time.
Json coveredBy(Json message, const std::string &token, int64_t ts) {
    message.erase("authz");
    return {{"message", message}, {"token", token}, {"ts", ts}};
}

void requireFresh(Freshness f) {
    if (f != Freshness::Fresh) throw Error(Reason::BadInput, std::string("the message is ") + freshnessText(f));
}

}  // namespace

Json authorizeSingleMessage(const JoseKey &senderKey, Json message, const std::string &token, const Clock &clock) {
    int64_t ts = clock();
    std::string code = calculateCheckValue(senderKey, coveredBy(message, token, ts));
    message["authz"] = {{"token", token}, {"ts", ts}, {"code", code}};
    return message;
}

Json validateSingleMessage(const Json &message, const JoseKey &senderKey, const LocalAuthorization &authz,
                           const std::string &audience, TimestampReplayGuard &replay) {
    if (!message.is_object() || !message.contains("authz") || !message["authz"].is_object())
        throw Error(Reason::BadInput, "the message carries no authorization");
    const Json &a = message["authz"];
    if (!a.contains("ts") || !a["ts"].is_number_integer()) throw Error(Reason::BadInput, "the authorization has no time");
    std::string token = member(a, "token"), code = member(a, "code");
    Json covered = coveredBy(message, token, a["ts"].get<int64_t>());
    covered["cv"] = code;
    try {
        validateCheckValue(senderKey, covered);
    } catch (const Error &) {
        throw Error(Reason::BadInput, "the authorization code does not match the message");
    }
    requireFresh(replay.check("authz:" + code, a["ts"].get<int64_t>()));
    return authz.validate(token, audience);
}

std::string encryptSingleMessage(const JoseKey &recipient, const Json &message, const Clock &clock) {
    Json body = {{"ts", clock()}, {"nonce", randomToken()}, {"message", message}};
    std::string s = body.dump();
    return jweEncrypt(recipient.publicKey(), Bytes(s.begin(), s.end()),
                      recipient.isRsa() ? "RSA-OAEP-256" : "ECDH-ES+A128KW", "A256GCM");
}

Json decryptSingleMessage(const std::string &jwe, const JoseKey &myKey, TimestampReplayGuard &replay) {
    SecureBytes pt = jweDecrypt(jwe, myKey);
    Json body = parseJson(pt);
    if (!body.is_object() || !body.contains("ts") || !body["ts"].is_number_integer() || !body.contains("message"))
        throw Error(Reason::BadInput, "the decrypted message is malformed");
    requireFresh(replay.check("sm:" + member(body, "nonce"), body["ts"].get<int64_t>()));
    return body["message"];
}

}  // namespace secsf::svc
