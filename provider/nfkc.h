// Unicode NFKC of UTF-8 identifiers, as TS-0003 10.3 requires before they enter a
// key derivation (libunistring does the normalisation).
#pragma once
#include <string>

namespace secsf::prov {

// Throws Error(BadInput) when `s` is not valid UTF-8.
std::string nfkc(const std::string &s);

}  // namespace secsf::prov
