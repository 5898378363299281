// What a key file may say. A SECSF KEY file comes from wherever the application
// found it (a copied directory, a package, a peer): it may name a key, never choose
// code or a local file. Its URI may carry every path attribute (which token, slot,
// object) and of the query attributes
//   module-name, module-path   only a module the configuration declares (as for any URI);
//   pin-source                 only a source the configuration declares for that SE
//                              (pkcs11-pin-source, pkcs11-token-pin-sources,
//                              tpm2-auth-sources, pcsc-pin-source);
// nothing else (no pin-value: a PIN does not belong in a file others may read).
#pragma once
#include <string>

#include "registry.h"

namespace secsf {

// Throws Error(BadUri) with a sentence naming the attribute and where it belongs.
void checkKeyFileUri(const SeRegistry &registry, const std::string &uri);

}  // namespace secsf
