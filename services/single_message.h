// Single-message services (seed 001, 7.4): one message protected on its own, with no
// SA — authorized (an access-control token, an authorization code signed by the
// sender's key, a timestamp), and encrypted for one recipient.
#pragma once
#include <string>

#include "access_tokens.h"
#include "clock.h"
#include "jose.h"
#include "replay.h"

namespace secsf::svc {

// The message with {"authz": {"token", "ts", "code"}} added; the code signs the
// message, the token and the time together.
Json authorizeSingleMessage(const JoseKey &senderKey, Json message, const std::string &token, const Clock &clock);
// Checks the code with the sender's public key, the time against the replay guard,
// and the token offline (MZF signature, audience, the subject's status). Returns the
// token's claims; throws Rejected or Error(BadInput) naming what failed.
Json validateSingleMessage(const Json &message, const JoseKey &senderKey, const LocalAuthorization &authz,
                           const std::string &audience, TimestampReplayGuard &replay);

// One message for one recipient: JWE (ECDH-ES+A128KW or RSA-OAEP-256, A256GCM) of
// {"ts", "nonce", "message"}.
std::string encryptSingleMessage(const JoseKey &recipient, const Json &message, const Clock &clock);
// Decrypts with the recipient's (SE) key and checks freshness; throws on any failure.
Json decryptSingleMessage(const std::string &jwe, const JoseKey &myKey, TimestampReplayGuard &replay);

}  // namespace secsf::svc
