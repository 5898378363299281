// Digest names as OpenSSL hands them to providers ("SHA256", "SHA2-256", ...),
// resolved without a fetch: the legacy table knows every alias and takes no lock.
#pragma once
#include <openssl/evp.h>

#include <string>

namespace secsf::prov {

// Throws Error(Unsupported) naming the digest when there is none by that name.
const EVP_MD *digestByName(const std::string &name);
// Its NID, or 0 for an empty name.
int digestNid(const std::string &name);

}  // namespace secsf::prov
