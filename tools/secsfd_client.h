// The `secsf` command as a client of secsfd: where the configuration names a
// secsfd-socket that a secsfd listens on, keys and secure storage are used through it,
// as the kernel-identified caller (`--as` is then sent as X-M2M-Origin, and secsfd
// refuses it unless it is the caller's own identity).
#pragma once
#include <string>

#include "cli.h"

namespace secsf::cli {

class SecsfdClient {
public:
    SecsfdClient(std::string socketPath, std::string origin);
    // One request; secsfd's answer as JSON (or the raw body in `raw` when it is not
    // JSON). Throws Denied for a 403, Error with secsfd's sentence for other failures.
    Json call(const std::string &method, const std::string &target, const std::string &body = "",
              std::string *raw = nullptr) const;
    // A path segment with '/' and the like percent-encoded.
    static std::string segment(const std::string &s);
    // The caller's identity, as secsfd established it.
    std::string entity() const;

private:
    std::string socket_, origin_;
};

}  // namespace secsf::cli
