// A loaded PKCS#11 module: loaded and C_Initialize'd lazily on first use, once per
// process, again in a child after fork(). Never finalised at exit: modules such as
// SoftHSM use libcrypto in C_Finalize, and at exit libcrypto is already torn down.
#pragma once
#include <p11-kit/pkcs11.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "secsf/device_call.h"

namespace secsf::p11 {

class Token;

// Where a secsf operation enters a PKCS#11 module. Besides marking the thread as
// inside a device call, the outermost entry holds the fork guard shared: fork()
// (through an atfork handler) waits until no thread is inside a module, at most
// 2 s, so that a child does not inherit a lock that a thread, which does not exist
// in the child, held inside the module (SoftHSM then deadlocks in the child's
// C_Finalize). Construct it before taking any secsf lock.
// True while a fork() waits for the threads inside a module (see DeviceEntry): a
// thread that would wait and ask the module again gives up instead, so that the
// fork is not kept waiting past its limit (the child would then inherit locks).
bool forkPending();

class DeviceEntry {
public:
    DeviceEntry();
    ~DeviceEntry();
    DeviceEntry(const DeviceEntry &) = delete;
    DeviceEntry &operator=(const DeviceEntry &) = delete;

private:
    DeviceCall inside_;
    bool held_ = false;
};

// How often one lookup or operation may restart a module (see Module::restart)
// before it reports what it met: another process may be rewriting the token again.
constexpr int kMaxRestarts = 3;

class Module {
public:
    // One Module per path per process; PKCS#11 allows one C_Initialize per process.
    static std::shared_ptr<Module> get(const std::string &path);

    const std::string &path() const { return path_; }
    // Functions of an initialised module (re-initialising after fork). Throws on
    // failure, or when called from inside the module's own C_Initialize.
    CK_FUNCTION_LIST *fn();
    // Changes whenever the module is (re)initialised: object and session handles
    // from an older generation are invalid.
    uint64_t generation();

    CK_INFO info();
    // Slots with an initialised token present; Token objects live as long as the generation.
    std::vector<std::shared_ptr<Token>> tokens();
    // Those for which `wanted` holds, asking the module again (see backoff()) while
    // the answer holds none, or lacks a wanted token this process knew.
    std::vector<std::shared_ptr<Token>> tokensWhere(const std::function<bool(const Token &)> &wanted);
    // One answer of the module as it is, without asking again (for messages).
    std::vector<std::shared_ptr<Token>> tokensNow();
    // C_Finalize + C_Initialize, when no other thread is inside a module and no
    // other user of the module in this process shares it; true if it did. SoftHSM
    // does not always see a token again that it once failed to read (another
    // process was rewriting its file) until it starts afresh. Call it holding no
    // secsf lock but the DeviceEntry: it waits (at most 1 s) for the other threads
    // to leave the module, and a thread waiting for a lock this one held would not.
    bool restart();

private:
    explicit Module(std::string path) : path_(std::move(path)) {}
    void initialize();  // with mu_ held
    // One answer of the module; `lost`: the tokens known before that are not in it.
    std::vector<std::shared_ptr<Token>> listTokens(std::vector<std::shared_ptr<Token>> &lost, bool forgetLost);

    std::string path_;
    std::mutex mu_;
    CK_FUNCTION_LIST *f_ = nullptr;
    pid_t pid_ = 0;
    bool shared_ = false;  // initialised by another user of the module in this process
    uint64_t forks_ = ~0ull;  // the process-wide fork count when this was initialised
    std::atomic<uint64_t> gen_{0};
    std::map<CK_SLOT_ID, std::shared_ptr<Token>> tokens_;
};

}  // namespace secsf::p11
