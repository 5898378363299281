// The cards a plug-in talks to, one session per reader pattern, kept open between
// operations. When the card, the reader or pcscd goes away, the session is dropped
// and the failing call reports it; the next call connects again, so a key loaded
// before the card was pulled works once it is back.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "piv_card.h"

namespace secsf::pcsc {

class CardPool {
public:
    explicit CardPool(std::string defaultReader) : defaultReader_(std::move(defaultReader)) {}
    // Runs fn(PivCard&) on the card in the reader matching pattern (empty: the
    // configured one).
    template <class F> auto run(const std::string &pattern, F fn) -> decltype(fn(std::declval<PivCard &>()));
    std::string defaultReader() const { return defaultReader_; }

private:
    std::shared_ptr<PivCard> card(const std::string &pattern);
    void drop(const std::string &pattern, bool service);

    std::string defaultReader_;
    std::mutex mutex_;
    std::shared_ptr<Service> service_;
    std::map<std::string, std::shared_ptr<PivCard>> cards_;
};

template <class F> auto CardPool::run(const std::string &pattern, F fn) -> decltype(fn(std::declval<PivCard &>())) {
    std::string p = pattern.empty() ? defaultReader_ : pattern;
    for (int attempt = 0;; attempt++) {
        try {
            return fn(*card(p));
        } catch (const TransportError &e) {
            if (e.kind() == TransportError::Protocol) throw;
            drop(p, e.kind() == TransportError::NoService);
            // A kept connection that went stale while idle (card re-inserted, pcscd
            // restarted): nothing reached the card, so one fresh try is harmless.
            if (!e.nothingSent() || attempt > 0) throw;
        }
    }
}

}  // namespace secsf::pcsc
