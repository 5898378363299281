// Accountability (seed 001, 7.7): an audit log of incoming and outgoing messages,
// append-only and tamper-evident. Each record is one JSON line holding the hash of
// the record before it (a hash chain); every `checkpointEvery` records, and on
// demand, a checkpoint signs the chain head with an SE key. A record is written and
// fsync'ed before append() returns, so an acknowledged record survives a crash. A
// write that fails (a full disk) is rolled back to the end of the last record before
// append() throws, so nothing acknowledged later can be lost with it; a line cut short
// by a crash is dropped when the log is opened again (it was never acknowledged). Any
// other damage makes the open fail and leaves the file as it is: it is evidence.
// One writer per file (an exclusive lock; threads share one AuditLog). The verifier
// names the first record that does not fit and never throws.
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock.h"
#include "jose.h"

namespace secsf::svc {

struct AuditEntry {
    std::string direction;  // "in" | "out"
    std::string peer;       // the other end (CSE-ID, AE-ID, temporary identity)
    std::string type;       // the message type
    Bytes message;          // hashed, not stored
    std::string outcome;    // accepted, rejected: <cause>, ...
};

struct AuditVerdict {
    bool intact = false;
    long firstBadRecord = -1;  // 1-based line number of the first record that does not fit
    std::string why;
    long records = 0, checkpoints = 0;
    long afterLastCheckpoint = 0;  // records only the chain vouches for (not yet signed)
};

class AuditLog {
public:
    // Opens (or creates) the log; the signer is the SE key that signs checkpoints.
    // Throws Error(Config) when another writer holds it, Error(DeviceError) naming the
    // first damaged record when it is damaged.
    AuditLog(std::string path, JoseKey signer, int checkpointEvery = 100, Clock clock = systemClock());
    ~AuditLog();
    AuditLog(const AuditLog &) = delete;
    // Durable when it returns. Throws Error(DeviceError) when the disk refuses; the
    // record is then not in the log, and the log still ends on a whole record. Records
    // appended at the same time from several threads share one fdatasync.
    void append(const AuditEntry &e);
    // Signs the chain head now (also done every checkpointEvery records).
    void checkpoint();
    long records() const;

    // Checks a log file: the chain, each record's own hash, the checkpoints'
    // signatures under `verifier` (a public key), and that it ends on a checkpoint
    // or after one (records after the last checkpoint are reported, not failed).
    static AuditVerdict verify(const std::string &path, const JoseKey &verifier);

private:
    struct Waiting;  // one append() in the queue
    // Chains the records after the head (with a checkpoint after every `every_`, and
    // one at the end when forced) and writes them with one fdatasync, with mu_
    // released while the disk works; only the one writer (writing_) calls it. Throws
    // Error(DeviceError) after rolling back to the last acknowledged record.
    void writeRecords(std::unique_lock<std::mutex> &lk, std::vector<Json> records, bool forceCheckpoint);
    bool rollBack();
    std::string path_;
    JoseKey signer_;
    int every_;
    Clock clock_;
    pid_t pid_;
    mutable std::mutex mu_;
    // Group commit: appenders queue their records; one of them at a time writes every
    // record queued so far with one fdatasync, and each learns its own outcome.
    std::condition_variable written_;
    std::vector<std::shared_ptr<Waiting>> queue_;
    bool writing_ = false;
    int fd_ = -1;
    off_t good_ = 0;     // where the last acknowledged record ends
    bool torn_ = false;  // a failed write is still to be cut off
    long seq_ = 0, sinceCheckpoint_ = 0;
    std::string head_;  // hash of the last record, hex
};

}  // namespace secsf::svc
