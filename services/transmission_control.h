// Remote transmission control (seed 001, 7.9): the infrastructure (IN-CSE) activates
// or deactivates a field node's M2M transmissions — all, or named ones — with a
// command signed by its key; the node checks the signature against the authority it
// was configured with, that the command is for it, fresh and not replayed (sequence
// numbers), before obeying.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "clock.h"
#include "jose.h"
#include "replay.h"

namespace secsf::svc {

// names empty: every transmission.
Bytes transmissionCommand(const JoseKey &authorityKey, const std::string &node, bool activate,
                          const std::vector<std::string> &names, uint64_t seq, const Clock &clock);

class TransmissionControl {
public:
    TransmissionControl(std::string self, JoseKey authority, Clock clock = systemClock(), int64_t maxSkew = 300);
    struct Result {
        bool obeyed = false;
        std::string why;  // why not
    };
    Result apply(const Bytes &command);
    bool allowed(const std::string &transmission) const;

private:
    std::string self_;
    JoseKey authority_;
    Clock clock_;
    int64_t skew_;
    SequenceReplayGuard seq_;
    bool allOff_ = false;
    std::set<std::string> off_;
};

}  // namespace secsf::svc
