// What the services tests share: a clock they move by hand, and JOSE keys made in a
// SoftHSM token (through the provider) or in software.
#pragma once
#include <cstdint>
#include <string>

#include "../../services/clock.h"
#include "../../services/jose.h"

namespace testfix {

extern int64_t gNow;  // seconds; tests move it to expire things
secsf::svc::Clock testClock();
// An EC P-256 key made once per label in the token (node1 is the configured one).
secsf::svc::JoseKey seKey(const std::string &label, const std::string &token = "node1");
secsf::svc::JoseKey softKey();

}  // namespace testfix
