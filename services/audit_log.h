// Accountability (seed 001, 7.7): an audit log of incoming and outgoing messages,
// append-only and tamper-evident. Each record is one JSON line holding the hash of
// the record before it (a hash chain); every `checkpointEvery` records, and on
// demand, a checkpoint signs the chain head with an SE key. A record is written and
// fsync'ed before append() returns, so an acknowledged record survives a crash; a
// line cut short by a crash is dropped when the log is opened again (it was never
// acknowledged). The verifier names the first record that does not fit.
#pragma once
#include <string>

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
    AuditLog(std::string path, JoseKey signer, int checkpointEvery = 100, Clock clock = systemClock());
    ~AuditLog();
    AuditLog(const AuditLog &) = delete;
    // Durable when it returns. Throws Error(DeviceError) when the disk refuses.
    void append(const AuditEntry &e);
    // Signs the chain head now (also done every checkpointEvery records).
    void checkpoint();
    long records() const { return seq_; }

    // Checks a log file: the chain, each record's own hash, the checkpoints'
    // signatures under `verifier` (a public key), and that it ends on a checkpoint
    // or after one (records after the last checkpoint are reported, not failed).
    static AuditVerdict verify(const std::string &path, const JoseKey &verifier);

private:
    void write(Json record);
    std::string path_;
    JoseKey signer_;
    int every_;
    Clock clock_;
    int fd_ = -1;
    long seq_ = 0, sinceCheckpoint_ = 0;
    std::string head_;  // hash of the last record, hex
};

}  // namespace secsf::svc
