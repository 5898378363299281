// One token in one slot of a module: its session pool and its login state.
// Sessions are borrowed for one operation and returned; the login (which PKCS#11
// keeps per application and token, as long as one session stays open) is done
// once, under a lock, so threads racing to their first operation log in once.
#pragma once
#include <p11-kit/pkcs11.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "pin.h"

namespace secsf::p11 {

class Module;
class Token;

class Session {
public:
    Session(Token *t, CK_SESSION_HANDLE h) : t_(t), h_(h) {}
    Session(Session &&o) noexcept : t_(o.t_), h_(o.h_), bad_(o.bad_) { o.t_ = nullptr; }
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    ~Session();

    CK_SESSION_HANDLE handle() const { return h_; }
    Token *token() const { return t_; }
    CK_FUNCTION_LIST *fn() const;
    // The session is in an unknown state (an operation may be active): close it
    // instead of returning it to the pool.
    void discard() { bad_ = true; }

private:
    Token *t_;
    CK_SESSION_HANDLE h_;
    bool bad_ = false;
};

class Token {
public:
    Token(Module *m, CK_SLOT_ID slot, uint64_t generation);

    Module *module() const { return module_; }
    CK_SLOT_ID slot() const { return slot_; }
    uint64_t generation() const { return gen_; }
    // The module was re-initialised (fork): this Token's handles are dead.
    bool stale() const;

    CK_TOKEN_INFO info() const;      // fresh from the token (flags change)
    // Label, serial, model, manufacturer as read when the token was found: what URIs
    // match on. (A re-initialised token gets a new Token, see Module::tokens.)
    const CK_TOKEN_INFO &identity() const { return identity_; }
    std::string label() const { return label_; }
    std::string serial() const { return serial_; }
    std::string describe() const;    // "token 'node1' (serial ...)"

    Session session();
    void release(CK_SESSION_HANDLE h, bool bad);

    bool loginRequired() const { return loginRequired_; }
    // Logs in as user if the token requires it and this process is not yet logged
    // in. Refuses when the PIN is locked or the token says this is the final try.
    void login(const PinSource &pin);
    // Forget the cached login state (the token reported CKR_USER_NOT_LOGGED_IN).
    void forgetLogin();

    // The handle to use for a private or secret key object: a session copy of it
    // where the token allows one (SoftHSM decrypts a token object on every use, a
    // session copy once), else the object itself. One copy per object and process,
    // kept in the session that holds the login, never destroyed before exit.
    CK_OBJECT_HANDLE fastHandle(CK_OBJECT_HANDLE tokenObject);
    void dropCopy(CK_OBJECT_HANDLE tokenObject);

    // Searches hold this shared; making a session copy holds it alone. SoftHSM lets
    // a search see a copy that is still being built (it then matches as a second
    // token object: seen as "matches 2 private keys" under 8 racing threads).
    std::shared_mutex &objectsMutex() { return objectsMu_; }

    // Searches that found exactly one object, by their template (see
    // findObjectsRemembered): SoftHSM answers every C_FindObjects by walking all
    // objects, so a repeated lookup would otherwise grow with the token.
    std::optional<CK_OBJECT_HANDLE> rememberedSearch(const std::string &tmpl);
    void rememberSearch(const std::string &tmpl, CK_OBJECT_HANDLE h);
    // Objects were made or destroyed through this process: search afresh.
    void forgetSearches();

private:
    // The session that keeps the login and the session copies; opened on first
    // need. Call with loginMu_ held.
    CK_SESSION_HANDLE homeSession();

    Module *module_;
    CK_SLOT_ID slot_;
    uint64_t gen_;
    CK_TOKEN_INFO identity_{};
    std::string label_, serial_;
    bool loginRequired_ = false;
    bool protectedPath_ = false;

    std::mutex poolMu_;
    std::vector<CK_SESSION_HANDLE> idle_;
    std::mutex loginMu_;
    std::atomic<bool> loggedIn_{false};  // read without the lock on every operation
    CK_SESSION_HANDLE keepAlive_ = CK_INVALID_HANDLE;
    std::mutex copyMu_;
    std::shared_mutex objectsMu_;
    std::map<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> copies_;
    std::mutex searchMu_;
    std::map<std::string, CK_OBJECT_HANDLE> searches_;
};

// Trims the blank padding of a fixed-size PKCS#11 string field.
std::string fieldString(const unsigned char *p, size_t n);

}  // namespace secsf::p11
