// Services II, first part: replay protection (timestamp window with a bounded cache;
// sequence-number sliding window), integrity check values (HMAC and SE signatures),
// and the tamper-evident audit log with checkpoints signed by a token key.
#include <cppunit/extensions/HelperMacros.h>

#include <signal.h>
#include <sys/resource.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <thread>

#include "../../services/audit_log.h"
#include "../../services/integrity.h"
#include "../../services/plausibility.h"
#include "../../services/replay.h"
#include "fixture.h"
#include "service_fixture.h"
#include "secsf/error.h"

using namespace testfix;
using namespace secsf::svc;

namespace {

JoseKey auditKey() { return seKey("audit-key"); }

std::string readAll(const std::string &p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}
void writeAll(const std::string &p, const std::string &s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

std::vector<std::string> lines(const std::string &s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1) out.push_back(s.substr(start, nl - start));
    return out;
}
std::string join(const std::vector<std::string> &l) {
    std::string s;
    for (auto &x : l) s += x + "\n";
    return s;
}

// A record as an editor with no key could rewrite it: its own hash made to fit.
std::string rehashed(Json r) {
    r.erase("hash");
    std::string canon = r.dump();
    unsigned char d[32];
    unsigned n;
    EVP_Digest(canon.data(), canon.size(), d, &n, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned char c : d) {
        char b[3];
        snprintf(b, sizeof b, "%02x", c);
        hex += b;
    }
    r["hash"] = hex;
    return r.dump();
}

// Writes fail past `limit` bytes of any file this process writes (EFBIG, as on a full
// disk), until the returned guard goes.
struct FileSizeLimit {
    rlimit old{};
    explicit FileSizeLimit(rlim_t limit) {
        signal(SIGXFSZ, SIG_IGN);
        getrlimit(RLIMIT_FSIZE, &old);
        rlimit l = old;
        l.rlim_cur = limit;
        setrlimit(RLIMIT_FSIZE, &l);
    }
    ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &old); }
};

AuditEntry entry(int i) {
    return {i % 2 ? "in" : "out", "CSE-" + std::to_string(i), "SecureMessage", Bytes(10, (unsigned char)i), "accepted"};
}

}  // namespace

class AccountabilityTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AccountabilityTest);
    CPPUNIT_TEST(timestampWindowAndCache);
    CPPUNIT_TEST(timestampCacheIsBoundedWithoutLettingReplaysThrough);
    CPPUNIT_TEST(sequenceWindowAcceptsReorderingOnly);
    CPPUNIT_TEST(onePeerFillingItsCacheLeavesTheOthersAlone);
    CPPUNIT_TEST(checkValueWithHmacAndSeSignature);
    CPPUNIT_TEST(auditLogVerifiesAndNamesTheAlteredRecord);
    CPPUNIT_TEST(auditLogSurvivesACrashMidRecord);
    CPPUNIT_TEST(auditLogRefusesForeignCheckpoints);
    CPPUNIT_TEST(auditLogKeepsEveryAcknowledgedRecordAfterAFailedWrite);
    CPPUNIT_TEST(auditLogRefusesToOpenOverDamageAndLeavesItAlone);
    CPPUNIT_TEST(auditLogTakesManyThreadsAndRefusesASecondWriter);
    CPPUNIT_TEST(auditVerifierGivesAVerdictOnAnyEditedRecord);
    CPPUNIT_TEST(plausibilityOfPositionTimeAndSpeed);
    CPPUNIT_TEST_SUITE_END();

public:
    void timestampWindowAndCache() {
        TimestampReplayGuard g(300, 1000, testClock());
        CPPUNIT_ASSERT(g.check("m1", gNow) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.check("m1", gNow) == Freshness::Replayed);
        CPPUNIT_ASSERT(g.check("m2", gNow - 301) == Freshness::Stale);
        CPPUNIT_ASSERT(g.check("m3", gNow + 301) == Freshness::Future);
        CPPUNIT_ASSERT(g.check("m4", gNow - 200) == Freshness::Fresh);  // late but inside the window
        gNow += 400;  // m1 has left the window: it is stale now, not fresh again
        CPPUNIT_ASSERT(g.check("m1", gNow - 400) == Freshness::Stale);
        CPPUNIT_ASSERT(std::string("replayed") == freshnessText(Freshness::Replayed));
    }
    void timestampCacheIsBoundedWithoutLettingReplaysThrough() {
        TimestampReplayGuard g(300, 100, testClock());
        for (int i = 0; i < 1000; i++) CPPUNIT_ASSERT(g.check("id" + std::to_string(i), gNow - 250 + i / 4) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.size() <= 100);
        // Everything the cache forgot is refused as stale, never accepted twice.
        for (int i = 0; i < 1000; i++) CPPUNIT_ASSERT(g.check("id" + std::to_string(i), gNow - 250 + i / 4) != Freshness::Fresh);
    }
    void onePeerFillingItsCacheLeavesTheOthersAlone() {
        PeerReplayGuard g(300, 10, 3, testClock());
        for (int i = 0; i < 50; i++) g.check("mallory", "m" + std::to_string(i), gNow + 299);  // dated ahead
        CPPUNIT_ASSERT(g.check("mallory", "late", gNow) != Freshness::Fresh);  // mallory's floor rose
        CPPUNIT_ASSERT(g.check("alice", "a1", gNow) == Freshness::Fresh);      // nobody else's
        CPPUNIT_ASSERT(g.check("alice", "a1", gNow) == Freshness::Replayed);
        CPPUNIT_ASSERT(g.check("bob", "a1", gNow) == Freshness::Fresh);        // ids are per peer
        CPPUNIT_ASSERT(g.check("carol", "c1", gNow) == Freshness::Stale);      // three peers at most
        gNow += 700;  // everything has left the window: idle peers make room
        CPPUNIT_ASSERT(g.check("carol", "c1", gNow) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.peers() <= 3);
        gNow -= 700;
    }
    void sequenceWindowAcceptsReorderingOnly() {
        SequenceReplayGuard g(64);
        CPPUNIT_ASSERT(g.check(1) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.check(3) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.check(2) == Freshness::Fresh);     // reordered inside the window
        CPPUNIT_ASSERT(g.check(2) == Freshness::Replayed);
        CPPUNIT_ASSERT(g.check(100) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.check(36) == Freshness::Stale);    // 64 behind the highest
        CPPUNIT_ASSERT(g.check(37) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.check(37) == Freshness::Replayed);
        CPPUNIT_ASSERT(g.check(100) == Freshness::Replayed);
        CPPUNIT_ASSERT(g.check(0) == Freshness::Stale);
        CPPUNIT_ASSERT(g.check(100000) == Freshness::Fresh);  // a jump clears the window
        CPPUNIT_ASSERT(g.check(99999) == Freshness::Fresh);
        CPPUNIT_ASSERT(g.check(100) == Freshness::Stale);
        SequenceReplayGuard sender;
        CPPUNIT_ASSERT_EQUAL((uint64_t)1, sender.next());
        CPPUNIT_ASSERT_EQUAL((uint64_t)2, sender.next());
    }
    void checkValueWithHmacAndSeSignature() {
        Json m = {{"to", "/CSE-in"}, {"op", "update"}, {"content", {{"temp", 21.5}}}, {"ts", gNow}};
        for (const JoseKey &k : {JoseKey::fromSecret(secsf::SecureBytes(32, 7)), auditKey()}) {
            Json signed_ = insertCheckValue(k, m);
            validateCheckValue(k.publicKey(), signed_);
            // Every member altered, one at a time, is caught.
            for (auto &[name, value] : m.items()) {
                Json t = signed_;
                t[name] = name == "content" ? Json{{"temp", 99}} : Json("x");
                CPPUNIT_ASSERT_THROW(validateCheckValue(k.publicKey(), t), secsf::Error);
            }
            Json extra = signed_;
            extra["added"] = 1;
            CPPUNIT_ASSERT_THROW(validateCheckValue(k.publicKey(), extra), secsf::Error);
            Json none = signed_;
            none.erase("cv");
            CPPUNIT_ASSERT_THROW(validateCheckValue(k.publicKey(), none), secsf::Error);
        }
        // The member order does not matter: canonical form.
        Json reordered = Json::parse(R"({"ts":)" + std::to_string(gNow) + R"(,"op":"update","to":"/CSE-in","content":{"temp":21.5}})");
        reordered["cv"] = calculateCheckValue(auditKey(), m);
        validateCheckValue(auditKey().publicKey(), reordered);
    }
    void auditLogVerifiesAndNamesTheAlteredRecord() {
        std::string path = workDir() + "/audit1.log";
        {
            AuditLog log(path, auditKey(), 4, testClock());
            for (int i = 1; i <= 10; i++) log.append(entry(i));
            log.checkpoint();
        }
        JoseKey pub = auditKey().publicKey();
        AuditVerdict v = AuditLog::verify(path, pub);
        CPPUNIT_ASSERT_MESSAGE(v.why, v.intact);
        CPPUNIT_ASSERT_EQUAL(10L, v.records);
        CPPUNIT_ASSERT_EQUAL(3L, v.checkpoints);  // after 4, 8 and the explicit one
        CPPUNIT_ASSERT_EQUAL(0L, v.afterLastCheckpoint);
        auto original = lines(readAll(path));
        // One character of record 3 changed.
        auto altered = original;
        size_t at = altered[2].find("CSE-");
        altered[2][at + 4] = '9';
        writeAll(workDir() + "/audit-altered.log", join(altered));
        v = AuditLog::verify(workDir() + "/audit-altered.log", pub);
        CPPUNIT_ASSERT(!v.intact);
        CPPUNIT_ASSERT_EQUAL(3L, v.firstBadRecord);
        // A record removed.
        auto removed = original;
        removed.erase(removed.begin() + 6);
        writeAll(workDir() + "/audit-removed.log", join(removed));
        v = AuditLog::verify(workDir() + "/audit-removed.log", pub);
        CPPUNIT_ASSERT(!v.intact);
        CPPUNIT_ASSERT_EQUAL(7L, v.firstBadRecord);
        // A record rewritten with a consistent hash: the next record no longer follows.
        auto rewritten = original;
        Json r = Json::parse(rewritten[4]);
        r["outcome"] = "rejected";
        rewritten[4] = rehashed(r);
        writeAll(workDir() + "/audit-rewritten.log", join(rewritten));
        v = AuditLog::verify(workDir() + "/audit-rewritten.log", pub);
        CPPUNIT_ASSERT(!v.intact);
        CPPUNIT_ASSERT_EQUAL(6L, v.firstBadRecord);
    }
    void auditLogSurvivesACrashMidRecord() {
        std::string path = workDir() + "/audit2.log";
        {
            AuditLog log(path, auditKey(), 100, testClock());
            for (int i = 1; i <= 5; i++) log.append(entry(i));
        }
        // The process died while writing record 6: half a line, no newline.
        std::string s = readAll(path);
        std::string half = lines(s)[4].substr(0, 40);
        writeAll(path, s + half);
        {
            AuditLog log(path, auditKey(), 100, testClock());
            CPPUNIT_ASSERT_EQUAL(5L, log.records());  // the torn record was never acknowledged
            log.append(entry(6));
            log.checkpoint();
        }
        AuditVerdict v = AuditLog::verify(path, auditKey().publicKey());
        CPPUNIT_ASSERT_MESSAGE(v.why, v.intact);
        CPPUNIT_ASSERT_EQUAL(6L, v.records);
    }
    void auditLogRefusesForeignCheckpoints() {
        std::string path = workDir() + "/audit3.log";
        EVP_PKEY *other = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
        JoseKey otherKey = JoseKey::fromPkey(other);
        EVP_PKEY_free(other);
        {
            AuditLog log(path, otherKey, 3, testClock());  // signed by a key that is not the auditor's
            for (int i = 1; i <= 3; i++) log.append(entry(i));
        }
        AuditVerdict v = AuditLog::verify(path, auditKey().publicKey());
        CPPUNIT_ASSERT(!v.intact);
        CPPUNIT_ASSERT_EQUAL(4L, v.firstBadRecord);
    }
    // Issue 16 item 4a: a write that fails part-way (a full disk) leaves no torn line
    // for the next open to "repair" together with the records acknowledged after it.
    void auditLogKeepsEveryAcknowledgedRecordAfterAFailedWrite() {
        std::string path = workDir() + "/audit-full.log";
        unlink(path.c_str());
        {
            AuditLog log(path, auditKey(), 100, testClock());
            for (int i = 1; i <= 3; i++) log.append(entry(i));
            {
                FileSizeLimit full(readAll(path).size() + 40);  // room for 40 bytes of the next line
                CPPUNIT_ASSERT_THROW(log.append(entry(4)), secsf::Error);
                CPPUNIT_ASSERT_THROW(log.append(entry(4)), secsf::Error);  // still full
            }
            CPPUNIT_ASSERT_EQUAL(3L, log.records());
            log.append(entry(5));  // acknowledged
            log.append(entry(6));  // acknowledged
            CPPUNIT_ASSERT_EQUAL(5L, log.records());
        }
        AuditLog again(path, auditKey(), 100, testClock());
        CPPUNIT_ASSERT_EQUAL(5L, again.records());
        AuditVerdict v = AuditLog::verify(path, auditKey().publicKey());
        CPPUNIT_ASSERT_MESSAGE(v.why, v.intact);
        CPPUNIT_ASSERT_EQUAL(5L, v.records);
        CPPUNIT_ASSERT(readAll(path).find("CSE-6") != std::string::npos);
    }
    // 4b: damage inside the log is evidence: the log is not opened, and not changed.
    void auditLogRefusesToOpenOverDamageAndLeavesItAlone() {
        std::string path = workDir() + "/audit-damaged.log";
        unlink(path.c_str());
        {
            AuditLog log(path, auditKey(), 100, testClock());
            for (int i = 1; i <= 6; i++) log.append(entry(i));
        }
        auto original = lines(readAll(path));
        std::vector<std::pair<const char *, std::vector<std::string>>> damages;
        auto oneByte = original;
        oneByte[1][oneByte[1].find("CSE-") + 4] = '7';  // still JSON, hash no longer fits
        damages.push_back({"one byte changed", oneByte});
        auto notJson = original;
        notJson[1][0] = 'x';
        damages.push_back({"not JSON", notJson});
        auto wrongType = original;
        Json r = Json::parse(wrongType[1]);
        r["seq"] = "2";
        wrongType[1] = r.dump();
        damages.push_back({"seq of the wrong type", wrongType});
        for (auto &[what, edited] : damages) {
            std::string text = join(edited) + "{\"torn";
            writeAll(path, text);
            try {
                AuditLog log(path, auditKey(), 100, testClock());
                CPPUNIT_FAIL(std::string("opened over damage: ") + what);
            } catch (const secsf::Error &e) {
                CPPUNIT_ASSERT_MESSAGE(std::string(what) + ": " + e.what(),
                                       std::string(e.what()).find("record 2") != std::string::npos);
            }
            CPPUNIT_ASSERT_MESSAGE(what, readAll(path) == text);  // nothing truncated, nothing added
        }
    }
    // 4c: one writer per log, however many threads.
    void auditLogTakesManyThreadsAndRefusesASecondWriter() {
        std::string path = workDir() + "/audit-threads.log";
        unlink(path.c_str());
        {
            AuditLog log(path, JoseKey::fromSecret(secsf::SecureBytes(32, 9)), 50, testClock());
            CPPUNIT_ASSERT_THROW(AuditLog(path, auditKey(), 100, testClock()), secsf::Error);
            std::vector<std::thread> ts;
            for (int t = 0; t < 8; t++)
                ts.emplace_back([&, t] {
                    for (int i = 0; i < 50; i++) log.append(entry(t * 100 + i));
                });
            for (auto &t : ts) t.join();
            CPPUNIT_ASSERT_EQUAL(408L, log.records());  // 400 and 8 checkpoints
        }
        AuditVerdict v = AuditLog::verify(path, JoseKey::fromSecret(secsf::SecureBytes(32, 9)));
        CPPUNIT_ASSERT_MESSAGE(v.why, v.intact);
        CPPUNIT_ASSERT_EQUAL(400L, v.records);
        AuditLog next(path, auditKey(), 100, testClock());  // closed: a new writer may open it
        CPPUNIT_ASSERT_EQUAL(408L, next.records());
    }
    // 4d: the verifier reads an attacker's file: a verdict, never an exception.
    void auditVerifierGivesAVerdictOnAnyEditedRecord() {
        std::string path = workDir() + "/audit-edit.log";
        unlink(path.c_str());
        {
            AuditLog log(path, auditKey(), 2, testClock());
            for (int i = 1; i <= 4; i++) log.append(entry(i));
        }
        auto original = lines(readAll(path));  // record, record, checkpoint, ...
        JoseKey pub = auditKey().publicKey();
        std::vector<Json> values = {Json(1), Json(-1), Json(nullptr), Json::array({1}), Json::object(), Json(true),
                                    Json(1.5), Json("x")};
        int edits = 0;
        for (size_t line = 0; line < 3; line++)
            for (const char *member : {"seq", "prev", "hash", "kind", "signed", "time", "peer"})
                for (const Json &value : values)
                    for (bool fitHash : {false, true}) {
                        auto edited = original;
                        Json r = Json::parse(edited[line]);
                        if (r.contains(member) && r[member] == value) continue;
                        r[member] = value;
                        edited[line] = fitHash ? rehashed(r) : r.dump();
                        writeAll(path, join(edited));
                        AuditVerdict v{};
                        std::string what = std::to_string(line + 1) + ": " + member + " = " + value.dump();
                        try {
                            v = AuditLog::verify(path, pub);
                        } catch (const std::exception &e) {
                            CPPUNIT_FAIL("verify threw on record " + what + ": " + e.what());
                        }
                        // Only a "hash" recomputed over the unchanged record leaves it as it was.
                        if (!(fitHash && std::string(member) == "hash")) CPPUNIT_ASSERT_MESSAGE(what, !v.intact);
                        edits++;
                    }
        // A checkpoint signed by the right key over claims of the wrong types.
        for (const Json &claims : {Json{{"head", 1}, {"upTo", "2"}}, Json::array({1}), Json{{"head", Json::array()}}}) {
            auto edited = original;
            Json r = Json::parse(edited[2]);
            r["signed"] = jwsSign(auditKey(), claims);
            edited[2] = rehashed(r);
            writeAll(path, join(edited));
            AuditVerdict v{};
            CPPUNIT_ASSERT_NO_THROW(v = AuditLog::verify(path, pub));
            CPPUNIT_ASSERT_MESSAGE(claims.dump(), !v.intact && v.firstBadRecord == 3);
        }
        CPPUNIT_ASSERT(edits > 300);
    }
    void plausibilityOfPositionTimeAndSpeed() {
        PlausibilityValidator v({70.0, 60, 3600, 4, 3}, testClock());
        auto at = [&](const char *node, double lat, double lon, int64_t dt) { return v.check({node, lat, lon, gNow + dt}); };
        CPPUNIT_ASSERT(at("car", 48.8566, 2.3522, -100).plausible);               // Paris
        CPPUNIT_ASSERT(at("car", 48.8600, 2.3600, -50).plausible);                // ~700 m in 50 s
        Plausibility jump = at("car", 51.5074, -0.1278, -40);                     // London 10 s later
        CPPUNIT_ASSERT(!jump.plausible);
        CPPUNIT_ASSERT_MESSAGE(jump.why, jump.why.find("m/s") != std::string::npos);
        CPPUNIT_ASSERT(!at("car", 48.8600, 2.3600, -60).plausible);               // time goes backwards
        CPPUNIT_ASSERT(!at("car", 48.8600, 2.3600, 3600).plausible);              // future
        CPPUNIT_ASSERT(!at("car", 48.8600, 2.3600, -4000).plausible);             // too old
        CPPUNIT_ASSERT(!at("car", 91, 0, 0).plausible);                           // not on Earth
        CPPUNIT_ASSERT(at("car", 48.8600, 2.3600, -30).plausible);                // standing still is fine
        for (const char *n : {"a", "b", "c", "d"}) CPPUNIT_ASSERT(at(n, 0, 0, 0).plausible);
        CPPUNIT_ASSERT_EQUAL((size_t)3, v.nodes());                               // bounded
        CPPUNIT_ASSERT(std::fabs(distanceMetres(48.8566, 2.3522, 51.5074, -0.1278) - 343500) < 2000);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AccountabilityTest);
