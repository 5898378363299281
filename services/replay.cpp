#include "replay.h"

#include "secsf/error.h"

namespace secsf::svc {

const char *freshnessText(Freshness f) {
    switch (f) {
    case Freshness::Fresh: return "fresh";
    case Freshness::Replayed: return "replayed";
    case Freshness::Stale: return "too old";
    case Freshness::Future: return "from the future";
    }
    return "?";
}

TimestampReplayGuard::TimestampReplayGuard(int64_t window, size_t maxEntries, Clock clock)
    : window_(window), max_(maxEntries), clock_(std::move(clock)) {
    if (window <= 0 || maxEntries == 0) throw Error(Reason::BadInput, "a replay window and cache need a size");
}

void TimestampReplayGuard::expire(int64_t now) {
    while (!byTime_.empty() && byTime_.begin()->first < now - window_) {
        byId_.erase(byTime_.begin()->second);
        byTime_.erase(byTime_.begin());
    }
}

Freshness TimestampReplayGuard::check(const std::string &id, int64_t ts) {
    int64_t now = clock_();
    if (ts > now + window_) return Freshness::Future;
    if (ts < now - window_ || ts <= floor_) return Freshness::Stale;
    expire(now);
    if (byId_.count(id)) return Freshness::Replayed;
    if (byId_.size() >= max_) {
        // Full: forget the oldest, and refuse anything not newer than it.
        auto oldest = byTime_.begin();
        floor_ = std::max(floor_, oldest->first);
        byId_.erase(oldest->second);
        byTime_.erase(oldest);
        if (ts <= floor_) return Freshness::Stale;
    }
    byId_[id] = ts;
    byTime_.emplace(ts, id);
    return Freshness::Fresh;
}

bool TimestampReplayGuard::idle(int64_t now) {
    expire(now);
    return byId_.empty() && (floor_ == INT64_MIN || floor_ < now - window_);
}

PeerReplayGuard::PeerReplayGuard(int64_t window, size_t perPeer, size_t maxPeers, Clock clock)
    : window_(window), perPeer_(perPeer), maxPeers_(maxPeers), clock_(std::move(clock)) {
    if (window <= 0 || perPeer == 0 || maxPeers == 0) throw Error(Reason::BadInput, "a replay window and cache need a size");
}

Freshness PeerReplayGuard::check(const std::string &peer, const std::string &id, int64_t ts) {
    auto it = guards_.find(peer);
    if (it == guards_.end()) {
        if (guards_.size() >= maxPeers_) {
            int64_t now = clock_();
            for (auto g = guards_.begin(); g != guards_.end();) g = g->second.idle(now) ? guards_.erase(g) : std::next(g);
            if (guards_.size() >= maxPeers_) return Freshness::Stale;
        }
        it = guards_.emplace(peer, TimestampReplayGuard(window_, perPeer_, clock_)).first;
    }
    return it->second.check(id, ts);
}

SequenceReplayGuard::SequenceReplayGuard(uint32_t window) : window_(window), bits_((window + 63) / 64, 0) {
    if (window == 0 || window > 4096) throw Error(Reason::BadInput, "a sequence window of 1 to 4096");
}

void SequenceReplayGuard::resumeAt(uint64_t highest) {
    highest_ = highest;
    std::fill(bits_.begin(), bits_.end(), ~0ull);
}

Freshness SequenceReplayGuard::check(uint64_t seq) {
    if (seq == 0) return Freshness::Stale;
    auto bit = [&](uint64_t i) -> bool { return bits_[i / 64] >> (i % 64) & 1; };
    auto set = [&](uint64_t i) { bits_[i / 64] |= 1ull << (i % 64); };
    if (seq > highest_) {
        uint64_t shift = seq - highest_;
        if (shift >= window_) {
            std::fill(bits_.begin(), bits_.end(), 0);
        } else {
            // Move every bit `shift` places up (older), dropping what leaves the window.
            for (uint64_t i = window_; i-- > 0;) {
                bool v = i >= shift && bit(i - shift);
                bits_[i / 64] = (bits_[i / 64] & ~(1ull << (i % 64))) | ((uint64_t)v << (i % 64));
            }
        }
        highest_ = seq;
        set(0);
        return Freshness::Fresh;
    }
    uint64_t age = highest_ - seq;
    if (age >= window_) return Freshness::Stale;
    if (bit(age)) return Freshness::Replayed;
    set(age);
    return Freshness::Fresh;
}

}  // namespace secsf::svc
