// Integrity (seed 001, 7.5): calculate, insert and validate a check value over a
// message — a MAC (HS256 with an SA key) or a signature (ES/RS with an SE key) — as
// a JWS with detached payload (RFC 7515 appendix F) over the message's canonical
// JSON (members sorted, no whitespace), carried in the message as "cv".
#pragma once
#include <string>

#include "jose.h"

namespace secsf::svc {

// The check value of `message` (without any "cv" it has).
std::string calculateCheckValue(const JoseKey &key, const Json &message);
// The message with its check value inserted.
Json insertCheckValue(const JoseKey &key, Json message);
// Throws Error(BadInput) "the check value ..." when absent, malformed or wrong.
void validateCheckValue(const JoseKey &key, const Json &message);

}  // namespace secsf::svc
