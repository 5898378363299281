// The Secure Environments a configuration declares: the flat keys of secsf's
// openssl.cnf section, read by the provider when OpenSSL loads it and by the
// `secsf` tool, so both see the same SEs (one source of truth).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "registry.h"

namespace secsf {

// The value of one key of the section; empty when absent.
using ConfigGetter = std::function<std::string(const char *key)>;

// Adds every SE the keys describe and sets the default. Throws Error(Config).
void configureRegistry(SeRegistry &registry, const ConfigGetter &get);

// Every key the section understands (for checks and for --help).
const std::vector<std::string> &configKeys();

}  // namespace secsf
