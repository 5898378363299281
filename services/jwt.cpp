#include "jwt.h"

#include "secsf/error.h"

namespace secsf::svc {

std::string jwtIssue(const JoseKey &key, const Json &claims, const std::string &kid) {
    Json h = {{"typ", "JWT"}};
    if (!kid.empty()) h["kid"] = kid;
    return jwsSign(key, claims, h);
}

Json jwtVerify(const std::string &token, const JoseKey &issuerKey, const JwtCheck &check, const Clock &clock) {
    Jws j = jwsVerify(token, issuerKey);
    if (j.header.contains("typ") && j.header["typ"] != "JWT") throw Error(Reason::BadInput, "the token is not a JWT (typ)");
    Json c = parseJson(j.payload);
    if (!c.is_object()) throw Error(Reason::BadInput, "the JWT claims are not a JSON object");
    for (const char *name : {"jti", "iss", "nbf", "exp", "aud"})
        if (!c.contains(name)) throw Error(Reason::BadInput, std::string("the token is missing claim ") + name);
    if (!c["nbf"].is_number_integer() || !c["exp"].is_number_integer() || !c["jti"].is_string() || !c["iss"].is_string())
        throw Error(Reason::BadInput, "the token's claims have the wrong types");
    int64_t now = clock();
    if (now + check.leeway < c["nbf"].get<int64_t>()) throw Error(Reason::BadInput, "the token is not yet valid");
    if (now - check.leeway >= c["exp"].get<int64_t>()) throw Error(Reason::BadInput, "the token expired");
    if (!check.issuer.empty() && c["iss"] != check.issuer) throw Error(Reason::BadInput, "the token has the wrong issuer");
    if (!check.audience.empty()) {
        const Json &aud = c["aud"];
        bool found = aud.is_string() ? aud == check.audience
                                     : aud.is_array() && std::find(aud.begin(), aud.end(), check.audience) != aud.end();
        if (!found) throw Error(Reason::BadInput, "the token is for another audience");
    }
    return c;
}

}  // namespace secsf::svc
