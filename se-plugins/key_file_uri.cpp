#include "key_file_uri.h"

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
    size_t colon = uri.find(':');
    if (colon == std::string::npos || colon > 16) throw Error(Reason::BadUri, "the key file holds no key URI");
    std::string scheme = uri.substr(0, colon);
    const SePlugin *se = nullptr;
    for (auto &p : registry.all())
        if (p->handlesUri(uri)) se = p.get();
    parseAttrUri(uri, scheme, "key URI", [](const std::string &, const std::string &) {},
                 [&](const std::string &name, const std::string &value) {
        if (name == "module-name" || name == "module-path") return;
        if (name == "pin-source" && se) {
            std::string want = sourceIdentity(value);
            for (const std::string &declared : se->declaredSecretSources())
                if (!want.empty() && sourceIdentity(declared) == want) return;
            throw Error(Reason::BadUri,
                        "a SECSF KEY file may only name a pin-source the configuration declares; '" +
                            printable(value) + "' is not one. Give the PIN in the configuration "
                            "(pkcs11-pin-source, pkcs11-token-pin-sources, tpm2-auth-sources, pcsc-pin-source)");
        }
        throw Error(Reason::BadUri, "a SECSF KEY file may not carry '" + printable(name) +
                                        "': a key file names a key, not its PIN. Give the PIN in the "
                                        "configuration (pkcs11-pin-source, pkcs11-token-pin-sources, "
                                        "tpm2-auth-sources, pcsc-pin-source)");
    });
}

}  // namespace secsf
