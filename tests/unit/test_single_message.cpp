// Services II: single-message authorization and encryption, remote transmission
// control and misbehaviour reports — keys of the nodes in token node1, state in
// SQLite; tampering, replay, staleness and the wrong signer each refused.
#include <cppunit/extensions/HelperMacros.h>

#include "../../services/access_tokens.h"
#include "../../services/jwt.h"
#include "../../services/messages.h"
#include "../../services/misbehaviour.h"
#include "../../services/single_message.h"
#include "../../services/transmission_control.h"
#include "fixture.h"
#include "service_fixture.h"
#include "secsf/error.h"

using namespace testfix;
using namespace secsf::svc;

namespace {



}  // namespace

class SingleMessageTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SingleMessageTest);
    CPPUNIT_TEST(authorizedMessageValidates);
    CPPUNIT_TEST(authorizationRefusals);
    CPPUNIT_TEST(encryptedForOneRecipient);
    CPPUNIT_TEST(transmissionControl);
    CPPUNIT_TEST(misbehaviourReportBecomesAStatusChange);
    CPPUNIT_TEST_SUITE_END();

    JoseKey mzf_ = softKey();
    std::string token(const std::string &sub, const std::string &aud) {
        return jwtIssue(mzf_, {{"jti", randomToken()}, {"iss", "mzf"}, {"sub", sub}, {"nbf", gNow}, {"exp", gNow + 600}, {"aud", aud}});
    }

public:
    void authorizedMessageValidates() {
        JoseKey sender = seKey("sm-sender");
        auto repo = openSqliteRepository(workDir() + "/sm1.db");
        LocalAuthorization authz(mzf_.publicKey(), "mzf", *repo, testClock());
        TimestampReplayGuard replay(300, 1000, testClock());
        Json m = authorizeSingleMessage(sender, {{"op", "retrieve"}, {"to", "/CSE-mn/temp"}}, token("tid-1", "CSE-mn"), testClock());
        Json claims = validateSingleMessage(m, sender.publicKey(), authz, "CSE-mn", replay);
        CPPUNIT_ASSERT_EQUAL(std::string("tid-1"), claims["sub"].get<std::string>());
    }
    void authorizationRefusals() {
        JoseKey sender = seKey("sm-sender");
        auto repo = openSqliteRepository(workDir() + "/sm2.db");
        LocalAuthorization authz(mzf_.publicKey(), "mzf", *repo, testClock());
        TimestampReplayGuard replay(300, 1000, testClock());
        Json m = authorizeSingleMessage(sender, {{"op", "update"}, {"to", "/CSE-mn/valve"}, {"value", 1}},
                                        token("tid-2", "CSE-mn"), testClock());
        auto refused = [&](const Json &msg, const JoseKey &k, const std::string &aud) {
            try {
                validateSingleMessage(msg, k, authz, aud, replay);
                return false;
            } catch (const secsf::Error &) {
                return true;
            }
        };
        Json altered = m;
        altered["value"] = 100;
        CPPUNIT_ASSERT(refused(altered, sender.publicKey(), "CSE-mn"));            // tampered
        CPPUNIT_ASSERT(refused(m, softKey(), "CSE-mn"));                            // another sender
        Json noAuthz = m;
        noAuthz.erase("authz");
        CPPUNIT_ASSERT(refused(noAuthz, sender.publicKey(), "CSE-mn"));
        Json otherToken = m;
        otherToken["authz"]["token"] = token("tid-3", "CSE-mn");                   // a token swapped in
        CPPUNIT_ASSERT(refused(otherToken, sender.publicKey(), "CSE-mn"));
        CPPUNIT_ASSERT(!refused(m, sender.publicKey(), "CSE-mn"));
        CPPUNIT_ASSERT(refused(m, sender.publicKey(), "CSE-mn"));                   // replayed
        Json forOther = authorizeSingleMessage(sender, {{"op", "x"}}, token("tid-2", "CSE-other"), testClock());
        CPPUNIT_ASSERT(refused(forOther, sender.publicKey(), "CSE-mn"));            // wrong audience
        Json old = authorizeSingleMessage(sender, {{"op", "y"}}, token("tid-2", "CSE-mn"), [] { return gNow - 1000; });
        CPPUNIT_ASSERT(refused(old, sender.publicKey(), "CSE-mn"));                 // stale
        // The subject disabled in the local status repository.
        auto mzfRepo = openSqliteRepository(workDir() + "/sm2-mzf.db");
        Mzf mzf({"mzf", mzf_, softKey(), "maf", 4, 600, 300, testClock()}, *mzfRepo);
        authz.apply(mzf.publishStatus("tid-2", "disabled"));
        Json fresh = authorizeSingleMessage(sender, {{"op", "z"}}, token("tid-2", "CSE-mn"), testClock());
        try {
            validateSingleMessage(fresh, sender.publicKey(), authz, "CSE-mn", replay);
            CPPUNIT_FAIL("a disabled subject passed");
        } catch (const Rejected &r) {
            CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthorizationDisabled), r.cause());
        }
    }
    void encryptedForOneRecipient() {
        JoseKey recipient = seKey("sm-recipient");
        TimestampReplayGuard replay(300, 1000, testClock());
        Json m = {{"op", "notify"}, {"reading", 42}};
        std::string jwe = encryptSingleMessage(recipient.publicKey(), m, testClock());
        CPPUNIT_ASSERT(jwe.find("reading") == std::string::npos);
        CPPUNIT_ASSERT_EQUAL(m, decryptSingleMessage(jwe, recipient, replay));
        CPPUNIT_ASSERT_THROW(decryptSingleMessage(jwe, recipient, replay), secsf::Error);   // replayed
        std::string other = encryptSingleMessage(recipient.publicKey(), m, testClock());
        CPPUNIT_ASSERT_THROW(decryptSingleMessage(other, softKey(), replay), secsf::Error);  // not for that key
        for (size_t i = 0; i < other.size(); i++) {
            if (other[i] == '.') continue;
            std::string t = other;
            t[i] = t[i] == 'A' ? 'B' : 'A';
            CPPUNIT_ASSERT_THROW(decryptSingleMessage(t, recipient, replay), secsf::Error);
        }
        std::string stale = encryptSingleMessage(recipient.publicKey(), m, [] { return gNow - 1000; });
        CPPUNIT_ASSERT_THROW(decryptSingleMessage(stale, recipient, replay), secsf::Error);
    }
    void transmissionControl() {
        JoseKey inCse = seKey("in-cse");
        TransmissionControl node("CSE-mn7", inCse.publicKey(), testClock());
        CPPUNIT_ASSERT(node.allowed("telemetry"));
        auto r = node.apply(transmissionCommand(inCse, "CSE-mn7", false, {"telemetry"}, 1, testClock()));
        CPPUNIT_ASSERT_MESSAGE(r.why, r.obeyed);
        CPPUNIT_ASSERT(!node.allowed("telemetry"));
        CPPUNIT_ASSERT(node.allowed("alarms"));
        Bytes all = transmissionCommand(inCse, "CSE-mn7", false, {}, 2, testClock());
        CPPUNIT_ASSERT(node.apply(all).obeyed);
        CPPUNIT_ASSERT(!node.allowed("alarms"));
        CPPUNIT_ASSERT(!node.apply(all).obeyed);  // replayed
        CPPUNIT_ASSERT(!node.apply(transmissionCommand(softKey(), "CSE-mn7", true, {}, 3, testClock())).obeyed);  // not the authority
        CPPUNIT_ASSERT(!node.apply(transmissionCommand(inCse, "CSE-mn8", true, {}, 4, testClock())).obeyed);     // another node
        CPPUNIT_ASSERT(!node.apply(transmissionCommand(inCse, "CSE-mn7", true, {}, 5, [] { return gNow - 1000; })).obeyed);
        std::string cmd = toString(transmissionCommand(inCse, "CSE-mn7", true, {}, 6, testClock()));
        for (size_t i = 0; i < cmd.size(); i++) {  // tampered at every position
            if (cmd[i] == '.') continue;
            std::string t = cmd;
            t[i] = t[i] == 'A' ? 'B' : 'A';
            CPPUNIT_ASSERT(!node.apply(toBytes(t)).obeyed);
        }
        CPPUNIT_ASSERT(!node.allowed("alarms"));
        CPPUNIT_ASSERT(node.apply(transmissionCommand(inCse, "CSE-mn7", true, {}, 7, testClock())).obeyed);
        CPPUNIT_ASSERT(node.allowed("alarms") && node.allowed("telemetry"));
    }
    void misbehaviourReportBecomesAStatusChange() {
        JoseKey a = seKey("mb-a"), b = softKey();
        std::map<std::string, JoseKey> keys = {{"CSE-a", a.publicKey()}, {"CSE-b", b.publicKey()}};
        MisbehaviourDesk desk([&](const std::string &who) -> std::optional<JoseKey> {
            auto it = keys.find(who);
            if (it == keys.end()) return std::nullopt;
            return it->second;
        }, testClock());
        Bytes rep = reportMisbehaviour(a, "CSE-a", "tid-bad", "flooding", toBytes("1000 requests in 1 s"), testClock());
        MisbehaviourReport r = desk.receive(rep);
        CPPUNIT_ASSERT_EQUAL(std::string("tid-bad"), r.suspect);
        CPPUNIT_ASSERT_THROW(desk.receive(rep), secsf::Error);  // replayed
        CPPUNIT_ASSERT_THROW(desk.receive(reportMisbehaviour(softKey(), "CSE-b", "tid-bad", "x", {}, testClock())), secsf::Error);
        CPPUNIT_ASSERT_THROW(desk.receive(reportMisbehaviour(a, "CSE-z", "tid-bad", "x", {}, testClock())), secsf::Error);
        CPPUNIT_ASSERT_THROW(desk.receive(reportMisbehaviour(a, "CSE-a", "CSE-a", "x", {}, testClock())), secsf::Error);
        desk.receive(reportMisbehaviour(b, "CSE-b", "tid-bad", "bad data", {}, testClock()));
        CPPUNIT_ASSERT_EQUAL((size_t)2, desk.reportersAgainst("tid-bad"));
        // The infrastructure turns it into a published status change nodes apply.
        auto repo = openSqliteRepository(workDir() + "/mb.db");
        Mzf mzf({"mzf", mzf_, softKey(), "maf", 4, 600, 300, testClock()}, *repo);
        auto nodeRepo = openSqliteRepository(workDir() + "/mb-node.db");
        LocalAuthorization local(mzf_.publicKey(), "mzf", *nodeRepo, testClock());
        local.apply(mzf.publishStatus(r.suspect, "disabled", gNow + 3600));
        CPPUNIT_ASSERT_EQUAL(std::string("disabled"), local.status("tid-bad").state);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SingleMessageTest);
