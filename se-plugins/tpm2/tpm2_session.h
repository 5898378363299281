// One conversation with the TPM: a lock shared by the threads and the processes (a
// record lock on a file no one else can plant or redirect, waited on for a bounded
// time, never inherited by a forked child, whose fork() waits for a conversation in
// progress to end), a TCTI connection and an
// ESYS context, opened for one operation and closed after it. Nothing is shared
// between threads or across fork(), so ESYS is never called "in bad sequence";
// a swtpm socket (one client at a time) and /dev/tpmrm0 both work; and transient
// objects are flushed before the connection closes, so none are left behind.
#pragma once
#include <tss2/tss2_esys.h>

#include <string>
#include <vector>

namespace secsf::tpm2 {

struct Config {
    std::string name = "tpm2";
    std::string tcti;            // "device:/dev/tpmrm0", "swtpm:path=/run/swtpm.sock", "tabrmd"
    uint32_t parentHandle = 0x81000001;  // the storage primary key, created if absent
    std::string ownerAuthSource;          // owner hierarchy auth, if set (pin-source form)
    std::string lockFile;                 // default: per TCTI, in a directory only we can write
    int lockTimeout = 60;                 // seconds to wait for another process's TPM operation
    std::string storageDir;               // sealed objects of the secure storage
    std::vector<std::string> authSources; // key authorization sources key files may name
    int securityLevel = 2;
};

// Drops the cached metadata of a persistent handle (the object there changed).
void forgetPersistent(const std::string &tcti, uint32_t handle);

class Session {
public:
    explicit Session(const Config &cfg);
    ~Session();
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    ESYS_CONTEXT *esys() { return esys_; }
    // Throws Error with what we were doing, a sentence saying what to do where the
    // code is a common one, and the TPM's own words (Tss2_RC_Decode).
    void check(TSS2_RC rc, const std::string &what);
    // The storage primary key at cfg.parentHandle (made and persisted once if absent).
    ESYS_TR parent();
    // An ESYS_TR for a persistent handle. The first time it asks the TPM (ReadPublic);
    // after that it rebuilds the object from its serialised form, without a command.
    ESYS_TR persistent(uint32_t handle, const std::string &what);
    // A transient object flushed when the session ends.
    void flushLater(ESYS_TR h) { transient_ = h; }
    // Before an authorization value that has not worked yet is tried on a key under
    // dictionary-attack protection: throws Error(PinLocked) with a sentence when the
    // TPM is in lockout, or when one more wrong value would put it there (secsf does
    // not spend the last try, as with a card's PIN). `key` names it in the sentence.
    void refuseLastTries(const std::string &key);

private:
    const Config &cfg_;
    int lockFd_ = -1;
    TSS2_TCTI_CONTEXT *tcti_ = nullptr;
    ESYS_CONTEXT *esys_ = nullptr;
    ESYS_TR transient_ = ESYS_TR_NONE;
};

}  // namespace secsf::tpm2
