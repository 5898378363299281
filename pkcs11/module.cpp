#include "module.h"

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <p11-kit/p11-kit.h>
#include <openssl/err.h>
#include <dlfcn.h>
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
thread_local bool tGuardHeld = false;  // the outermost DeviceEntry holds the guard shared
thread_local bool tForkHolds = false;
// Set while a fork() waits for the threads inside a module: they stop retrying.
std::atomic<bool> gForkPending{false};

void initForkGuard() {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&gForkGuard, &a);
    pthread_rwlockattr_destroy(&a);
}

void beforeFork() {
    if (tEntries > 0) return;  // forking from inside a module call: nothing to wait for
    gForkPending.store(true, std::memory_order_release);
    timespec until{};
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;  // a thread stuck in the module must not hang fork() for good
    tForkHolds = pthread_rwlock_timedwrlock(&gForkGuard, &until) == 0;
}

void afterForkInParent() {
    gForkPending.store(false, std::memory_order_release);
    if (tForkHolds) pthread_rwlock_unlock(&gForkGuard);
    tForkHolds = false;
}

void afterForkInChild() {
    gForks.fetch_add(1, std::memory_order_relaxed);
    gForkPending.store(false, std::memory_order_relaxed);
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

// A module by dlopen() and C_GetFunctionList, for what p11_kit_module_load refuses
// (p11-kit-proxy.so). Never dlclose()d, like every module (see module.h).
CK_FUNCTION_LIST *loadPlain(const std::string &path) {
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) return nullptr;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
    CK_FUNCTION_LIST *f = nullptr;
    if (!get || get(&f) != CKR_OK) f = nullptr;
    return f;
}

// Set while this thread is inside C_Initialize: a module that initialises OpenSSL
// there (SoftHSM does) may reach secsf again; it must get an error, not a deadlock.
thread_local bool tInsideInitialize = false;
}  // namespace

bool forkPending() { return gForkPending.load(std::memory_order_acquire); }

DeviceEntry::DeviceEntry() {
    if (tEntries++ == 0) {
        forksSoFar();  // the guard exists from here on
        held_ = tGuardHeld = pthread_rwlock_rdlock(&gForkGuard) == 0;
    }
}

DeviceEntry::~DeviceEntry() {
    if (held_) pthread_rwlock_unlock(&gForkGuard);
    if (tEntries == 1) tGuardHeld = false;
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
        // p11-kit will not load its own proxy (the module that gathers every module
        // p11-kit registers) through this call: it is loaded as a plain module.
        if (!f_) f_ = loadPlain(path_);
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
    shared_ = rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && pid_ == 0;
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
    return tokensWhere([](const Token &) { return true; });
}

std::vector<std::shared_ptr<Token>> Module::tokensNow() {
    std::vector<std::shared_ptr<Token>> lost;
    return listTokens(lost, /*forgetLost=*/false);
}

bool Module::restart() {
    // Only while no other thread is inside any module: the fork guard, taken alone.
    // A thread inside a DeviceEntry lets go of its shared hold first (nested
    // entries cannot, and another thread's entry may keep it from getting it).
    if (tEntries > 1 || (tEntries == 1 && !tGuardHeld) || forkPending()) return false;
    if (tEntries == 1) pthread_rwlock_unlock(&gForkGuard);
    timespec until{};
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    bool alone = pthread_rwlock_timedwrlock(&gForkGuard, &until) == 0;
    if (alone) {
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (f_ && !shared_) {
                ERR_set_mark();
                f_->C_Finalize(nullptr);
                ERR_pop_to_mark();
                pid_ = 0;
                initialize();
            }
        }
        pthread_rwlock_unlock(&gForkGuard);
    }
    if (tEntries == 1) pthread_rwlock_rdlock(&gForkGuard);
    return alone && !shared_;
}

std::vector<std::shared_ptr<Token>> Module::tokensWhere(const std::function<bool(const Token &)> &wanted) {
    // SoftHSM answers C_GetSlotList / C_GetTokenInfo from its files, and while
    // another process writes them (a key made or deleted, a forked child starting
    // afresh) it can report a present token as absent, or fail to read it, for a
    // few milliseconds. So an answer that holds no wanted token, or lost a wanted
    // token this process knew, is asked again (see backoff()).
    for (int attempt = 0;;) {
        std::vector<std::shared_ptr<Token>> out, lost;
        for (auto &t : listTokens(lost, /*forgetLost=*/false))
            if (wanted(*t)) out.push_back(t);
        bool lostWanted = false;
        for (auto &t : lost) lostWanted = lostWanted || wanted(*t);
        if (!out.empty() && !lostWanted) return out;
        if (!backoff(attempt)) {
            listTokens(lost, /*forgetLost=*/true);
            return out;
        }
    }
}

std::vector<std::shared_ptr<Token>> Module::listTokens(std::vector<std::shared_ptr<Token>> &lost,
                                                       bool forgetLost) {
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
        CK_RV rv = f->C_GetTokenInfo(id, &ti);
        // A slot whose token cannot be read now (a rewrite in progress) is left
        // out; a known token there counts as lost below, and is asked about again.
        if (rv != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED)) continue;
        seen.insert(id);
        auto &t = tokens_[id];
        // Re-initialised under us (new serial): a new token, new sessions.
        if (t && t->serial() != fieldString(ti.serialNumber, sizeof ti.serialNumber)) t.reset();
        if (!t) {
            try {
                t = std::make_shared<Token>(this, id, gen_.load());
            } catch (const Error &) {
                tokens_.erase(id);  // its info could not be read (see above)
                seen.erase(id);
                continue;
            }
        }
        out.push_back(t);
    }
    lost.clear();
    for (auto it = tokens_.begin(); it != tokens_.end();) {
        if (seen.count(it->first)) {
            ++it;
            continue;
        }
        lost.push_back(it->second);
        it = forgetLost ? tokens_.erase(it) : std::next(it);
    }
    return out;
}

}  // namespace secsf::p11
