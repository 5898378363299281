#include "misbehaviour.h"

#include "messages.h"
#include "secsf/error.h"

namespace secsf::svc {

Bytes reportMisbehaviour(const JoseKey &reporterKey, const std::string &reporter, const std::string &suspect,
                         const std::string &reason, const Bytes &evidence, const Clock &clock) {
    unsigned char d[32];
    unsigned n = 0;
    EVP_Digest(evidence.data(), evidence.size(), d, &n, EVP_sha256(), nullptr);
    Json m = {{"type", "MisbehaviourReport"}, {"reporter", reporter}, {"suspect", suspect}, {"reason", reason},
              {"evidence", b64url(d, sizeof d)}, {"nonce", randomToken()}, {"iat", clock()}};
    return toBytes(jwsSign(reporterKey, m));
}

MisbehaviourDesk::MisbehaviourDesk(KeyOf keyOf, Clock clock, int64_t window)
    : keyOf_(std::move(keyOf)), clock_(clock), replay_(window, 4096, 100000, clock) {}

MisbehaviourReport MisbehaviourDesk::receive(const Bytes &report) {
    Json claimed = parseObject(jwsPeek(toString(report)).payload, "the report");
    std::string reporter = member(claimed, "reporter");
    auto key = keyOf_(reporter);
    if (!key) throw Error(Reason::BadInput, "a report from an unknown reporter " + reporter);
    Json m;
    try {
        m = verifiedMessage(toString(report), *key, "MisbehaviourReport");
    } catch (const Error &) {
        throw Error(Reason::BadInput, "the report is not signed by " + reporter);
    }
    int64_t iat = intMember(m, "iat");
    Freshness f = replay_.check(reporter, member(m, "nonce"), iat);
    if (f != Freshness::Fresh) throw Error(Reason::BadInput, std::string("the report is ") + freshnessText(f));
    MisbehaviourReport r{reporter, member(m, "suspect"), member(m, "reason"), member(m, "evidence"), iat};
    if (r.suspect == reporter) throw Error(Reason::BadInput, "a node cannot report itself");
    against_[r.suspect].insert(reporter);
    return r;
}

size_t MisbehaviourDesk::reportersAgainst(const std::string &suspect) const {
    auto it = against_.find(suspect);
    return it == against_.end() ? 0 : it->second.size();
}

}  // namespace secsf::svc
