#include "key_file_uri.h"

#include <algorithm>
#include <cctype>

#include "../pkcs11/pin.h"
#include "attr_uri.h"
#include "secsf/error.h"

namespace secsf {

namespace {

std::string printable(std::string s) {
    if (s.size() > 64) s = s.substr(0, 64) + "...";
    for (char &ch : s)
        if (!isprint((unsigned char)ch)) ch = '?';
    return s;
}

// Compared by what they read ("pin file /x"), so file:/x, file:///x and /x are one.
std::string sourceIdentity(const std::string &source) {
    try {
        return p11::PinSource::fromSource(source).describe();
    } catch (const Error &) {
        return {};
    }
}

}  // namespace

void checkKeyFileUri(const SeRegistry &registry, const std::string &uri) {
    const SePlugin *se = nullptr;
    for (auto &p : registry.all())
        if (p->handlesUri(uri)) se = p.get();
    // Only the query is looked at: path attributes select, and the SE's own parser
    // judges them (PKCS#11 ids may hold any byte, NUL included).
    size_t q = uri.find('?');
    if (q == std::string::npos) return;
    std::string query = uri.substr(q + 1);
    for (size_t at = 0; at <= query.size();) {
        size_t end = query.find('&', at);
        if (end == std::string::npos) end = query.size();
        std::string item = query.substr(at, end - at);
        at = end + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string name = item.substr(0, eq);
        std::string value = eq == std::string::npos ? std::string() : uriDecode(item.substr(eq + 1), "a key file's URI");
        if (name == "module-name" || name == "module-path") continue;
        if (name == "pin-source" && se) {
            std::string want = sourceIdentity(value);
            auto declared = se->declaredSecretSources();
            if (!want.empty() && std::any_of(declared.begin(), declared.end(), [&](const std::string &d) {
                    return sourceIdentity(d) == want;
                }))
                continue;
            throw Error(Reason::BadUri,
                        "a SECSF KEY file may only name a pin-source the configuration declares; '" +
                            printable(value) + "' is not one. Give the PIN in the configuration "
                            "(pkcs11-pin-source, pkcs11-token-pin-sources, tpm2-auth-sources, pcsc-pin-source)");
        }
        throw Error(Reason::BadUri, "a SECSF KEY file may not carry '" + printable(name) +
                                        "': a key file names a key, not its PIN. Give the PIN in the "
                                        "configuration (pkcs11-pin-source, pkcs11-token-pin-sources, "
                                        "tpm2-auth-sources, pcsc-pin-source)");
    }
}

}  // namespace secsf
