// What the Secure Environments of a registry are and which sensitive functions they
// serve, as JSON: one description for `secsf se list` / `secsf functions` and for
// secsfd's /se and /functions resources.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "registry.h"

namespace secsf {

// One object per SE: name, plugin, device, securityLevel, state ("logged in",
// "present", "present, not logged in", "missing") with a detail, capabilities,
// curves, rsaBits, ecdhSecretStaysInside, mechanisms.
nlohmann::json seReport(const SeRegistry &registry);

// One object per sensitive function (TS-0003 "Sensitive Data Handling"): id, version,
// securityLevel (from the `function-levels` setting), description, servedBy and, when
// no SE serves it, unavailable. Throws Error(Config) for a level of an unknown function.
nlohmann::json functionReport(const SeRegistry &registry, const std::string &functionLevels);

// "keygen,sign,..." for a capability mask.
std::string capabilityNames(uint32_t caps);

}  // namespace secsf
