// base64url without padding (RFC 4648 section 5, as JOSE uses it, RFC 7515 2).
#pragma once
#include <string>
#include <vector>

namespace secsf::svc {

using Bytes = std::vector<unsigned char>;

std::string b64url(const unsigned char *p, size_t n);
inline std::string b64url(const Bytes &b) { return b64url(b.data(), b.size()); }
inline std::string b64url(const std::string &s) { return b64url((const unsigned char *)s.data(), s.size()); }
// Throws secsf::Error(BadInput) on characters outside the alphabet, padding, or a
// length no encoder produces.
Bytes unb64url(const std::string &s);

}  // namespace secsf::svc
