// Key URIs for a PIV card, in the same RFC 7512 shape as the other SEs:
//   piv:slot=9a
//   piv:slot=9c;reader=Yubico%20YubiKey*?pin-source=file:/etc/secsf/card.pin
// slot= is the key reference (9a PIV authentication, 9c digital signature, 9d key
// management, 9e card authentication; the names auth, sign, keymgmt, cardauth
// work too). reader= is a name pattern (glob, or a substring) that overrides the
// configured pcsc-reader. pin-source / pin-value give the card PIN.
#pragma once
#include <optional>
#include <string>

namespace secsf::pcsc {

struct PivUri {
    unsigned char slot = 0;
    std::optional<std::string> reader;
    std::optional<std::string> pinSource, pinValue;

    // Throws Error(BadUri) with a sentence.
    static PivUri parse(const std::string &text);
    std::string format() const;  // without pin-value
};

}  // namespace secsf::pcsc
