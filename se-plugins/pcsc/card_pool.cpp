#include "card_pool.h"

namespace secsf::pcsc {

std::shared_ptr<PivCard> CardPool::card(const std::string &pattern) {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = cards_.find(pattern);
    if (it != cards_.end()) return it->second;
    if (!service_) service_ = std::make_shared<Service>();
    auto session = std::make_shared<Session>(service_, service_->findReader(pattern));
    auto c = std::make_shared<PivCard>(session);
    cards_[pattern] = c;
    return c;
}

void CardPool::drop(const std::string &pattern, bool service) {
    std::lock_guard<std::mutex> g(mutex_);
    cards_.erase(pattern);
    if (service || (service_ && SCardIsValidContext(service_->context()) != SCARD_S_SUCCESS)) {
        cards_.clear();
        service_.reset();
    }
}

}  // namespace secsf::pcsc
