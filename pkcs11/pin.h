// Where a PIN comes from: the URI's pin-value, or a pin-source naming a file
// ("file:/path" or a bare absolute path, as RFC 7512 allows) or an environment
// variable ("env:NAME"). The PIN is read when a login needs it and wiped after.
#pragma once
#include <sys/stat.h>

#include <optional>
#include <string>

#include "secsf/secure_string.h"

namespace secsf::p11 {

// Refuses (Error(Config), with a sentence naming `what` and the fix) a secret file
// that is open to group or others, or (for a process not running as root) owned by
// someone else than this process's user or root, as OpenSSH does for private keys.
void checkSecretFile(const std::string &what, const struct stat &st);

class PinSource {
public:
    PinSource() = default;
    static PinSource fromValue(const std::string &pin);
    static PinSource fromSource(const std::string &source);  // throws on bad form

    bool present() const { return kind_ != Kind::None; }
    // Throws Error(PinRequired/Config) with a sentence naming the source, never the PIN.
    SecureString read() const;
    // Where the PIN comes from, for messages ("file /x", "env SECSF_PIN", "the URI").
    std::string describe() const;

private:
    enum class Kind { None, Value, File, Env };
    Kind kind_ = Kind::None;
    std::string where_;   // path or variable name
    std::string value_;   // only for Kind::Value (pin-value in a URI)
public:
    PinSource(const PinSource &) = default;
    PinSource &operator=(const PinSource &) = default;
    ~PinSource();
};

}  // namespace secsf::p11
