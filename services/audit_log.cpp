#include "audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "secsf/error.h"

namespace secsf::svc {

namespace {

const char kGenesis[] = "0000000000000000000000000000000000000000000000000000000000000000";
constexpr size_t kMaxLine = 1 << 20;  // far above any record; bounds what a hostile file costs

std::string sha256Hex(const std::string &s) {
    unsigned char d[32];
    unsigned n = 0;
    EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
    static const char x[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : d) out += x[c >> 4], out += x[c & 15];
    return out;
}

// The hash a record carries: over its canonical form without the "hash" member.
std::string recordHash(Json r) {
    r.erase("hash");
    return sha256Hex(dumpJson(r));
}

bool isString(const Json &r, const char *name) { return r.contains(name) && r[name].is_string(); }

// Whether line `lineNo` is a record that follows `prev`; why not, if it is not.
// Signatures are the verifier's business; this is what a writer must know to go on.
bool follows(const Json &r, long lineNo, const std::string &prev, std::string &why) {
    if (!r.is_object() || !isString(r, "hash") || !isString(r, "prev") || !r.contains("seq") ||
        !r["seq"].is_number_integer() || (r.contains("kind") && !r["kind"].is_string()))
        why = "not a record";
    else if (r["seq"].get<long>() != lineNo)
        why = "out of sequence (a record was removed or inserted)";
    else if (r["prev"].get<std::string>() != prev)
        why = "does not follow the record before it";
    else if (recordHash(r) != r["hash"].get<std::string>())
        why = "altered (its hash does not match)";
    else
        return true;
    return false;
}

std::string kindOf(const Json &r) { return r.contains("kind") ? r["kind"].get<std::string>() : ""; }

// Calls fn(line, terminated) for each line of the open file, from its start. A line
// longer than kMaxLine is handed over cut at that length, as not a record.
void eachLine(int fd, const std::function<bool(const std::string &, bool)> &fn) {
    std::string line;
    char buf[65536];
    off_t at = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(Reason::DeviceError, std::string("reading the audit log failed: ") + strerror(errno));
        if (n == 0) break;
        at += n;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                if (!fn(line, true)) return;
                line.clear();
            } else if (line.size() < kMaxLine) {
                line += buf[i];
            }
        }
    }
    if (!line.empty()) fn(line, false);
}

int openRegular(const std::string &path, int flags) {
    int fd = open(path.c_str(), flags | O_CLOEXEC | O_NONBLOCK, 0600);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

}  // namespace

AuditLog::AuditLog(std::string path, JoseKey signer, int checkpointEvery, Clock clock)
    : path_(std::move(path)), signer_(std::move(signer)), every_(checkpointEvery), clock_(std::move(clock)),
      pid_(getpid()) {
    head_ = kGenesis;
    fd_ = openRegular(path_, O_RDWR | O_CREAT | O_APPEND);
    if (fd_ < 0) throw Error(Reason::Config, "cannot open the audit log " + path_ + " (a regular file)");
    // One writer per file: a second one (another process, or another AuditLog here)
    // would write records that do not follow each other.
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        close(fd_);
        throw Error(Reason::Config, "the audit log " + path_ + " is already open for writing (one writer per log)");
    }
    try {
        // Every complete line must be a record that follows the one before; only an
        // unterminated last line, cut short by a crash and never acknowledged, is dropped.
        std::string why;
        eachLine(fd_, [&](const std::string &line, bool terminated) {
            if (!terminated) return false;
            Json r = parseJson(line);
            if (!follows(r, seq_ + 1, head_, why)) {
                why = "record " + std::to_string(seq_ + 1) + ": " + why;
                return false;
            }
            head_ = r["hash"].get<std::string>();
            seq_++;
            sinceCheckpoint_ = kindOf(r) == "checkpoint" ? 0 : sinceCheckpoint_ + 1;
            good_ += (off_t)line.size() + 1;
            return true;
        });
        if (!why.empty())
            throw Error(Reason::DeviceError, "the audit log " + path_ + " is damaged at " + why +
                                                 "; it is left as it is, as evidence: check it with the verifier, "
                                                 "move it aside and start a new log");
        if (ftruncate(fd_, good_) != 0) throw Error(Reason::DeviceError, "cannot drop the torn end of the audit log " + path_);
    } catch (...) {
        close(fd_);
        throw;
    }
}

AuditLog::~AuditLog() {
    if (fd_ >= 0) close(fd_);
}

long AuditLog::records() const {
    std::lock_guard<std::mutex> g(mu_);
    return seq_;
}

// Back to the end of the last acknowledged record; until that works, nothing is appended.
bool AuditLog::rollBack() {
    torn_ = !(ftruncate(fd_, good_) == 0 && fdatasync(fd_) == 0);
    return !torn_;
}

struct AuditLog::Waiting {
    Json record;
    bool done = false;
    std::string error;  // why it is not in the log, when it is not
};

void AuditLog::writeRecords(std::unique_lock<std::mutex> &lk, std::vector<Json> records, bool forceCheckpoint) {
    if (getpid() != pid_)
        throw Error(Reason::DeviceError, "the audit log " + path_ + " was opened before a fork: open it in this process");
    if (torn_ && !rollBack())
        throw Error(Reason::DeviceError, "the audit log " + path_ + " still ends in a failed write that cannot be removed");
    long seq = seq_, since = sinceCheckpoint_;
    std::string head = head_, lines;
    auto chain = [&](Json r) {
        r["seq"] = ++seq;
        r["time"] = clock_();
        r["prev"] = head;
        head = recordHash(r);
        r["hash"] = head;
        lines += dumpJson(r) + "\n";
    };
    // A checkpoint signs the head it follows; it is written with the records before it.
    auto checkpoint = [&] {
        chain(Json{{"kind", "checkpoint"}, {"signed", jwsSign(signer_, Json{{"head", head}, {"upTo", seq}})}});
        since = 0;
    };
    for (Json &r : records) {
        chain(std::move(r));
        // A checkpoint that cannot be signed now is tried again after the next record.
        if (++since >= every_) try {
                checkpoint();
            } catch (const Error &) {
            }
    }
    if (forceCheckpoint) checkpoint();
    lk.unlock();
    const char *p = lines.data();
    size_t left = lines.size();
    const char *failed = nullptr;
    int err = 0;
    while (left && !failed) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            err = n < 0 ? errno : ENOSPC;
            failed = "writing";
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!failed && fdatasync(fd_) != 0) {
        err = errno;
        failed = "flushing";
    }
    bool clean = !failed || rollBack();
    lk.lock();
    if (failed)
        throw Error(Reason::DeviceError, std::string(failed) + " the audit log " + path_ + " failed (" + strerror(err) +
                                             "): the record was not logged" +
                                             (clean ? "" : ", and the part written could not be removed yet"));
    good_ += (off_t)lines.size();
    seq_ = seq;
    head_ = head;
    sinceCheckpoint_ = since;
}

void AuditLog::append(const AuditEntry &e) {
    auto me = std::make_shared<Waiting>();
    me->record = {{"kind", "record"}, {"direction", e.direction}, {"peer", e.peer}, {"type", e.type},
                  {"digest", sha256Hex(std::string(e.message.begin(), e.message.end()))}, {"outcome", e.outcome}};
    std::unique_lock<std::mutex> lk(mu_);
    queue_.push_back(me);
    while (!me->done) {
        if (writing_) {
            written_.wait(lk);
            continue;
        }
        writing_ = true;
        std::vector<std::shared_ptr<Waiting>> batch;
        batch.swap(queue_);
        std::vector<Json> records;
        for (auto &w : batch) records.push_back(std::move(w->record));
        std::string error;
        try {
            writeRecords(lk, std::move(records), false);
        } catch (const Error &x) {
            error = x.what();
        }
        for (auto &w : batch) {
            w->done = true;
            w->error = error;
        }
        writing_ = false;
        written_.notify_all();
    }
    if (!me->error.empty()) throw Error(Reason::DeviceError, me->error);
}

void AuditLog::checkpoint() {
    std::unique_lock<std::mutex> lk(mu_);
    written_.wait(lk, [this] { return !writing_; });
    writing_ = true;
    try {
        writeRecords(lk, {}, true);
    } catch (...) {
        writing_ = false;
        written_.notify_all();
        throw;
    }
    writing_ = false;
    written_.notify_all();
}

AuditVerdict AuditLog::verify(const std::string &path, const JoseKey &verifier) {
    AuditVerdict v;
    int fd = openRegular(path, O_RDONLY);
    if (fd < 0) {
        v.why = "cannot read " + path + " (a regular file)";
        return v;
    }
    std::string prev = kGenesis;
    long lineNo = 0;
    bool bad = false;
    auto fail = [&](const std::string &why) {
        v.firstBadRecord = lineNo;
        v.why = "record " + std::to_string(lineNo) + ": " + why;
        bad = true;
        return false;
    };
    try {
        eachLine(fd, [&](const std::string &line, bool terminated) {
            lineNo++;
            if (!terminated) return fail("cut short (no end of line)");
            Json r = parseJson(line);
            std::string why;
            if (!follows(r, lineNo, prev, why)) return fail(why);
            if (kindOf(r) == "checkpoint") {
                if (!isString(r, "signed")) return fail("a checkpoint without a signature");
                try {
                    Jws j = jwsVerify(r["signed"].get<std::string>(), verifier);
                    Json c = parseJson(j.payload);
                    if (!c.is_object() || !isString(c, "head") || c["head"].get<std::string>() != prev ||
                        !c.contains("upTo") || !c["upTo"].is_number_integer() || c["upTo"].get<long>() != lineNo - 1)
                        return fail("a checkpoint that signs another chain");
                } catch (const Error &) {
                    return fail("a checkpoint whose signature does not verify");
                }
                v.checkpoints++;
                v.afterLastCheckpoint = 0;
            } else {
                v.records++;
                v.afterLastCheckpoint++;
            }
            prev = r["hash"].get<std::string>();
            return true;
        });
    } catch (const Error &e) {
        fail(e.what());
    }
    close(fd);
    v.intact = !bad;
    return v;
}

}  // namespace secsf::svc
