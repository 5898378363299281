// The one exception type that crosses layers inside secsf. The provider's C entry
// points catch it and turn what() into an OpenSSL error; nothing else escapes.
#pragma once
#include <stdexcept>
#include <string>

namespace secsf {

enum class Reason {
    Generic = 1,
    BadUri,          // the URI cannot be parsed or names unknown attributes
    NotFound,        // no object / token matches
    Ambiguous,       // more than one object or token matches
    PinRequired,     // login needed, no PIN available
    PinIncorrect,
    PinLocked,       // locked, or the final try left: we refuse to spend it
    DeviceError,     // the module/device failed
    Unsupported,     // the SE cannot do this operation or algorithm
    BadInput,        // caller passed wrong sizes or parameters
    Config,          // configuration is missing or invalid
};

class Error : public std::runtime_error {
public:
    Error(Reason reason, const std::string &msg)
        : std::runtime_error(msg), reason_(reason) {}
    Reason reason() const { return reason_; }

private:
    Reason reason_;
};

}  // namespace secsf
