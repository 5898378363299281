// The cards a plug-in talks to, one session per reader pattern, kept open between
// operations. When the card, the reader or pcscd goes away, the session is dropped
// and the failing call reports it; the next call connects again, so a key loaded
// before the card was pulled works once it is back.
//
// fork(): a child never uses (nor releases) a PC/SC context or card connection its
// parent made. They share the parent's socket to pcscd, so an APDU of one would be
// answered to the other. The child makes its own on first use. fork() waits (up to
// 5 s) for card operations in other threads to end, so that no lock of theirs (ours
// or pcsc-lite's) is held in the child.
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "piv_card.h"

namespace secsf::pcsc {

// Held by every card operation (shared) and by fork() (exclusive, bounded): see above.
class CardOperation {
public:
    CardOperation();
    ~CardOperation();
    CardOperation(const CardOperation &) = delete;
};

class CardPool {
public:
    explicit CardPool(std::string defaultReader);
    ~CardPool();
    // Runs fn(PivCard&) on the card in the reader matching pattern (empty: the
    // configured one).
    template <class F> auto run(const std::string &pattern, F fn) -> decltype(fn(std::declval<PivCard &>()));
    std::string defaultReader() const { return defaultReader_; }

private:
    std::shared_ptr<PivCard> card(const std::string &pattern);
    void drop(const std::string &pattern, bool service);
    // In a forked child: the parent's context and connections are left alone.
    void forgetInherited();

    std::string defaultReader_;
    pid_t pid_;
    std::mutex mutex_;
    std::shared_ptr<Service> service_;
    std::map<std::string, std::shared_ptr<PivCard>> cards_;
};

template <class F> auto CardPool::run(const std::string &pattern, F fn) -> decltype(fn(std::declval<PivCard &>())) {
    std::string p = pattern.empty() ? defaultReader_ : pattern;
    CardOperation inFlight;
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
