// Security associations (seed 002, TS-0003 draft 7.3, tables 23-44) between two
// nodes that hold session credentials: establish, send and receive secured
// messages, update (identifier and/or keys), remove. Sans-I/O; one object per node
// plays both roles.
//
//   initiator                                       responder
//   initiate()  --- SaInitiate ------------------>  handle()   Initiate SA / Received (23, 24),
//       credential + its key, possible SAs (25),             parameters (25), keys (26, 28),
//       initiator key (28), authorization ticket,            authorization (30-34)
//       authentication challenge for the responder (32)
//   onAccept()  <-- SaAccept ---------------------  chosen SA and its identifier, responder
//       key (26), the challenge answered (32), key confirmation (27), a challenge for the
//       initiator (34)
//   (returns)   --- SaConfirm ------------------->  handle()   key confirmation (29),
//                                                             the answer (34)
//   onEstablished() <-- SaEstablished ------------  Establishment complete (35)
//
// The SA identifier is made by both: the initiator's random part (SaInitiate
// "saIdPart") followed by the responder's, so neither can give a new SA the identifier
// of one that exists; a rename onto an identifier in use is refused.
// Keys: ECDH between the two SE keys through the secsf provider, then HKDF-SHA-256
// (salt = SA identifier, info = both identities) to one AES-256-GCM key per direction.
// Secured messages are JWE "dir" A256GCM with the SA identifier as "kid" and the
// freshness of TS-0003 (128-bit random value, expiry) plus a sequence number inside.
// An SA never outlives the credentials it was established with. With a store, SAs
// and handshakes in progress survive a restart: a sender resumes its sequence numbers
// past a reserve (64), a receiver refuses anything made before it restarted.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "access_tokens.h"
#include "clock.h"
#include "credentials.h"
#include "jose.h"
#include "replay.h"
#include "repository.h"

namespace secsf::svc {

namespace cause {
// Tables 23-25, 39-44.
inline const char kNoCommonParameters[] = "No parameters in common with responder";
inline const char kAdministrative[] = "Administrative reasons";
inline const char kDecryptionFailure[] = "Decryption failure";
inline const char kUnableToEncrypt[] = "Unable to encrypt with Initiator key";
inline const char kUnwillingToChangeKey[] = "Unwilling to change key";
inline const char kUnknownSa[] = "Unknown SA Identifier";
inline const char kSaInvalid[] = "SA Identifier already marked invalid";
}  // namespace cause

inline const char kSuiteEcdhGcm[] = "ECDH-P256+HKDF-SHA256/A256GCM";

struct SaConfig {
    HeldCredential credential;        // ours (temporary identity + the MAF's statement)
    JoseKey key;                      // the key that credential names (in an SE)
    JoseKey mafKey;                   // verifies peers' credentials
    std::string mafName;
    const LocalAuthorization *authz = nullptr;  // checks authorization tickets; null: none required
    std::string audience;             // what tickets for us must name (our CSE-ID)
    std::vector<std::string> suites = {kSuiteEcdhGcm};
    bool willingToRekey = true;
    int64_t maxSkew = 300;
    int64_t messageLifetime = 300;    // a secured message's expiry
    size_t maxAssociations = 100000;
    Clock clock = systemClock();
    // Where SAs survive a restart (sealed to our own SE key: ECDH-ES to `key`, so a
    // copy of the file is useless without the SE); null: memory only.
    Repository *store = nullptr;
};

struct SaInfo {
    std::string id, peer, suite;
    int64_t expires = 0;
    bool valid = false;
    bool initiator = false;
};

class SecurityAssociations {
public:
    explicit SecurityAssociations(SaConfig cfg);
    ~SecurityAssociations();

    // Initiator. `ticket`: our access-control token for the responder (may be empty
    // when the responder requires none).
    Bytes initiate(const std::string &responder, const std::string &ticket);
    // Throws Rejected(cause) when the responder refused, Error when its answer is not genuine.
    Bytes onAccept(const Bytes &accept);
    std::string onEstablished(const Bytes &established);

    // Responder side of every flow, and the answers to updates and removals.
    // Returns the reply (empty when none is due).
    Bytes handle(const Bytes &message);

    // Secured messages.
    std::string seal(const std::string &saId, const Json &message);
    // Throws Rejected with the cause (unknown SA, invalid SA, replayed or stale,
    // altered).
    Json open(const std::string &sealed, std::string *saId = nullptr);

    // Update (tables 36-41): a new identifier and/or new keys, sealed under the SA.
    Bytes update(const std::string &saId, bool newIdentifier, bool newKeys);
    // The initiator applies the responder's answer; returns the (possibly new) id.
    std::string onUpdated(const Bytes &answer);
    // Remove (tables 42-44): marks it invalid here and tells the peer.
    Bytes remove(const std::string &saId);
    void onRemoved(const Bytes &answer);
    // Every SA established with a credential (ours or the peer's), when it goes.
    int removeForCredential(const std::string &credentialId);

    SaInfo info(const std::string &saId) const;
    size_t count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d_;
};

}  // namespace secsf::svc
