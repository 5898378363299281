// Plausibility validation (seed 001, 7.8): position, time and speed in incoming data
// checked against recent data from the same node. A report is implausible when its
// position is not on Earth, its time is in the future or too old, earlier than what
// the node already reported, or when reaching it from the last accepted position
// needs more than the configured speed. Memory is bounded: a few recent reports per
// node, and the least recently heard nodes are forgotten first.
#pragma once
#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <unordered_map>

#include "clock.h"

namespace secsf::svc {

struct Observation {
    std::string node;
    double latitude = 0, longitude = 0;  // degrees
    int64_t time = 0;                    // seconds since the epoch
};

struct PlausibilityBounds {
    double maxSpeed = 70.0;      // metres per second (a car on a motorway)
    int64_t maxFuture = 60;      // seconds of clock difference tolerated
    int64_t maxAge = 3600;       // older reports are not news
    size_t historyPerNode = 8;
    size_t maxNodes = 10000;
};

struct Plausibility {
    bool plausible = false;
    std::string why;  // empty when plausible
};

class PlausibilityValidator {
public:
    explicit PlausibilityValidator(PlausibilityBounds b = {}, Clock clock = systemClock());
    // Checks the report and, when plausible, remembers it as the node's latest.
    Plausibility check(const Observation &o);
    size_t nodes() const { return byNode_.size(); }

private:
    PlausibilityBounds b_;
    Clock clock_;
    std::list<std::string> recency_;  // most recently heard first
    struct Track {
        std::deque<Observation> recent;
        std::list<std::string>::iterator pos;
    };
    std::unordered_map<std::string, Track> byNode_;
};

// Great-circle distance in metres.
double distanceMetres(double lat1, double lon1, double lat2, double lon2);

}  // namespace secsf::svc
