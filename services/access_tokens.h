// Access-control tokens (seed 001, 7.2): an MZF issues oneM2M JWTs (jti, iss, sub,
// nbf, exp, aud), limited in number and lifetime, against a session or SP credential
// the MAF issued; holders update them before they expire; the MZF publishes
// authorization status (a node disabled for a while, or its authorizations removed),
// and a node keeps a local authorization-status repository that it consults while
// offline and refreshes when it reconnects.
//
// A token request is a JWS by the holder's key carrying its public JWK in the header
// and the MAF's credential statement, whose "cnf" names that key's thumbprint
// (RFC 7800): only the holder of the credential can use it.
#pragma once
#include <string>
#include <vector>

#include "clock.h"
#include "credentials.h"
#include "jose.h"
#include "repository.h"

namespace secsf::svc {

namespace cause {
// No seed table lists these; secsf's wording.
inline const char kCredentialInvalid[] = "Credential not valid";
inline const char kCredentialRevoked[] = "Credential revoked";
inline const char kNotHolder[] = "Not the credential's holder";
inline const char kAuthorizationDisabled[] = "Authorization disabled";
inline const char kAuthorizationRemoved[] = "Authorization removed";
inline const char kTokenLimit[] = "Token limit reached";
inline const char kTokenUnknown[] = "Token unknown, expired or revoked";
}  // namespace cause

struct MzfConfig {
    std::string name;       // the token issuer, e.g. "mzf.sp.example"
    JoseKey key;            // the MZF key (in an SE)
    JoseKey mafKey;         // the MAF's public key (credentials and revocations)
    std::string mafName;
    int maxTokensPerSubject = 4;
    int64_t maxTokenLifetime = 3600;
    int64_t maxClockSkew = 300;
    Clock clock = systemClock();
};

class Mzf {
public:
    Mzf(MzfConfig cfg, Repository &repo);
    // TokenRequest, TokenUpdate or StatusRequest in; the signed answer out.
    Bytes handle(const Bytes &message);
    // A MAF revocation notice: the credential's tokens are revoked. False if the
    // notice is not the MAF's (or replayed).
    bool onRevocation(const Bytes &notice);
    // Publishes a subject's status ("active", "disabled" until a time or 0,
    // "removed"); its tokens are revoked unless active. The signed message to send.
    Bytes publishStatus(const std::string &subject, const std::string &state, int64_t until = 0);
    JoseKey publicKey() const { return cfg_.key.publicKey(); }

private:
    Bytes answer(Json body);
    Bytes reject(const std::string &why);
    Bytes issueTokens(const std::string &subject, const Json &audience, int64_t credentialExpiry);

    MzfConfig cfg_;
    Repository &repo_;
};

// The holder's side of token requests.
class TokenClient {
public:
    TokenClient(JoseKey key, Clock clock = systemClock()) : key_(std::move(key)), clock_(std::move(clock)) {}
    Bytes request(const HeldCredential &c, const std::vector<std::string> &audience);
    Bytes update(const HeldCredential &c, const std::string &token);
    Bytes statusRequest(const std::string &subject);
    // The tokens; throws Rejected(cause) on a refusal.
    std::vector<std::string> onResponse(const Bytes &response, const JoseKey &mzfKey);

private:
    Bytes signedRequest(Json body);
    JoseKey key_;
    Clock clock_;
};

// The node's local authorization-status repository and offline token check.
class LocalAuthorization {
public:
    LocalAuthorization(JoseKey mzfKey, std::string mzfName, Repository &repo, Clock clock = systemClock());
    // Applies a published status; throws Error(BadInput) when forged, or older
    // than what is known (a replay of a lifted restriction, for instance).
    void apply(const Bytes &statusMessage);
    AuthzStatus status(const std::string &subject) const;
    // An access-control token a peer presents, checked without the network:
    // the MZF's signature, its times and audience, the local status of its subject.
    // Returns the claims; throws Rejected(cause) or Error(BadInput).
    Json validate(const std::string &token, const std::string &audience) const;

private:
    JoseKey mzfKey_;
    std::string mzfName_;
    Repository &repo_;
    Clock clock_;
};

}  // namespace secsf::svc
