#include "card_pool.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace secsf::pcsc {

namespace {

// Shared by card operations, exclusive for fork(); writers first, so that a busy
// server's steady stream of operations does not hold fork() off for the whole wait.
pthread_rwlock_t gForkLock;
std::once_flag gForkOnce;
std::atomic<bool> gForkHolds{false};
thread_local int tDepth = 0;  // a card operation inside another takes no second hold
constexpr int kForkWait = 5;

void initForkLock() {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&gForkLock, &a);
    pthread_rwlockattr_destroy(&a);
}

void beforeFork() {
    struct timespec until {};
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += kForkWait;
    gForkHolds = pthread_rwlock_timedwrlock(&gForkLock, &until) == 0;
}

void afterForkInParent() {
    if (gForkHolds.exchange(false)) pthread_rwlock_unlock(&gForkLock);
}

void afterForkInChild() {
    gForkHolds = false;
    tDepth = 0;
    initForkLock();
}

void setUp() {
    std::call_once(gForkOnce, [] {
        initForkLock();
        pthread_atfork(beforeFork, afterForkInParent, afterForkInChild);
    });
}

}  // namespace

CardOperation::CardOperation() {
    setUp();
    if (tDepth++ == 0) pthread_rwlock_rdlock(&gForkLock);
}

CardOperation::~CardOperation() {
    if (--tDepth == 0) pthread_rwlock_unlock(&gForkLock);
}

CardPool::CardPool(std::string defaultReader) : defaultReader_(std::move(defaultReader)), pid_(getpid()) { setUp(); }

CardPool::~CardPool() {
    // Releasing the parent's context from a child would speak on the parent's socket.
    if (getpid() != pid_) forgetInherited();
}

void CardPool::forgetInherited() {
    // Deliberately leaked: their destructors would release the parent's context and
    // disconnect its cards through pcscd.
    new std::shared_ptr<Service>(std::move(service_));
    new std::map<std::string, std::shared_ptr<PivCard>>(std::move(cards_));
    service_.reset();
    cards_.clear();
    pid_ = getpid();
}

std::shared_ptr<PivCard> CardPool::card(const std::string &pattern) {
    std::lock_guard<std::mutex> g(mutex_);
    if (getpid() != pid_) forgetInherited();
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
    if (getpid() != pid_) {
        forgetInherited();
        return;
    }
    cards_.erase(pattern);
    if (service || (service_ && SCardIsValidContext(service_->context()) != SCARD_S_SUCCESS)) {
        cards_.clear();
        service_.reset();
    }
}

}  // namespace secsf::pcsc
