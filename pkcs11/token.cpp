#include "token.h"

#include <functional>

#include "module.h"
#include "rv.h"
#include "secsf/device_call.h"

namespace secsf::p11 {

namespace {
// Idle sessions kept per token; more are opened under load and closed after.
constexpr size_t kMaxIdleSessions = 32;
}  // namespace

std::string fieldString(const unsigned char *p, size_t n) {
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == 0)) n--;
    return std::string(reinterpret_cast<const char *>(p), n);
}

Session::~Session() {
    if (t_) t_->release(h_, bad_);
}

CK_FUNCTION_LIST *Session::fn() const { return t_->module()->fn(); }

Token::Token(Module *m, CK_SLOT_ID slot, uint64_t generation)
    : module_(m), slot_(slot), gen_(generation) {
    identity_ = info();
    const CK_TOKEN_INFO &ti = identity_;
    label_ = fieldString(ti.label, sizeof ti.label);
    serial_ = fieldString(ti.serialNumber, sizeof ti.serialNumber);
    loginRequired_ = ti.flags & CKF_LOGIN_REQUIRED;
    protectedPath_ = ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH;
}

bool Token::stale() const { return module_->generation() != gen_; }

CK_TOKEN_INFO Token::info() const {
    CK_TOKEN_INFO ti{};
    CK_RV rv = module_->fn()->C_GetTokenInfo(slot_, &ti);
    // SoftHSM reads this from its token file and fails (CKR_GENERAL_ERROR) while
    // another process rewrites that file; a later read gets the settled state.
    for (int attempt = 0; transientRv(rv) && backoff(attempt);)
        rv = module_->fn()->C_GetTokenInfo(slot_, &ti);
    check(rv, "reading token info in slot " + std::to_string(slot_));
    return ti;
}

std::string Token::describe() const { return "token '" + label_ + "'"; }

Session Token::session() {
    if (stale())
        throw Error(Reason::DeviceError, describe() + " was re-initialised (fork)");
    {
        std::lock_guard<std::mutex> lk(poolMu_);
        if (!idle_.empty()) {
            CK_SESSION_HANDLE h = idle_.back();
            idle_.pop_back();
            return Session(this, h);
        }
    }
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    check(module_->fn()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                       nullptr, &h),
          "opening a session on " + describe());
    return Session(this, h);
}

void Token::release(CK_SESSION_HANDLE h, bool bad) {
    // Handles from before a fork belong to the parent's module state: drop them.
    if (stale()) return;
    if (!bad) {
        std::lock_guard<std::mutex> lk(poolMu_);
        if (idle_.size() < kMaxIdleSessions) {
            idle_.push_back(h);
            return;
        }
    }
    module_->fn()->C_CloseSession(h);
}

CK_SESSION_HANDLE Token::homeSession() {
    if (keepAlive_ == CK_INVALID_HANDLE)
        check(module_->fn()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                           nullptr, &keepAlive_),
              "opening a session on " + describe());
    return keepAlive_;
}

void Token::forgetLogin() {
    std::lock_guard<std::mutex> lk(loginMu_);
    loggedIn_ = false;
}

void Token::login(const PinSource &pin) {
    if (!loginRequired_ || loggedIn_.load(std::memory_order_acquire)) return;
    std::lock_guard<std::mutex> lk(loginMu_);
    CK_FUNCTION_LIST *f = module_->fn();
    if (loggedIn_) return;
    homeSession();
    CK_SESSION_INFO si{};
    if (f->C_GetSessionInfo(keepAlive_, &si) == CKR_OK &&
        (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS)) {
        loggedIn_ = true;
        return;
    }
    CK_TOKEN_INFO ti = info();
    // A token file read half-rewritten shows no user PIN: look again before saying so.
    for (int attempt = 0; !(ti.flags & CKF_USER_PIN_INITIALIZED) && !protectedPath_ && backoff(attempt);)
        ti = info();
    if (!(ti.flags & CKF_USER_PIN_INITIALIZED) && !protectedPath_)
        throw Error(Reason::PinLocked, describe() + ": its user PIN is not initialised "
                                                    "(initialise it with the token's tools)");
    if (ti.flags & CKF_USER_PIN_LOCKED)
        throw Error(Reason::PinLocked, describe() + " has its user PIN locked");
    if (ti.flags & CKF_USER_PIN_FINAL_TRY)
        throw Error(Reason::PinLocked,
                    describe() + " has one PIN try left; secsf will not spend it "
                                 "(log in once with the right PIN using the token's tools)");
    CK_RV rv;
    DeviceCall inside;
    if (protectedPath_) {
        rv = f->C_Login(keepAlive_, CKU_USER, nullptr, 0);
    } else {
        if (!pin.present())
            throw Error(Reason::PinRequired,
                        describe() + " requires a PIN and the configuration gives none for it "
                                     "(pkcs11-pin-source is used only for the token pkcs11-token "
                                     "names): add pkcs11-token-pin-sources = " + label_ +
                                     "=file:/path, or point pkcs11-token at this token");
        SecureString p = pin.read();
        rv = f->C_Login(keepAlive_, CKU_USER, (CK_UTF8CHAR_PTR)p.str().data(),
                        p.str().size());
        // Never CKR_PIN_INCORRECT here: these answers spent no try.
        for (int attempt = 0; transientRv(rv) && backoff(attempt);)
            rv = f->C_Login(keepAlive_, CKU_USER, (CK_UTF8CHAR_PTR)p.str().data(), p.str().size());
    }
    if (rv == CKR_USER_ALREADY_LOGGED_IN) rv = CKR_OK;
    if (rv == CKR_PIN_INCORRECT)
        throw Error(Reason::PinIncorrect,
                    describe() + " rejected the PIN from " + pin.describe() +
                        " (CKR_PIN_INCORRECT)");
    check(rv, "logging in to " + describe());
    loggedIn_ = true;
}

CK_OBJECT_HANDLE Token::fastHandle(CK_OBJECT_HANDLE obj) {
    std::lock_guard<std::mutex> lk(copyMu_);
    auto it = copies_.find(obj);
    if (it != copies_.end()) return it->second;
    CK_FUNCTION_LIST *f = module_->fn();
    CK_SESSION_HANDLE home;
    try {
        std::lock_guard<std::mutex> lk2(loginMu_);
        home = homeSession();
    } catch (const Error &) {
        return obj;  // no session to hold a copy: use the token object itself
    }
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE t[] = {{CKA_TOKEN, &no, sizeof no}};
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    std::unique_lock<std::shared_mutex> noSearches(objectsMu_);
    // Tokens that refuse (CKA_COPYABLE false, no C_CopyObject) are used directly.
    if (f->C_CopyObject(home, obj, t, 1, &copy) != CKR_OK) copy = obj;
    copies_[obj] = copy;
    return copy;
}

void Token::dropCopy(CK_OBJECT_HANDLE obj) {
    std::lock_guard<std::mutex> lk(copyMu_);
    auto it = copies_.find(obj);
    if (it == copies_.end()) return;
    if (it->second != obj) module_->fn()->C_DestroyObject(keepAlive_, it->second);
    copies_.erase(it);
}

std::optional<CK_OBJECT_HANDLE> Token::rememberedSearch(const std::string &tmpl) {
    std::lock_guard<std::mutex> lk(searchMu_);
    auto it = searches_.find(tmpl);
    if (it == searches_.end()) return std::nullopt;
    return it->second;
}

void Token::rememberSearch(const std::string &tmpl, CK_OBJECT_HANDLE h) {
    // Bounded: a process that looks up more distinct keys than this starts over.
    constexpr size_t kMaxRemembered = 32768;
    std::lock_guard<std::mutex> lk(searchMu_);
    if (searches_.size() >= kMaxRemembered) searches_.clear();
    searches_[tmpl] = h;
}

void Token::forgetSearches() {
    std::lock_guard<std::mutex> lk(searchMu_);
    searches_.clear();
}

}  // namespace secsf::p11
