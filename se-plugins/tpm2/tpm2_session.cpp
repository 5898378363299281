#include "tpm2_session.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "../../pkcs11/pin.h"
#include "secsf/error.h"

namespace secsf::tpm2 {

namespace {

// Where the lock lives unless configured: the user's runtime directory, root's
// /run/secsf, or a directory of the user's own under /tmp; never a name in a
// directory anyone may write, where another user could plant it or a symlink.
std::string defaultLockDir() {
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    std::string dir = xdg && *xdg ? xdg : geteuid() == 0 ? "/run/secsf" : "/tmp/secsf-" + std::to_string(geteuid());
    mkdir(dir.c_str(), geteuid() == 0 && !(xdg && *xdg) ? 0755 : 0700);
    struct stat st {};
    if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        throw Error(Reason::Config, "the TPM lock directory " + dir + " is not a directory of this user's (uid " +
                                        std::to_string(geteuid()) + ") that only it can write: remove it, or set " +
                                        "tpm2-lock-file to a file in such a directory");
    return dir;
}

std::string lockPath(const Config &cfg) {
    if (!cfg.lockFile.empty()) return cfg.lockFile;
    return defaultLockDir() + "/secsf-tpm2-" + std::to_string(std::hash<std::string>()(cfg.tcti)) + ".lock";
}

// The lock file, opened without following a symlink, a regular file of this user's
// or root's (a shared lock file set up by the administrator).
int openLock(const std::string &path) {
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd < 0)
        throw Error(Reason::Config, "cannot open the TPM lock file " + path + " (" + strerror(errno) +
                                        (errno == ELOOP ? ": it is a symbolic link, which secsf does not follow" : "") +
                                        "); see tpm2-lock-file");
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
        close(fd);
        throw Error(Reason::Config, "the TPM lock file " + path + " is not a regular file of this user's (uid " +
                                        std::to_string(geteuid()) + ") or root's: another user could hold it; "
                                        "remove it or set tpm2-lock-file");
    }
    return fd;
}

// One TPM conversation at a time per process (the threads), and per machine (a POSIX
// record lock on the lock file). Record locks, unlike flock(), belong to the process
// and are not inherited by fork(): a child never holds, and so never waits for
// itself on, a lock one of its parent's threads held at the moment of the fork. One
// descriptor per lock file for the life of the process: closing any descriptor of
// the file would drop the process's record lock.
//
// fork() waits (up to kForkWait) for a conversation in another thread to end, so that
// the child inherits no TPM connection: a TPM that serves one client at a time (a
// bare swtpm, /dev/tpm0) would otherwise wait for ever on the parent's connection,
// which the child's copy keeps open. Past that wait, the child closes the copy.
constexpr int kForkWait = 5;
pthread_mutex_t gTpmMu = PTHREAD_MUTEX_INITIALIZER;
// Process-lifetime tables are never destroyed: a TPM operation may still come from
// another library's exit handler (OpenSSL's among them) after static destructors.
std::map<std::string, int> &gLockFds = *new std::map<std::string, int>;  // under gTpmMu
std::once_flag gAtFork;
std::mutex gTrMu;  // below: the ESYS_TR cache
std::atomic<bool> gForkHolds{false};
std::atomic<TSS2_TCTI_CONTEXT *> gLiveTcti{nullptr};  // the conversation in progress, if any

struct timespec deadlineIn(int seconds) {
    struct timespec t {};
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += seconds;
    return t;
}

void beforeFork() {
    struct timespec until = deadlineIn(kForkWait);
    gForkHolds = pthread_mutex_timedlock(&gTpmMu, &until) == 0;
}

void afterForkInParent() {
    if (gForkHolds.exchange(false)) pthread_mutex_unlock(&gTpmMu);
}

void afterForkInChild() {
    gForkHolds = false;
    pthread_mutex_init(&gTpmMu, nullptr);
    new (&gTrMu) std::mutex();
    // The wait above ran out: the parent's connection must not stay open here.
    if (TSS2_TCTI_CONTEXT *t = gLiveTcti.exchange(nullptr)) {
        TSS2_TCTI_POLL_HANDLE h[4];
        size_t n = 4;
        if (Tss2_Tcti_GetPollHandles(t, h, &n) == TSS2_RC_SUCCESS)
            for (size_t i = 0; i < n && i < 4; i++) close(h[i].fd);
    }
}

// The process-wide turn at the TPM and the machine-wide lock, each waited on for at
// most `seconds`. Returns the lock file's descriptor.
int takeTurn(const std::string &path, int seconds) {
    std::call_once(gAtFork, [] { pthread_atfork(beforeFork, afterForkInParent, afterForkInChild); });
    struct timespec until = deadlineIn(seconds);
    int rc = pthread_mutex_timedlock(&gTpmMu, &until);
    if (rc == ETIMEDOUT)
        throw Error(Reason::DeviceError, "the TPM is busy: another thread of this process has used it for " +
                                             std::to_string(seconds) + " s (tpm2-lock-timeout)");
    if (rc != 0) throw Error(Reason::DeviceError, "cannot wait for the TPM (" + std::string(strerror(rc)) + ")");
    try {
        auto it = gLockFds.find(path);
        int fd = it != gLockFds.end() ? it->second : (gLockFds[path] = openLock(path));
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        for (useconds_t pause = 1000;; pause = std::min<useconds_t>(pause * 2, 50000)) {
            if (fcntl(fd, F_SETLK, &fl) == 0) return fd;
            if (errno != EACCES && errno != EAGAIN && errno != EINTR)
                throw Error(Reason::DeviceError, "cannot lock " + path + " (" + strerror(errno) + ")");
            struct timespec now {};
            clock_gettime(CLOCK_REALTIME, &now);
            if (now.tv_sec >= until.tv_sec)
                throw Error(Reason::DeviceError, "the TPM is busy: another process has held its lock file " + path +
                                                     " for " + std::to_string(seconds) +
                                                     " s (tpm2-lock-timeout); `fuser " + path + "` names it");
            usleep(pause);
        }
    } catch (...) {
        pthread_mutex_unlock(&gTpmMu);
        throw;
    }
}

void endTurn(int fd) {
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fcntl(fd, F_SETLK, &fl);
    pthread_mutex_unlock(&gTpmMu);
}

Reason reasonFor(TSS2_RC rc) {
    TSS2_RC base = rc & 0xfff;
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) return Reason::DeviceError;
    if (rc & TPM2_RC_FMT1) {
        TSS2_RC fmt = rc & (TPM2_RC_FMT1 | 0x3f);
        if (fmt == TPM2_RC_AUTH_FAIL || fmt == TPM2_RC_BAD_AUTH) return Reason::PinIncorrect;
        if (fmt == TPM2_RC_HANDLE) return Reason::NotFound;
        if (fmt == TPM2_RC_SCHEME || fmt == TPM2_RC_HASH || fmt == TPM2_RC_CURVE ||
            fmt == TPM2_RC_KEY_SIZE || fmt == TPM2_RC_ATTRIBUTES)
            return Reason::Unsupported;
        if (fmt == TPM2_RC_VALUE || fmt == TPM2_RC_SIZE || fmt == TPM2_RC_ECC_POINT)
            return Reason::BadInput;
    }
    if (base == TPM2_RC_LOCKOUT) return Reason::PinLocked;
    if (base == TPM2_RC_HANDLE || base == (TPM2_RC_HANDLE & 0xfff)) return Reason::NotFound;
    return Reason::DeviceError;
}

}  // namespace

Session::Session(const Config &cfg) : cfg_(cfg) {
    if (cfg.tcti.empty()) throw Error(Reason::Config, "SE '" + cfg.name + "' has no tpm2-tcti");
    // The TSS prints its own errors on stderr unless told otherwise; secsf reports them.
    setenv("TSS2_LOG", "all+none", 0);
    lockFd_ = takeTurn(lockPath(cfg), cfg.lockTimeout);
    TSS2_RC rc = Tss2_TctiLdr_Initialize(cfg.tcti.c_str(), &tcti_);
    gLiveTcti = tcti_;
    if (rc != TSS2_RC_SUCCESS) {
        endTurn(lockFd_);
        throw Error(Reason::DeviceError, "cannot reach the TPM at '" + cfg.tcti + "' (" +
                                             Tss2_RC_Decode(rc) + ")");
    }
    rc = Esys_Initialize(&esys_, tcti_, nullptr);
    if (rc != TSS2_RC_SUCCESS) {
        gLiveTcti = nullptr;
        Tss2_TctiLdr_Finalize(&tcti_);
        endTurn(lockFd_);
        throw Error(Reason::DeviceError, "cannot talk to the TPM at '" + cfg.tcti + "' (" +
                                             Tss2_RC_Decode(rc) + ")");
    }
}

Session::~Session() {
    if (transient_ != ESYS_TR_NONE) Esys_FlushContext(esys_, transient_);
    Esys_Finalize(&esys_);
    gLiveTcti = nullptr;
    Tss2_TctiLdr_Finalize(&tcti_);
    endTurn(lockFd_);
}

namespace {

// What a user should do about the TPM's most common answers; "" for the others.
std::string sentenceFor(TSS2_RC rc) {
    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
        return "the TPM cannot be reached: check tpm2-tcti, and that the TPM (or its resource manager) is running";
    TSS2_RC fmt = rc & TPM2_RC_FMT1 ? rc & (TPM2_RC_FMT1 | 0x3f) : rc & 0xfff;
    switch (fmt) {
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
        return "the key's authorization value is wrong: check its pin-source or pin-value (each wrong value counts "
               "toward the TPM's dictionary-attack lockout)";
    case TPM2_RC_LOCKOUT:
        return "the TPM is in dictionary-attack lockout after too many wrong authorization values: keys with an "
               "authorization value work again after the TPM's recovery time, or after tpm2_dictionarylockout "
               "--clear-lockout with the lockout authorization";
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_POLICY:
    case TPM2_RC_AUTH_UNAVAILABLE:
        return "the key may only be used through an authorization policy, which secsf does not satisfy: use a key "
               "made with a plain authorization value (secsf key gen)";
    case TPM2_RC_HANDLE:
        return "there is no object at that handle in this TPM";
    case TPM2_RC_ATTRIBUTES:
    case TPM2_RC_KEY:
        return "the key's attributes do not allow this operation (a restricted, sign-only or decrypt-only key)";
    case TPM2_RC_INTEGRITY:
        return "the key blob does not belong to this TPM's storage key (another TPM, or a cleared one)";
    case TPM2_RC_NV_SPACE:
    case TPM2_RC_NV_DEFINED:
        return "the TPM's persistent handle is taken or its memory is full: choose another handle or evict one";
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
        return "the TPM has no room for another loaded object: run a resource manager (tpm2-abrmd, /dev/tpmrm0)";
    default:
        return "";
    }
}

}  // namespace

void Session::check(TSS2_RC rc, const std::string &what) {
    if (rc == TSS2_RC_SUCCESS) return;
    std::string sentence = sentenceFor(rc);
    throw Error(reasonFor(rc), what + ": " + (sentence.empty() ? "" : sentence + " ") + "(" + Tss2_RC_Decode(rc) + ")");
}

void Session::refuseLastTries(const std::string &key) {
    TPMS_CAPABILITY_DATA *cap = nullptr;
    TPMI_YES_NO more = TPM2_NO;
    // TPM2_PT_LOCKOUT_COUNTER, MAX_AUTH_FAIL, LOCKOUT_INTERVAL, LOCKOUT_RECOVERY: consecutive.
    check(Esys_GetCapability(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                             TPM2_PT_LOCKOUT_COUNTER, 4, &more, &cap),
          "reading the TPM's dictionary-attack counter");
    uint32_t counter = 0, max = 0, recovery = 0;
    for (UINT32 i = 0; i < cap->data.tpmProperties.count; i++) {
        const TPMS_TAGGED_PROPERTY &p = cap->data.tpmProperties.tpmProperty[i];
        if (p.property == TPM2_PT_LOCKOUT_COUNTER) counter = p.value;
        if (p.property == TPM2_PT_MAX_AUTH_FAIL) max = p.value;
        if (p.property == TPM2_PT_LOCKOUT_INTERVAL) recovery = p.value;
    }
    Esys_Free(cap);
    if (max == 0) return;
    std::string where = " (the TPM's counter of wrong authorization values is at " + std::to_string(counter) + " of " +
                        std::to_string(max) + "; one is forgotten every " + std::to_string(recovery) + " s)";
    if (counter >= max)
        throw Error(Reason::PinLocked, "the TPM is in dictionary-attack lockout: " + key +
                                           " has an authorization value and cannot be used until the TPM recovers, "
                                           "or tpm2_dictionarylockout --clear-lockout is run with the lockout "
                                           "authorization" + where);
    if (max - counter <= 1)
        throw Error(Reason::PinLocked, "secsf will not try an authorization value that has not worked yet on " + key +
                                           ": one more wrong one would lock out every key with an authorization value" +
                                           where + "; check its pin-source or pin-value first");
}

namespace {
// Serialised ESYS_TR metadata per (TCTI, handle): plain bytes, valid across fork().
std::map<std::pair<std::string, uint32_t>, std::vector<uint8_t>> &gTrCache =
    *new std::map<std::pair<std::string, uint32_t>, std::vector<uint8_t>>;
}  // namespace

ESYS_TR Session::persistent(uint32_t handle, const std::string &what) {
    auto key = std::make_pair(cfg_.tcti, handle);
    {
        std::lock_guard<std::mutex> lk(gTrMu);
        auto it = gTrCache.find(key);
        ESYS_TR tr = ESYS_TR_NONE;
        if (it != gTrCache.end() &&
            Esys_TR_Deserialize(esys_, it->second.data(), it->second.size(), &tr) == TSS2_RC_SUCCESS)
            return tr;
    }
    ESYS_TR tr = ESYS_TR_NONE;
    check(Esys_TR_FromTPMPublic(esys_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr), what);
    uint8_t *buf = nullptr;
    size_t len = 0;
    if (Esys_TR_Serialize(esys_, tr, &buf, &len) == TSS2_RC_SUCCESS) {
        std::lock_guard<std::mutex> lk(gTrMu);
        gTrCache[key].assign(buf, buf + len);
    }
    free(buf);
    return tr;
}

void forgetPersistent(const std::string &tcti, uint32_t handle) {
    std::lock_guard<std::mutex> lk(gTrMu);
    gTrCache.erase(std::make_pair(tcti, handle));
}

ESYS_TR Session::parent() {
    ESYS_TR p = ESYS_TR_NONE;
    TSS2_RC rc = TSS2_RC_SUCCESS;
    try {
        return persistent(cfg_.parentHandle, "finding the storage primary key");
    } catch (const Error &) {
        // not there yet: made below
    }
    // No storage key yet: the standard ECC P-256 SRK, persisted for every later use.
    if (!cfg_.ownerAuthSource.empty()) {
        SecureString a = p11::PinSource::fromSource(cfg_.ownerAuthSource).read();
        TPM2B_AUTH auth{};
        if (a.str().size() > sizeof auth.buffer) throw Error(Reason::Config, "owner auth too long");
        auth.size = (UINT16)a.str().size();
        memcpy(auth.buffer, a.str().data(), auth.size);
        check(Esys_TR_SetAuth(esys_, ESYS_TR_RH_OWNER, &auth), "setting the owner authorization");
    }
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_PUBLIC pub{};
    pub.publicArea.type = TPM2_ALG_ECC;
    pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                      TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                      TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                                      TPMA_OBJECT_NODA;
    auto &ecc = pub.publicArea.parameters.eccDetail;
    ecc.symmetric.algorithm = TPM2_ALG_AES;
    ecc.symmetric.keyBits.aes = 128;
    ecc.symmetric.mode.aes = TPM2_ALG_CFB;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = TPM2_ECC_NIST_P256;
    ecc.kdf.scheme = TPM2_ALG_NULL;
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR primary = ESYS_TR_NONE;
    check(Esys_CreatePrimary(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &sens, &pub, &outside, &pcrs, &primary, nullptr, nullptr, nullptr, nullptr),
          "creating the storage primary key");
    rc = Esys_EvictControl(esys_, ESYS_TR_RH_OWNER, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, cfg_.parentHandle, &p);
    Esys_FlushContext(esys_, primary);
    char h[16];
    snprintf(h, sizeof h, "0x%08x", cfg_.parentHandle);
    check(rc, std::string("persisting the storage primary key at ") + h);
    return p;
}

}  // namespace secsf::tpm2
