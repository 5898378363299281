// The URI shape every non-PKCS#11 SE borrows from RFC 7512, so that users learn
// one form:  scheme:name=value;name=value?name=value&name=value
// with percent-encoded values. One parser, so every scheme has the same limits
// (4096 bytes, no NUL, no attribute without a value) and the same messages.
#pragma once
#include <functional>
#include <string>

namespace secsf {

using AttrFn = std::function<void(const std::string &name, const std::string &value)>;

// Calls onPath for each path attribute and onQuery for each query attribute, in
// order, values decoded. `what` names the URI kind in messages ("TPM key URI").
// Throws Error(BadUri) with a sentence.
void parseAttrUri(const std::string &text, const std::string &scheme, const std::string &what,
                  const AttrFn &onPath, const AttrFn &onQuery);

// Decodes %XX escapes; throws Error(BadUri) on a bad escape or a NUL byte.
std::string uriDecode(const std::string &s, const std::string &what);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string uriEncode(const std::string &s);

}  // namespace secsf
