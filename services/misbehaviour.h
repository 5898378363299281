// Misbehaviour reports (seed 001, 7.10): a field node reports a peer it suspects; the
// infrastructure receives the report (signed by the reporter's key, fresh, not
// replayed), counts distinct reporters per suspect, and can turn it into a published
// authorization-status change (Mzf::publishStatus).
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "clock.h"
#include "jose.h"
#include "replay.h"

namespace secsf::svc {

Bytes reportMisbehaviour(const JoseKey &reporterKey, const std::string &reporter, const std::string &suspect,
                         const std::string &reason, const Bytes &evidence, const Clock &clock);

struct MisbehaviourReport {
    std::string reporter, suspect, reason, evidenceDigest;
    int64_t time = 0;
};

class MisbehaviourDesk {
public:
    using KeyOf = std::function<std::optional<JoseKey>(const std::string &reporter)>;
    MisbehaviourDesk(KeyOf keyOf, Clock clock = systemClock(), int64_t window = 300);
    // Throws Error(BadInput) for a report from an unknown reporter, a forged, stale or
    // replayed one.
    MisbehaviourReport receive(const Bytes &report);
    size_t reportersAgainst(const std::string &suspect) const;

private:
    KeyOf keyOf_;
    Clock clock_;
    PeerReplayGuard replay_;  // per reporter: one cannot crowd out the others
    std::map<std::string, std::set<std::string>> against_;
};

}  // namespace secsf::svc
