#include "module.h"

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <p11-kit/p11-kit.h>
#include <openssl/err.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "rv.h"
#include "secsf/device_call.h"
#include "token.h"

namespace secsf::p11 {

namespace {
// Counts fork()s, so that the hot path needs no getpid() system call. The code
// that registers the handler stays loaded for good (see provider.cpp), so the
// handler can never point into an unloaded library.
std::atomic<uint64_t> gForks{0};

// The fork guard (see DeviceEntry): writers preferred, so that a fork is not starved
// by threads that keep entering the module.
pthread_rwlock_t gForkGuard;
thread_local int tEntries = 0;      // DeviceEntry depth of this thread
thread_local bool tForkHolds = false;

void initForkGuard() {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&gForkGuard, &a);
    pthread_rwlockattr_destroy(&a);
}

void beforeFork() {
    if (tEntries > 0) return;  // forking from inside a module call: nothing to wait for
    timespec until{};
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;  // a thread stuck in the module must not hang fork() for good
    tForkHolds = pthread_rwlock_timedwrlock(&gForkGuard, &until) == 0;
}

void afterForkInParent() {
    if (tForkHolds) pthread_rwlock_unlock(&gForkGuard);
    tForkHolds = false;
}

void afterForkInChild() {
    gForks.fetch_add(1, std::memory_order_relaxed);
    // The child has one thread: a fresh guard (the parent's may be held by threads
    // the child does not have, if the wait above timed out).
    tForkHolds = false;
    initForkGuard();
}

uint64_t forksSoFar() {
    static std::once_flag once;
    std::call_once(once, [] {
        initForkGuard();
        pthread_atfork(beforeFork, afterForkInParent, afterForkInChild);
    });
    return gForks.load(std::memory_order_acquire);
}

// Set while this thread is inside C_Initialize: a module that initialises OpenSSL
// there (SoftHSM does) may reach secsf again; it must get an error, not a deadlock.
thread_local bool tInsideInitialize = false;
}  // namespace

DeviceEntry::DeviceEntry() {
    if (tEntries++ == 0) {
        forksSoFar();  // the guard exists from here on
        held_ = pthread_rwlock_rdlock(&gForkGuard) == 0;
    }
}

DeviceEntry::~DeviceEntry() {
    if (held_) pthread_rwlock_unlock(&gForkGuard);
    tEntries--;
}

std::shared_ptr<Module> Module::get(const std::string &path) {
    // Deliberately leaked: see the header on why modules outlive exit handlers.
    static auto *mu = new std::mutex;
    static auto *all = new std::map<std::string, std::shared_ptr<Module>>;
    std::lock_guard<std::mutex> lk(*mu);
    auto it = all->find(path);
    if (it != all->end()) return it->second;
    std::shared_ptr<Module> m(new Module(path));
    (*all)[path] = m;
    return m;
}

void Module::initialize() {
    if (!f_) {
        f_ = p11_kit_module_load(path_.c_str(), P11_KIT_MODULE_UNMANAGED);
        if (!f_)
            throw Error(Reason::Config, "cannot load PKCS#11 module " + path_ + ": " +
                                            (p11_kit_message() ? p11_kit_message() : "?"));
    }
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    tInsideInitialize = true;
    DeviceCall inside;
    // Modules that use libcrypto themselves (SoftHSM tries to load the rdrand engine)
    // leave errors on the shared queue; they would bury secsf's own message.
    ERR_set_mark();
    CK_RV rv = f_->C_Initialize(&args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && pid_ != 0) {
        // A forked child: the module kept the parent's state. Start it afresh.
        f_->C_Finalize(nullptr);
        rv = f_->C_Initialize(&args);
    }
    tInsideInitialize = false;
    ERR_pop_to_mark();
    // Another user of the module in this process initialised it first: share it.
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        check(rv, "PKCS#11 module " + path_ + " failed to initialise");
    pid_ = getpid();
    forks_ = forksSoFar();
    tokens_.clear();
    gen_++;
}

CK_FUNCTION_LIST *Module::fn() {
    if (tInsideInitialize)
        throw Error(Reason::DeviceError,
                    "PKCS#11 module " + path_ +
                        " called back into secsf during C_Initialize; refusing to recurse");
    uint64_t forks = forksSoFar();
    if (f_ && forks_ == forks) return f_;
    std::lock_guard<std::mutex> lk(mu_);
    if (!f_ || forks_ != forksSoFar()) initialize();
    return f_;
}

uint64_t Module::generation() {
    fn();
    return gen_.load();
}

CK_INFO Module::info() {
    CK_INFO i{};
    check(fn()->C_GetInfo(&i), "C_GetInfo on " + path_);
    return i;
}

std::vector<std::shared_ptr<Token>> Module::tokens() {
    // A token this process knew that is missing from an answer is asked about again
    // (after 2, 10, 50 ms): SoftHSM answers C_GetSlotList / C_GetTokenInfo from its
    // files, and while another process (a forked child starting afresh) works on
    // them it can report a present token as absent for a few milliseconds.
    static const int kWaitMs[] = {2, 10, 50};
    for (int attempt = 0;; attempt++) {
        bool lost = false;
        bool last = attempt == (int)(sizeof kWaitMs / sizeof kWaitMs[0]);
        auto out = listTokens(lost, /*forgetLost=*/last);
        if (!lost || last) return out;
        std::this_thread::sleep_for(std::chrono::milliseconds(kWaitMs[attempt]));
    }
}

std::vector<std::shared_ptr<Token>> Module::listTokens(bool &lostKnown, bool forgetLost) {
    CK_FUNCTION_LIST *f = fn();
    CK_ULONG n = 0;
    check(f->C_GetSlotList(CK_TRUE, nullptr, &n), "listing slots of " + path_);
    std::vector<CK_SLOT_ID> ids(n);
    if (n) check(f->C_GetSlotList(CK_TRUE, ids.data(), &n), "listing slots of " + path_);
    ids.resize(n);
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<std::shared_ptr<Token>> out;
    std::set<CK_SLOT_ID> seen;
    for (CK_SLOT_ID id : ids) {
        // An uninitialised token (SoftHSM always offers one) holds nothing and
        // refuses sessions: it is not a candidate for any URI.
        CK_TOKEN_INFO ti{};
        if (f->C_GetTokenInfo(id, &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED)) continue;
        seen.insert(id);
        auto &t = tokens_[id];
        // Re-initialised under us (new serial): a new token, new sessions.
        if (t && t->serial() != fieldString(ti.serialNumber, sizeof ti.serialNumber)) t.reset();
        if (!t) t = std::make_shared<Token>(this, id, gen_.load());
        out.push_back(t);
    }
    lostKnown = false;
    for (auto it = tokens_.begin(); it != tokens_.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        lostKnown = true;
        it = forgetLost ? tokens_.erase(it) : std::next(it);
    }
    return out;
}

}  // namespace secsf::p11
