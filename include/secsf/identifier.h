// Entity identifiers (AE-IDs, CSE-IDs) and secure-storage names as they enter secsf
// from a caller: printable, so that one name can never be read as two (a newline in a
// listing) or smuggle terminal escapes into a log.
#pragma once
#include <string>

#include "secsf/error.h"

namespace secsf {

// Throws Error(BadInput) "<what> ...: <why>" unless `value` is 1 to 1024 bytes with no
// control character (bytes below 0x20 and 0x7f). Other UTF-8 is allowed.
inline void checkIdentifier(const char *what, const std::string &value) {
    if (value.empty()) throw Error(Reason::BadInput, std::string("an empty ") + what);
    if (value.size() > 1024) throw Error(Reason::BadInput, std::string("a ") + what + " longer than 1024 bytes");
    for (unsigned char c : value)
        if (c < 0x20 || c == 0x7f)
            throw Error(Reason::BadInput, std::string("a ") + what + " with a control character (byte " +
                                              std::to_string(c) + ") is refused");
}

// A storage name: an identifier without '/', so that "owner/name" splits one way only.
inline void checkStorageName(const std::string &name) {
    checkIdentifier("stored object's name", name);
    if (name.find('/') != std::string::npos)
        throw Error(Reason::BadInput, "a stored object's name may not contain '/' ('" + name + "')");
}

}  // namespace secsf
