// What every service message shares: a JSON object with "type", usually sent as a
// compact JWS of that object signed by its sender; fresh random values; the
// rejection causes, worded as the seed tables word them.
#pragma once
#include <string>

#include "clock.h"
#include "jose.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace cause {
// Tables 4, 5 and 8 (Session Request, Enrol, Update Session Credentials).
inline const char kIdentityUnknown[] = "Canonical identity unknown";
inline const char kNotPermittedToEnrol[] = "User not permitted to enrol";
inline const char kAuthenticationFailed[] = "User authentication failed";
inline const char kNotPermittedToRequest[] = "User not permitted to request session credentials";
inline const char kFailedToCreate[] = "Failed to create session credentials";
// Table 6 (Authentication Request).
inline const char kAuthenticationDisabled[] = "User authentication disabled";
// Table 7 (Enrolment Challenge).
inline const char kNodeNotPermitted[] = "M2M Node not permitted to enrol";
inline const char kNodeAuthenticationFailed[] = "M2M Node authentication failed";
// Table 9 (Create Session Credentials).
inline const char kLinkFailed[] = "Link session credentials to identity failed";
// Tables 10-12 (Invoke Credentials Removal, Revoke Credentials, Distribute Revocation).
inline const char kSubscriptionCredentialUnknown[] = "Subscription credential unknown";
inline const char kSessionCredentialUnknown[] = "Session credential unknown";
inline const char kRemovalFailed[] = "Removal failed";
inline const char kRevocationFailed[] = "Revocation failed";
inline const char kDistributionFailed[] = "Distribution failed";
// Beyond the tables (a secsf choice, documented): a replayed or stale message.
inline const char kReplayed[] = "Replayed or stale message";
}  // namespace cause

// The other side said no, with one of the causes above.
class Rejected : public Error {
public:
    explicit Rejected(const std::string &cause) : Error(Reason::NotFound, "rejected: " + cause), cause_(cause) {}
    const std::string &cause() const { return cause_; }

private:
    std::string cause_;
};

inline Bytes toBytes(const std::string &s) { return Bytes(s.begin(), s.end()); }
inline std::string toString(const Bytes &b) { return std::string(b.begin(), b.end()); }

// n random bytes, base64url (a nonce, a challenge, a temporary identity).
std::string randomToken(size_t n = 16);
// RFC 7638 JWK thumbprint (SHA-256, base64url) of a key's public half.
std::string jwkThumbprint(const JoseKey &key);
// Parses a JSON object; throws Error(BadInput) "<what> is not a JSON object".
Json parseObject(const Bytes &b, const char *what);
// Members read from a peer's message, type-checked: Error(BadInput) naming the member
// when it is absent (where required) or of another JSON type; never a JSON exception.
// A string member; throws when absent or not a string.
std::string member(const Json &j, const char *name);
// An optional string member: `otherwise` when absent.
std::string optMember(const Json &j, const char *name, const std::string &otherwise = "");
// An integer member (required).
int64_t intMember(const Json &j, const char *name);
// An optional boolean member.
bool boolMember(const Json &j, const char *name, bool otherwise = false);
// The payload of a JWS from `signer`, as a JSON object whose "type" is `type`.
Json verifiedMessage(const std::string &jws, const JoseKey &signer, const char *type);
// A message's "iat" within skew of now.
void checkFresh(const Json &m, const Clock &clock, int64_t skew);

}  // namespace secsf::svc
