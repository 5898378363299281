#include "transmission_control.h"

#include "messages.h"
#include "secsf/error.h"

namespace secsf::svc {

Bytes transmissionCommand(const JoseKey &authorityKey, const std::string &node, bool activate,
                          const std::vector<std::string> &names, uint64_t seq, const Clock &clock) {
    Json m = {{"type", "TransmissionControl"}, {"node", node}, {"action", activate ? "activate" : "deactivate"},
              {"transmissions", names}, {"seq", seq}, {"iat", clock()}};
    return toBytes(jwsSign(authorityKey, m));
}

TransmissionControl::TransmissionControl(std::string self, JoseKey authority, Clock clock, int64_t maxSkew)
    : self_(std::move(self)), authority_(std::move(authority)), clock_(std::move(clock)), skew_(maxSkew) {}

TransmissionControl::Result TransmissionControl::apply(const Bytes &command) {
    Json m;
    try {
        m = verifiedMessage(toString(command), authority_, "TransmissionControl");
    } catch (const Error &) {
        return {false, "not a command of the configured authority"};
    }
    try {
        if (member(m, "node") != self_) return {false, "the command is for another node"};
        checkFresh(m, clock_, skew_);
    } catch (const Error &e) {
        return {false, e.what()};
    }
    if (!m.contains("seq") || !m["seq"].is_number_unsigned()) return {false, "the command has no sequence number"};
    Freshness f = seq_.check(m["seq"].get<uint64_t>());
    if (f != Freshness::Fresh) return {false, std::string("the command is ") + freshnessText(f)};
    std::vector<std::string> names;
    bool activate = false;
    try {
        std::string action = member(m, "action");
        if (action != "activate" && action != "deactivate") return {false, "the command's action is activate or deactivate"};
        activate = action == "activate";
        const Json &t = m.contains("transmissions") ? m["transmissions"] : Json::array();
        if (!t.is_array()) return {false, "the command's transmissions are not a list"};
        for (const Json &n : t) {
            if (!n.is_string()) return {false, "a transmission's name is not a string"};
            names.push_back(n.get<std::string>());
        }
    } catch (const Error &e) {
        return {false, e.what()};
    }
    if (names.empty()) {
        allOff_ = !activate;
        off_.clear();
    } else {
        for (auto &n : names) activate ? (void)off_.erase(n) : (void)off_.insert(n);
    }
    return {true, ""};
}

bool TransmissionControl::allowed(const std::string &transmission) const {
    return !allOff_ && !off_.count(transmission);
}

}  // namespace secsf::svc
