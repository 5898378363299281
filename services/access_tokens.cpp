#include "access_tokens.h"

#include <algorithm>

#include "jwt.h"
#include "messages.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

// "active" unless a restriction is in force now.
std::string effectiveState(const std::optional<AuthzStatus> &s, int64_t now) {
    if (!s || s->state == "active") return "active";
    if (s->state == "disabled" && s->until != 0 && s->until <= now) return "active";
    return s->state;
}

}  // namespace

Mzf::Mzf(MzfConfig cfg, Repository &repo) : cfg_(std::move(cfg)), repo_(repo) {
    if (cfg_.name.empty() || cfg_.key.empty() || cfg_.mafKey.empty())
        throw Error(Reason::Config, "an MZF needs a name, its key and the MAF's key");
}

Bytes Mzf::answer(Json body) {
    body["iat"] = cfg_.clock();
    body["issuer"] = cfg_.name;
    return toBytes(jwsSign(cfg_.key, body));
}

Bytes Mzf::reject(const std::string &why) {
    return answer({{"type", "TokenResponse"}, {"result", "Rejected"}, {"cause", why}});
}

Bytes Mzf::handle(const Bytes &message) {
    try {
        std::string text = toString(message);
        Jws peek = jwsPeek(text);
        Json m = parseObject(peek.payload, "the request");
        std::string type = member(m, "type");
        if (type == "StatusRequest") {
            std::string subject = member(m, "subject");
            auto s = repo_.status(subject);
            return answer({{"type", "AuthorizationStatus"}, {"subject", subject},
                           {"state", s ? s->state : "active"}, {"until", s ? s->until : 0}, {"seq", s ? s->seq : 0}});
        }
        if (type != "TokenRequest" && type != "TokenUpdate") throw Error(Reason::BadInput, "unknown request " + type);
        // The credential: the MAF's statement, not revoked.
        Json cred;
        try {
            cred = jwtVerify(member(m, "credential"), cfg_.mafKey, {cfg_.mafName, cfg_.mafName}, cfg_.clock);
        } catch (const Error &) {
            return reject(cause::kCredentialInvalid);
        }
        std::string subject = member(cred, "sub");
        auto known = repo_.credential(subject);
        if (known && known->revoked) return reject(cause::kCredentialRevoked);
        // Its holder: the request is signed by the key the credential names.
        if (!peek.header.contains("jwk")) return reject(cause::kNotHolder);
        JoseKey holder = JoseKey::fromJwk(peek.header["jwk"]);
        if (!cred.contains("cnf") || !cred["cnf"].is_object() || optMember(cred["cnf"], "jkt") != jwkThumbprint(holder))
            return reject(cause::kNotHolder);
        try {
            m = verifiedMessage(text, holder, type.c_str());
            checkFresh(m, cfg_.clock, cfg_.maxClockSkew);
            if (!repo_.rememberNonce("tk:" + member(m, "nonce"), cfg_.clock() + 2 * cfg_.maxClockSkew, cfg_.clock()))
                return reject(cause::kReplayed);
        } catch (const Error &) {
            return reject(cause::kNotHolder);
        }
        std::string state = effectiveState(repo_.status(subject), cfg_.clock());
        if (state == "removed") return reject(cause::kAuthorizationRemoved);
        if (state == "disabled") return reject(cause::kAuthorizationDisabled);
        Json audience = m.value("audience", Json::array());
        if (type == "TokenUpdate") {
            // Update before expiry: the old token must be ours, live, and is replaced.
            Json old;
            try {
                old = jwtVerify(member(m, "token"), cfg_.key, {cfg_.name, ""}, cfg_.clock);
            } catch (const Error &) {
                return reject(cause::kTokenUnknown);
            }
            auto rec = repo_.token(member(old, "jti"));
            if (!rec || rec->revoked || member(old, "sub") != subject) return reject(cause::kTokenUnknown);
            repo_.revokeToken(rec->jti);
            audience = old["aud"];
        }
        if (!audience.is_array() || audience.empty() || audience.size() > 16 ||
            !std::all_of(audience.begin(), audience.end(), [](const Json &a) { return a.is_string(); }))
            throw Error(Reason::BadInput, "a token request names its audience: 1 to 16 strings");
        return issueTokens(subject, audience, cred["exp"].get<int64_t>());
    } catch (const Error &e) {
        return reject(e.what());
    }
}

Bytes Mzf::issueTokens(const std::string &subject, const Json &audience, int64_t credentialExpiry) {
    int64_t now = cfg_.clock();
    if (repo_.activeTokens(subject, now) >= cfg_.maxTokensPerSubject) return reject(cause::kTokenLimit);
    // A token never outlives the credential it was issued against.
    int64_t exp = std::min(now + cfg_.maxTokenLifetime, credentialExpiry);
    std::string jti = "tok-" + randomToken(12);
    Json claims = {{"jti", jti}, {"iss", cfg_.name}, {"sub", subject}, {"nbf", now}, {"exp", exp}, {"aud", audience}};
    std::string jwt = jwtIssue(cfg_.key, claims);
    repo_.putToken({jti, subject, dumpJson(audience), exp, false});
    return answer({{"type", "TokenResponse"}, {"result", "Accepted"}, {"tokens", Json::array({jwt})}});
}

bool Mzf::onRevocation(const Bytes &notice) {
    try {
        Json m = verifiedMessage(toString(notice), cfg_.mafKey, "Revocation");
        checkFresh(m, cfg_.clock, cfg_.maxClockSkew);
        if (!repo_.rememberNonce("rv:" + member(m, "nonce"), cfg_.clock() + 2 * cfg_.maxClockSkew, cfg_.clock()))
            return false;
        std::string cid = member(m, "sessionCredential");
        repo_.atomically([&] {
            repo_.putCredential({cid, "session", cfg_.clock(), 0, true}, "");
            repo_.revokeTokensOf(cid);
        });
        return true;
    } catch (const Error &) {
        return false;
    }
}

Bytes Mzf::publishStatus(const std::string &subject, const std::string &state, int64_t until) {
    if (state != "active" && state != "disabled" && state != "removed")
        throw Error(Reason::BadInput, "authorization status is active, disabled or removed");
    AuthzStatus s{subject, state, until, 1};
    repo_.atomically([&] {
        if (auto old = repo_.status(subject)) s.seq = old->seq + 1;
        repo_.putStatus(s);
        if (state != "active") repo_.revokeTokensOf(subject);
    });
    return answer({{"type", "AuthorizationStatus"}, {"subject", subject}, {"state", state}, {"until", until}, {"seq", s.seq}});
}

// --- the holder's side ---------------------------------------------------------

Bytes TokenClient::signedRequest(Json body) {
    body["nonce"] = randomToken();
    body["iat"] = clock_();
    return toBytes(jwsSign(key_, body, {{"jwk", key_.publicJwk()}}));
}

Bytes TokenClient::request(const HeldCredential &c, const std::vector<std::string> &audience) {
    return signedRequest({{"type", "TokenRequest"}, {"credential", c.jwt}, {"audience", audience}});
}

Bytes TokenClient::update(const HeldCredential &c, const std::string &token) {
    return signedRequest({{"type", "TokenUpdate"}, {"credential", c.jwt}, {"token", token}});
}

Bytes TokenClient::statusRequest(const std::string &subject) {
    return signedRequest({{"type", "StatusRequest"}, {"subject", subject}});
}

std::vector<std::string> TokenClient::onResponse(const Bytes &response, const JoseKey &mzfKey) {
    Json m = verifiedMessage(toString(response), mzfKey, "TokenResponse");
    if (optMember(m, "result") != "Accepted") throw Rejected(optMember(m, "cause", "no cause given"));
    std::vector<std::string> out;
    const Json &tokens = m.contains("tokens") ? m["tokens"] : Json::array();
    if (!tokens.is_array()) throw Error(Reason::BadInput, "the answer's \"tokens\" is not an array");
    for (const Json &t : tokens)
        if (t.is_string()) out.push_back(t.get<std::string>());
    return out;
}

// --- the local authorization-status repository -------------------------------

LocalAuthorization::LocalAuthorization(JoseKey mzfKey, std::string mzfName, Repository &repo, Clock clock)
    : mzfKey_(std::move(mzfKey)), mzfName_(std::move(mzfName)), repo_(repo), clock_(std::move(clock)) {}

void LocalAuthorization::apply(const Bytes &statusMessage) {
    Json m = verifiedMessage(toString(statusMessage), mzfKey_, "AuthorizationStatus");
    if (optMember(m, "issuer") != mzfName_) throw Error(Reason::BadInput, "a status from another MZF");
    if (!m.contains("seq") || !m["seq"].is_number_integer() || !m.contains("until") || !m["until"].is_number_integer())
        throw Error(Reason::BadInput, "a malformed status message");
    AuthzStatus s{member(m, "subject"), member(m, "state"), m["until"].get<int64_t>(), m["seq"].get<int64_t>()};
    repo_.atomically([&] {
        auto known = repo_.status(s.subject);
        // Newer only: replaying an old "active" must not lift a later removal.
        if (known && known->seq >= s.seq) throw Error(Reason::BadInput, "an older authorization status than the one known");
        repo_.putStatus(s);
    });
}

AuthzStatus LocalAuthorization::status(const std::string &subject) const {
    auto s = repo_.status(subject);
    AuthzStatus out = s ? *s : AuthzStatus{subject};
    out.state = effectiveState(s, clock_());
    return out;
}

Json LocalAuthorization::validate(const std::string &token, const std::string &audience) const {
    Json c = jwtVerify(token, mzfKey_, {mzfName_, audience}, clock_);
    std::string state = status(member(c, "sub")).state;
    if (state == "removed") throw Rejected(cause::kAuthorizationRemoved);
    if (state == "disabled") throw Rejected(cause::kAuthorizationDisabled);
    return c;
}

}  // namespace secsf::svc
