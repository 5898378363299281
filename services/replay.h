// Replay protection (seed 001, 7.6): by timestamp — a window around now plus a
// bounded cache of what was seen in it — and by sequence number — a sliding window
// that accepts reordering inside it. Memory is bounded in both: when the timestamp
// cache is full, the oldest entry is forgotten and everything at or before its time
// is refused from then on, so no replay slips through an eviction.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "clock.h"

namespace secsf::svc {

enum class Freshness { Fresh, Replayed, Stale, Future };
const char *freshnessText(Freshness f);

class TimestampReplayGuard {
public:
    // window: seconds a message may be older (or newer) than now; maxEntries: the cache.
    TimestampReplayGuard(int64_t window, size_t maxEntries, Clock clock = systemClock());
    // id: what identifies the message (its nonce, or a digest of it).
    Freshness check(const std::string &id, int64_t timestamp);
    size_t size() const { return byId_.size(); }
    // Nothing remembered that could still matter at `now` (it may be dropped).
    bool idle(int64_t now);

private:
    void expire(int64_t now);
    int64_t window_;
    size_t max_;
    Clock clock_;
    int64_t floor_ = INT64_MIN;  // everything at or before this is refused
    std::map<std::string, int64_t> byId_;
    std::multimap<int64_t, std::string> byTime_;
};

// Timestamp replay state kept apart per authenticated peer: a peer that fills its
// cache, or dates its messages ahead so that the cache's floor rises, is refused
// itself while every other peer is untouched. A peer's state is dropped once nothing
// in it matters any more; at most maxPeers peers are tracked at once (a new one past
// that is refused as Stale until some go idle).
class PeerReplayGuard {
public:
    PeerReplayGuard(int64_t window, size_t perPeer, size_t maxPeers, Clock clock = systemClock());
    Freshness check(const std::string &peer, const std::string &id, int64_t timestamp);
    size_t peers() const { return guards_.size(); }

private:
    int64_t window_;
    size_t perPeer_, maxPeers_;
    Clock clock_;
    std::map<std::string, TimestampReplayGuard> guards_;
};

class SequenceReplayGuard {
public:
    explicit SequenceReplayGuard(uint32_t window = 64);
    // For the receiver: Fresh once per number inside the window, Stale below it.
    Freshness check(uint64_t seq);
    // For the sender: 1, 2, 3...
    uint64_t next() { return ++sent_; }
    uint64_t highest() const { return highest_; }
    // After a restart: everything up to `highest` counts as seen (the window's
    // details were not kept, so nothing at or below it is accepted again).
    void resumeAt(uint64_t highest);

private:
    uint32_t window_;
    uint64_t highest_ = 0, sent_ = 0;
    std::vector<uint64_t> bits_;  // bit i: highest_ - i was seen
};

}  // namespace secsf::svc
