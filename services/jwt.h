// JSON Web Tokens (RFC 7519) as oneM2M access-control tokens: a JWS whose header
// says "typ":"JWT" and whose claims carry jti, iss, nbf, exp and aud.
#pragma once
#include <string>

#include "clock.h"
#include "jose.h"

namespace secsf::svc {

// Signs the claims; header {"alg": from the key, "typ": "JWT", "kid": kid if given}.
std::string jwtIssue(const JoseKey &key, const Json &claims, const std::string &kid = "");

struct JwtCheck {
    std::string issuer;    // required "iss" (empty: any)
    std::string audience;  // must be in "aud" (a string or an array)
    int64_t leeway = 30;   // seconds of clock difference tolerated on nbf/exp
};

// Verifies signature and claims. Throws Error(BadInput) naming the failed check:
// "signature", "expired", "not yet valid", "wrong audience", "wrong issuer",
// "missing claim <name>".
Json jwtVerify(const std::string &token, const JoseKey &issuerKey, const JwtCheck &check, const Clock &clock);

}  // namespace secsf::svc
