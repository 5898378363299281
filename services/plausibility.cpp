#include "plausibility.h"

#include <cmath>
#include <cstdio>

namespace secsf::svc {

double distanceMetres(double lat1, double lon1, double lat2, double lon2) {
    const double r = 6371000.0, rad = M_PI / 180.0;
    double dLat = (lat2 - lat1) * rad, dLon = (lon2 - lon1) * rad;
    double a = std::sin(dLat / 2) * std::sin(dLat / 2) +
               std::cos(lat1 * rad) * std::cos(lat2 * rad) * std::sin(dLon / 2) * std::sin(dLon / 2);
    return 2 * r * std::asin(std::min(1.0, std::sqrt(a)));
}

PlausibilityValidator::PlausibilityValidator(PlausibilityBounds b, Clock clock) : b_(b), clock_(std::move(clock)) {}

Plausibility PlausibilityValidator::check(const Observation &o) {
    auto no = [](const std::string &why) { return Plausibility{false, why}; };
    if (!std::isfinite(o.latitude) || !std::isfinite(o.longitude) || std::fabs(o.latitude) > 90 || std::fabs(o.longitude) > 180)
        return no("the position is not on Earth");
    int64_t now = clock_();
    if (o.time > now + b_.maxFuture) return no("the report is from the future");
    if (o.time < now - b_.maxAge) return no("the report is too old");
    auto it = byNode_.find(o.node);
    if (it != byNode_.end() && !it->second.recent.empty()) {
        const Observation &last = it->second.recent.back();
        if (o.time < last.time) return no("time goes backwards for this node");
        double d = distanceMetres(last.latitude, last.longitude, o.latitude, o.longitude);
        int64_t dt = o.time - last.time;
        if ((dt == 0 && d > 1.0) || (dt > 0 && d / (double)dt > b_.maxSpeed)) {
            char buf[160];
            snprintf(buf, sizeof buf, "moved %.0f m in %lld s (%.0f m/s, more than %.0f m/s)", d, (long long)dt,
                     dt ? d / (double)dt : INFINITY, b_.maxSpeed);
            return no(buf);
        }
    }
    if (it == byNode_.end()) {
        if (byNode_.size() >= b_.maxNodes) {  // forget the node heard from longest ago
            byNode_.erase(recency_.back());
            recency_.pop_back();
        }
        recency_.push_front(o.node);
        it = byNode_.emplace(o.node, Track{{}, recency_.begin()}).first;
    } else {
        recency_.splice(recency_.begin(), recency_, it->second.pos);
    }
    it->second.recent.push_back(o);
    if (it->second.recent.size() > b_.historyPerNode) it->second.recent.pop_front();
    return {true, ""};
}

}  // namespace secsf::svc
