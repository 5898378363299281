// Session credentials (seed 000, TS-0003 draft 7.1: obtain, update, remove) for M2M
// Nodes, and the same service for applications as SP credentials (seed 001, 7.1 of
// its numbering: App-ID based). Two roles, sans-I/O: every step takes a message and
// returns one, as bytes; any transport carries them.
//
//   holder (node / AE)                           authority (MAF)
//   startEnrolment()      -- SessionRequest -->  handle()   identity known? permitted?
//                                                           Authentication Request (table 6)
//   onEnrolmentChallenge() <- EnrolmentChallenge  (table 7: the MAF proves it read the
//                                                  network challenge; its own challenge)
//                         -- ChallengeResponse ->  handle()   Create Session Credentials (9)
//   onSessionResponse()   <-- SessionResponse --   accepted: temporary identities,
//                                                  encrypted to the node, signed by the MAF
//   requestUpdate()       -- UpdateRequest ---->  handle()   a fresh randomised list (8, 9)
//   onUpdateResponse()    <-- UpdateResponse ---
//                                                  removeCredential()  (10, 11)
//   onRevocation()        <-- Revocation -------  distributed to the MZFs and the node (12)
//
// Protection (TS-0003 notes): network challenge and node response are JWS by the node
// key inside JWE for the MAF (ECDH-ES+A128KW or RSA-OAEP-256, A128GCM); what the MAF
// sends is signed by the MAF key, credential lists encrypted to the node key.
// Every credential comes with a MAF-signed JWT {sub: the temporary identity, cnf: the
// holder key's thumbprint} that an MZF checks (access-control tokens).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "clock.h"
#include "jose.h"
#include "repository.h"

namespace secsf::svc {

struct AuthorityConfig {
    std::string name;              // the network identifier, e.g. "maf.sp.example"
    JoseKey key;                   // the MAF key (in an SE)
    std::string kind = "node";     // "node": session credentials; "app": SP credentials
    int credentialsPerIssue = 5;
    int64_t credentialLifetime = 24 * 3600;
    int64_t challengeLifetime = 120;
    int64_t maxClockSkew = 300;
    Clock clock = systemClock();
};

// Table 6, as the MAF's own step.
struct AuthenticationResult {
    bool passed = false;
    std::string cause;  // "User authentication disabled" | "User authentication failed"
};

// Tables 10 and 11.
struct RemovalResult {
    bool accepted = false;
    std::string cause;  // table 10 wording
    std::string revokeCause;  // table 11 wording
    Bytes notice;       // what was distributed (signed by the MAF)
};

class CredentialAuthority {
public:
    CredentialAuthority(AuthorityConfig cfg, Repository &repo);

    // The subscription side: which identities may enrol, and with which key.
    void enrol(const std::string &id, const JoseKey &publicKey, bool permitted = true);
    void setPermitted(const std::string &id, bool permitted);
    void setAuthenticationEnabled(const std::string &id, bool enabled);

    // Every message from a holder; the answer to send back. Never throws for bad
    // input from the network: a malformed message gets a signed rejection.
    Bytes handle(const Bytes &message);

    // Revokes one credential and distributes the notice to every receiver (MZFs,
    // the node); a receiver returning false or throwing is "Distribution failed".
    RemovalResult removeCredential(const std::string &credentialId,
                                   const std::vector<std::function<bool(const Bytes &)>> &receivers);
    // An App-ID (or node) loses every credential and may not get new ones.
    int revokeAll(const std::string &id, const std::vector<std::function<bool(const Bytes &)>> &receivers);

    JoseKey publicKey() const { return cfg_.key.publicKey(); }
    const std::string &name() const { return cfg_.name; }

private:
    Bytes onSessionRequest(const Json &m);
    Bytes onChallengeResponse(const Json &m);
    Bytes onUpdateRequest(const Json &m);
    AuthenticationResult authenticate(const Enrollee &e, const Json &request, std::string &nonce);
    Json issue(const Enrollee &e, const JoseKey &holderKey);
    Bytes reply(Json body);
    Bytes reject(const char *type, const std::string &id, const std::string &cause, Json extra = Json::object());

    AuthorityConfig cfg_;
    Repository &repo_;
};

struct HeldCredential {
    std::string id;   // the temporary identity
    std::string jwt;  // the MAF's statement binding it to the holder key
    int64_t expires = 0;
};

// Table 4 (the Enrol confirm) and table 8's confirm.
struct EnrolResult {
    bool accepted = false;
    std::vector<HeldCredential> credentials;
    std::string cause;
};

struct HolderConfig {
    std::string id;            // canonical identity (node) or App-ID
    std::string networkId;     // the MAF, e.g. "maf.sp.example"
    std::string kind = "node";
    JoseKey key;               // the node key (in an SE)
    JoseKey authorityKey;      // the MAF's public key
    int64_t maxClockSkew = 300;
    Clock clock = systemClock();
};

class CredentialHolder {
public:
    CredentialHolder(HolderConfig cfg, Repository &repo);

    Bytes startEnrolment();
    // Throws Error(BadInput) when the MAF did not prove it read our challenge.
    Bytes onEnrolmentChallenge(const Bytes &message);
    EnrolResult onSessionResponse(const Bytes &message);
    Bytes requestUpdate();
    EnrolResult onUpdateResponse(const Bytes &message);
    // A revocation notice: verified, then the credential and everything linked to it
    // (wipe is called with its id) are removed. Returns table 12's result.
    struct Removal {
        bool successful = false;
        std::string cause;
    };
    Removal onRevocation(const Bytes &notice, const std::function<void(const std::string &)> &wipe = {});

    std::vector<HeldCredential> credentials() const;

private:
    EnrolResult accept(const Json &m, const char *type);

    HolderConfig cfg_;
    Repository &repo_;
    std::string challenge_;  // the network challenge nonce in flight
    std::vector<HeldCredential> held_;
};

}  // namespace secsf::svc
