#include "credentials.h"

#include "jwt.h"
#include "messages.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

// How a message is encrypted to a key: ECDH-ES for EC keys, RSA-OAEP-256 for RSA.
std::string keyAlgFor(const JoseKey &k) { return k.isRsa() ? "RSA-OAEP-256" : "ECDH-ES+A128KW"; }

std::string sealFor(const JoseKey &recipient, const std::string &jws) {
    return jweEncrypt(recipient, toBytes(jws), keyAlgFor(recipient), "A128GCM");
}

// A JWE to us holding a JWS by `signer`: the verified JSON object of `type`.
Json openFrom(const std::string &jwe, const JoseKey &mine, const JoseKey &signer, const char *type) {
    SecureBytes inner = jweDecrypt(jwe, mine);
    return verifiedMessage(std::string(inner.begin(), inner.end()), signer, type);
}

const char *credentialKind(const std::string &enrolleeKind) { return enrolleeKind == "app" ? "sp" : "session"; }

}  // namespace

CredentialAuthority::CredentialAuthority(AuthorityConfig cfg, Repository &repo) : cfg_(std::move(cfg)), repo_(repo) {
    if (cfg_.name.empty() || cfg_.key.empty()) throw Error(Reason::Config, "a credential authority needs a name and a key");
}

void CredentialAuthority::enrol(const std::string &id, const JoseKey &publicKey, bool permitted) {
    repo_.putEnrollee({id, cfg_.kind, publicKey.publicPem(), permitted, true});
}

void CredentialAuthority::setPermitted(const std::string &id, bool permitted) {
    auto e = repo_.enrollee(id);
    if (!e) throw Error(Reason::NotFound, cause::kIdentityUnknown);
    e->permitted = permitted;
    repo_.putEnrollee(*e);
}

void CredentialAuthority::setAuthenticationEnabled(const std::string &id, bool enabled) {
    auto e = repo_.enrollee(id);
    if (!e) throw Error(Reason::NotFound, cause::kIdentityUnknown);
    e->authEnabled = enabled;
    repo_.putEnrollee(*e);
}

Bytes CredentialAuthority::reply(Json body) {
    body["iat"] = cfg_.clock();
    body["issuer"] = cfg_.name;
    return toBytes(jwsSign(cfg_.key, body));
}

Bytes CredentialAuthority::reject(const char *type, const std::string &id, const std::string &why, Json extra) {
    Json body = {{"type", type}, {"canonicalId", id}, {"causeOfRejection", why}};
    body[std::string(type) == "UpdateResponse" ? "updateRequestResult" : "registrationResult"] = "Rejected";
    for (auto &[k, v] : extra.items()) body[k] = v;
    return reply(body);
}

Bytes CredentialAuthority::handle(const Bytes &message) {
    std::string text = toString(message);
    try {
        if (!text.empty() && text[0] == '{') {
            Json m = parseObject(message, "the message");
            std::string type = member(m, "type");
            if (type == "SessionRequest") return onSessionRequest(m);
            if (type == "ChallengeResponse") return onChallengeResponse(m);
            throw Error(Reason::BadInput, "unknown message type " + type);
        }
        Jws peek = jwsPeek(text);
        Json m = parseObject(peek.payload, "the message");
        if (member(m, "type") != "UpdateRequest") throw Error(Reason::BadInput, "unknown signed message");
        m["jws"] = text;
        return onUpdateRequest(m);
    } catch (const Error &e) {
        return reply({{"type", "Error"}, {"cause", e.what()}});
    }
}

AuthenticationResult CredentialAuthority::authenticate(const Enrollee &e, const Json &request, std::string &nonce) {
    if (!e.authEnabled) return {false, cause::kAuthenticationDisabled};
    try {
        JoseKey nodeKey = JoseKey::fromPublicPem(e.publicKeyPem);
        Json c = openFrom(member(request, "networkChallenge"), cfg_.key, nodeKey, "NetworkChallenge");
        if (member(c, "canonicalId") != e.id || member(c, "networkId") != cfg_.name)
            return {false, cause::kAuthenticationFailed};
        checkFresh(c, cfg_.clock, cfg_.maxClockSkew);
        nonce = member(c, "nonce");
        if (!repo_.rememberNonce("nc:" + nonce, cfg_.clock() + 2 * cfg_.maxClockSkew, cfg_.clock()))
            return {false, cause::kAuthenticationFailed};
        return {true, ""};
    } catch (const Error &) {
        return {false, cause::kAuthenticationFailed};
    }
}

Bytes CredentialAuthority::onSessionRequest(const Json &m) {
    std::string id = member(m, "canonicalId");
    auto e = repo_.enrollee(id);
    if (!e || e->kind != cfg_.kind) return reject("SessionResponse", id, cause::kIdentityUnknown);
    if (!e->permitted) return reject("SessionResponse", id, cause::kNotPermittedToEnrol);
    if (member(m, "networkId") != cfg_.name) return reject("SessionResponse", id, cause::kAuthenticationFailed);
    std::string nonce;
    AuthenticationResult a = authenticate(*e, m, nonce);
    if (!a.passed)
        return reject("SessionResponse", id, cause::kAuthenticationFailed,
                      {{"authenticationResult", "Failed"}, {"causeOfFailure", a.cause}});
    std::string nodeChallenge = randomToken();
    repo_.putPending("enrol:" + id, nodeChallenge, cfg_.clock() + cfg_.challengeLifetime);
    JoseKey nodeKey = JoseKey::fromPublicPem(e->publicKeyPem);
    Json inner = {{"type", "MafChallenge"}, {"canonicalId", id}, {"networkChallengeResponse", nonce},
                  {"nodeChallenge", nodeChallenge}, {"iat", cfg_.clock()}};
    return reply({{"type", "EnrolmentChallenge"}, {"canonicalId", id}, {"networkId", cfg_.name},
                  {"challenge", sealFor(nodeKey, jwsSign(cfg_.key, inner))}});
}

Json CredentialAuthority::issue(const Enrollee &e, const JoseKey &holderKey) {
    // Create Session Credentials (table 9): a randomised list, each linked to the
    // true identity in the authority-only table, each with a MAF statement.
    int64_t now = cfg_.clock(), exp = now + cfg_.credentialLifetime;
    std::string jkt = jwkThumbprint(holderKey);
    Json list = Json::array();
    std::vector<Credential> made;
    try {
        for (int i = 0; i < cfg_.credentialsPerIssue; i++) {
            std::string tid = "tid-" + randomToken(12);
            Json claims = {{"jti", tid}, {"iss", cfg_.name}, {"sub", tid}, {"aud", cfg_.name}, {"nbf", now},
                           {"exp", exp}, {"kind", credentialKind(e.kind)}, {"cnf", {{"jkt", jkt}}}};
            list.push_back({{"id", tid}, {"jwt", jwtIssue(cfg_.key, claims)}, {"exp", exp}});
            made.push_back({tid, credentialKind(e.kind), now, exp, false});
        }
    } catch (const Error &) {
        throw Rejected(cause::kFailedToCreate);
    }
    try {
        repo_.atomically([&] {
            // A node has one holder: its new list supersedes the old one. The instances
            // of an App-ID share its credential key and cannot be told apart, so their
            // lists stay valid side by side until they expire (or revokeAll).
            if (e.kind != "app")
                for (const Credential &old : repo_.credentialsOf(e.id, Role::Authority))
                    if (!old.revoked) repo_.revokeCredential(old.id);
            for (const Credential &c : made) repo_.putCredential(c, e.id);
        });
    } catch (const Error &) {
        throw Rejected(cause::kLinkFailed);
    }
    return list;
}

Bytes CredentialAuthority::onChallengeResponse(const Json &m) {
    std::string id = member(m, "canonicalId");
    auto e = repo_.enrollee(id);
    if (!e || e->kind != cfg_.kind)
        return reject("SessionResponse", id, cause::kIdentityUnknown,
                      {{"enrolmentResult", "Failed"}, {"causeOfFailure", cause::kIdentityUnknown}});
    if (!e->permitted)
        return reject("SessionResponse", id, cause::kNotPermittedToEnrol,
                      {{"enrolmentResult", "Failed"}, {"causeOfFailure", cause::kNodeNotPermitted}});
    auto failed = [&] {
        return reject("SessionResponse", id, cause::kAuthenticationFailed,
                      {{"enrolmentResult", "Failed"}, {"causeOfFailure", cause::kNodeAuthenticationFailed}});
    };
    auto expected = repo_.takePending("enrol:" + id, cfg_.clock());
    if (!expected) return failed();
    JoseKey nodeKey = JoseKey::fromPublicPem(e->publicKeyPem);
    try {
        Json r = openFrom(member(m, "nodeResponse"), cfg_.key, nodeKey, "NodeResponse");
        if (member(r, "nodeChallenge") != *expected || member(r, "canonicalId") != id) return failed();
    } catch (const Error &) {
        return failed();
    }
    Json list;
    try {
        list = issue(*e, nodeKey);
    } catch (const Rejected &r) {
        return reject("SessionResponse", id, cause::kFailedToCreate,
                      {{"createResult", "Failure"}, {"causeOfFailure", r.cause()}});
    }
    Json sealed = {{"type", "CredentialList"}, {"credentials", list}, {"iat", cfg_.clock()}};
    return reply({{"type", "SessionResponse"}, {"canonicalId", id}, {"registrationResult", "Accepted"},
                  {"enrolmentResult", "Successful"}, {"credentials", sealFor(nodeKey, jwsSign(cfg_.key, sealed))}});
}

Bytes CredentialAuthority::onUpdateRequest(const Json &m) {
    std::string id = member(m, "canonicalId");
    auto e = repo_.enrollee(id);
    if (!e || e->kind != cfg_.kind) return reject("UpdateResponse", id, cause::kIdentityUnknown);
    JoseKey nodeKey = JoseKey::fromPublicPem(e->publicKeyPem);
    Json v;
    try {
        v = verifiedMessage(member(m, "jws"), nodeKey, "UpdateRequest");
    } catch (const Error &) {
        return reject("UpdateResponse", id, cause::kAuthenticationFailed);
    }
    try {
        checkFresh(v, cfg_.clock, cfg_.maxClockSkew);
        if (!repo_.rememberNonce("up:" + member(v, "nonce"), cfg_.clock() + 2 * cfg_.maxClockSkew, cfg_.clock()))
            throw Error(Reason::BadInput, cause::kReplayed);
    } catch (const Error &) {
        return reject("UpdateResponse", id, cause::kReplayed);
    }
    if (!e->permitted) return reject("UpdateResponse", id, cause::kNotPermittedToRequest);
    Json list;
    try {
        list = issue(*e, nodeKey);
    } catch (const Rejected &r) {
        return reject("UpdateResponse", id, cause::kFailedToCreate,
                      {{"createResult", "Failure"}, {"causeOfFailure", r.cause()}});
    }
    Json sealed = {{"type", "CredentialList"}, {"credentials", list}, {"iat", cfg_.clock()}};
    return reply({{"type", "UpdateResponse"}, {"canonicalId", id}, {"updateRequestResult", "Accepted"},
                  {"credentials", sealFor(nodeKey, jwsSign(cfg_.key, sealed))}});
}

RemovalResult CredentialAuthority::removeCredential(const std::string &cid,
                                                    const std::vector<std::function<bool(const Bytes &)>> &receivers) {
    RemovalResult r;
    auto c = repo_.credential(cid);
    if (!c || c->revoked) {
        r.cause = cause::kSubscriptionCredentialUnknown;
        r.revokeCause = cause::kSessionCredentialUnknown;
        return r;
    }
    try {
        repo_.revokeCredential(cid);
    } catch (const Error &) {
        r.cause = cause::kRemovalFailed;
        r.revokeCause = cause::kRevocationFailed;
        return r;
    }
    r.notice = reply({{"type", "Revocation"}, {"sessionCredential", cid}, {"nonce", randomToken()}});
    bool delivered = true;
    for (const auto &send : receivers) {
        try {
            delivered = send(r.notice) && delivered;
        } catch (...) {
            delivered = false;
        }
    }
    // The credential is revoked either way; a receiver that missed it must be told again.
    r.accepted = delivered;
    if (!delivered) r.cause = r.revokeCause = cause::kDistributionFailed;
    return r;
}

int CredentialAuthority::revokeAll(const std::string &id, const std::vector<std::function<bool(const Bytes &)>> &receivers) {
    setPermitted(id, false);
    int n = 0;
    for (const Credential &c : repo_.credentialsOf(id, Role::Authority))
        if (!c.revoked && removeCredential(c.id, receivers).revokeCause != cause::kSessionCredentialUnknown) n++;
    return n;
}

// --- the holder ---------------------------------------------------------------

CredentialHolder::CredentialHolder(HolderConfig cfg, Repository &repo) : cfg_(std::move(cfg)), repo_(repo) {
    if (cfg_.id.empty() || cfg_.key.empty() || cfg_.authorityKey.empty())
        throw Error(Reason::Config, "a credential holder needs an identity, its key and the MAF's key");
    // What we held before a restart.
    for (const Credential &c : repo_.credentialsOf(cfg_.id, Role::Authority))
        if (!c.revoked)
            held_.push_back({c.id, repo_.peekPending("jwt:" + c.id, cfg_.clock()).value_or(""), c.expires});
}

Bytes CredentialHolder::startEnrolment() {
    challenge_ = randomToken();
    Json c = {{"type", "NetworkChallenge"}, {"nonce", challenge_}, {"canonicalId", cfg_.id},
              {"networkId", cfg_.networkId}, {"iat", cfg_.clock()}};
    Json m = {{"type", "SessionRequest"}, {"canonicalId", cfg_.id}, {"nodeKeyId", jwkThumbprint(cfg_.key)},
              {"networkId", cfg_.networkId}, {"networkChallenge", sealFor(cfg_.authorityKey, jwsSign(cfg_.key, c))}};
    return toBytes(m.dump());
}

Bytes CredentialHolder::onEnrolmentChallenge(const Bytes &message) {
    Json m = parseObject(jwsVerify(toString(message), cfg_.authorityKey).payload, "the MAF's answer");
    if (member(m, "type") == "SessionResponse") throw Rejected(member(m, "causeOfRejection"));
    if (member(m, "type") != "EnrolmentChallenge") throw Error(Reason::BadInput, "expected an EnrolmentChallenge");
    if (challenge_.empty()) throw Error(Reason::BadInput, "no enrolment in progress");
    Json c = openFrom(member(m, "challenge"), cfg_.key, cfg_.authorityKey, "MafChallenge");
    if (member(c, "networkChallengeResponse") != challenge_ || member(c, "canonicalId") != cfg_.id)
        throw Error(Reason::BadInput, "the MAF did not answer our network challenge: not the MAF we enrol with");
    checkFresh(c, cfg_.clock, cfg_.maxClockSkew);
    challenge_.clear();
    Json r = {{"type", "NodeResponse"}, {"nodeChallenge", member(c, "nodeChallenge")}, {"canonicalId", cfg_.id},
              {"iat", cfg_.clock()}};
    Json out = {{"type", "ChallengeResponse"}, {"canonicalId", cfg_.id}, {"networkId", cfg_.networkId},
                {"nodeResponse", sealFor(cfg_.authorityKey, jwsSign(cfg_.key, r))}};
    return toBytes(out.dump());
}

EnrolResult CredentialHolder::accept(const Json &m, const char *type) {
    EnrolResult r;
    if (member(m, "type") != type) throw Error(Reason::BadInput, std::string("expected a ") + type);
    std::string result = optMember(m, std::string(type) == "UpdateResponse" ? "updateRequestResult" : "registrationResult");
    if (result != "Accepted") {
        r.cause = member(m, "causeOfRejection");
        return r;
    }
    Json list = openFrom(member(m, "credentials"), cfg_.key, cfg_.authorityKey, "CredentialList");
    if (!list.contains("credentials") || !list["credentials"].is_array())
        throw Error(Reason::BadInput, "the credential list is malformed");
    std::vector<HeldCredential> fresh;
    for (const Json &c : list["credentials"]) {
        if (!c.is_object() || !c.contains("exp") || !c["exp"].is_number_integer())
            throw Error(Reason::BadInput, "a credential is malformed");
        fresh.push_back({member(c, "id"), member(c, "jwt"), c["exp"].get<int64_t>()});
    }
    repo_.atomically([&] {
        for (const HeldCredential &old : held_) repo_.deleteCredential(old.id);
        for (const HeldCredential &c : fresh) {
            repo_.putCredential({c.id, cfg_.kind == "app" ? "sp" : "session", cfg_.clock(), c.expires, false}, cfg_.id);
            repo_.putPending("jwt:" + c.id, c.jwt, c.expires);
        }
    });
    held_ = fresh;
    r.accepted = true;
    r.credentials = fresh;
    return r;
}

EnrolResult CredentialHolder::onSessionResponse(const Bytes &message) {
    return accept(parseObject(jwsVerify(toString(message), cfg_.authorityKey).payload, "the MAF's answer"), "SessionResponse");
}

Bytes CredentialHolder::requestUpdate() {
    Json m = {{"type", "UpdateRequest"}, {"canonicalId", cfg_.id}, {"nodeKeyId", jwkThumbprint(cfg_.key)},
              {"nonce", randomToken()}, {"iat", cfg_.clock()}};
    return toBytes(jwsSign(cfg_.key, m));
}

EnrolResult CredentialHolder::onUpdateResponse(const Bytes &message) {
    return accept(parseObject(jwsVerify(toString(message), cfg_.authorityKey).payload, "the MAF's answer"), "UpdateResponse");
}

CredentialHolder::Removal CredentialHolder::onRevocation(const Bytes &notice,
                                                        const std::function<void(const std::string &)> &wipe) {
    Json m = verifiedMessage(toString(notice), cfg_.authorityKey, "Revocation");
    checkFresh(m, cfg_.clock, cfg_.maxClockSkew);
    if (!repo_.rememberNonce("rv:" + member(m, "nonce"), cfg_.clock() + 2 * cfg_.maxClockSkew, cfg_.clock()))
        throw Error(Reason::BadInput, cause::kReplayed);
    std::string cid = member(m, "sessionCredential");
    for (auto it = held_.begin(); it != held_.end(); ++it) {
        if (it->id != cid) continue;
        if (wipe) wipe(cid);  // tokens, SAs and anything else derived from it
        repo_.deleteCredential(cid);
        held_.erase(it);
        break;
    }
    return {true, ""};
}

std::vector<HeldCredential> CredentialHolder::credentials() const { return held_; }

}  // namespace secsf::svc
