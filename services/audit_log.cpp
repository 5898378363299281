#include "audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "secsf/error.h"

namespace secsf::svc {

namespace {

const char kGenesis[] = "0000000000000000000000000000000000000000000000000000000000000000";

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
    return sha256Hex(r.dump());
}

}  // namespace

AuditLog::AuditLog(std::string path, JoseKey signer, int checkpointEvery, Clock clock)
    : path_(std::move(path)), signer_(std::move(signer)), every_(checkpointEvery), clock_(std::move(clock)) {
    head_ = kGenesis;
    // Find where the last complete record ends; a partial last line is dropped.
    std::ifstream in(path_, std::ios::binary);
    std::string line;
    off_t good = 0, offset = 0;
    while (std::getline(in, line)) {
        off_t next = offset + (off_t)line.size() + 1;
        if (in.eof()) break;  // no newline: cut short by a crash
        Json r = Json::parse(line, nullptr, false);
        if (!r.is_object() || !r.contains("hash") || !r.contains("seq")) break;
        head_ = r["hash"].get<std::string>();
        seq_ = r["seq"].get<long>();
        sinceCheckpoint_ = r.value("kind", "") == "checkpoint" ? 0 : sinceCheckpoint_ + 1;
        good = next;
        offset = next;
    }
    in.close();
    fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) throw Error(Reason::Config, "cannot open the audit log " + path_);
    if (ftruncate(fd_, good) != 0) throw Error(Reason::DeviceError, "cannot repair the end of the audit log " + path_);
}

AuditLog::~AuditLog() {
    if (fd_ >= 0) close(fd_);
}

void AuditLog::write(Json r) {
    r["seq"] = ++seq_;
    r["time"] = clock_();
    r["prev"] = head_;
    r["hash"] = recordHash(r);
    std::string line = r.dump() + "\n";
    const char *p = line.data();
    size_t left = line.size();
    while (left) {
        ssize_t n = ::write(fd_, p, left);
        if (n <= 0) throw Error(Reason::DeviceError, "writing the audit log " + path_ + " failed");
        p += n;
        left -= (size_t)n;
    }
    if (fdatasync(fd_) != 0) throw Error(Reason::DeviceError, "the audit log " + path_ + " did not reach the disk");
    head_ = r["hash"];
}

void AuditLog::append(const AuditEntry &e) {
    std::string digest = sha256Hex(std::string(e.message.begin(), e.message.end()));
    write({{"kind", "record"}, {"direction", e.direction}, {"peer", e.peer}, {"type", e.type}, {"digest", digest},
           {"outcome", e.outcome}});
    if (++sinceCheckpoint_ >= every_) checkpoint();
}

void AuditLog::checkpoint() {
    std::string head = head_;
    long upTo = seq_;
    std::string sig = jwsSign(signer_, Json{{"head", head}, {"upTo", upTo}});
    write({{"kind", "checkpoint"}, {"signed", sig}});
    sinceCheckpoint_ = 0;
}

AuditVerdict AuditLog::verify(const std::string &path, const JoseKey &verifier) {
    AuditVerdict v;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        v.why = "cannot read " + path;
        return v;
    }
    std::string line, prev = kGenesis;
    long lineNo = 0;
    auto bad = [&](const std::string &why) {
        v.firstBadRecord = lineNo;
        v.why = "record " + std::to_string(lineNo) + ": " + why;
        return v;
    };
    while (std::getline(in, line)) {
        lineNo++;
        Json r = Json::parse(line, nullptr, false);
        if (!r.is_object() || !r.contains("hash") || !r.contains("prev") || !r.contains("seq") || !r["seq"].is_number_integer())
            return bad("not a record");
        if (r["seq"].get<long>() != lineNo) return bad("out of sequence (a record was removed or inserted)");
        if (r["prev"] != prev) return bad("does not follow the record before it");
        if (recordHash(r) != r["hash"]) return bad("altered (its hash does not match)");
        if (r.value("kind", "") == "checkpoint") {
            try {
                Jws j = jwsVerify(r.value("signed", ""), verifier);
                Json c = Json::parse(j.payload.begin(), j.payload.end(), nullptr, false);
                if (!c.is_object() || c.value("head", "") != prev || c.value("upTo", -1L) != lineNo - 1)
                    return bad("a checkpoint that signs another chain");
            } catch (const Error &) {
                return bad("a checkpoint whose signature does not verify");
            }
            v.checkpoints++;
            v.afterLastCheckpoint = 0;
        } else {
            v.records++;
            v.afterLastCheckpoint++;
        }
        prev = r["hash"];
    }
    v.intact = true;
    return v;
}

}  // namespace secsf::svc
