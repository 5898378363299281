// Seconds since the epoch, injectable: services take a Clock so that tests can
// expire credentials and tokens without waiting.
#pragma once
#include <cstdint>
#include <ctime>
#include <functional>

namespace secsf::svc {

using Clock = std::function<int64_t()>;
inline Clock systemClock() {
    return [] { return (int64_t)std::time(nullptr); };
}

}  // namespace secsf::svc
