// oneM2M services I: session credentials (obtain, update, remove), SP credentials
// for applications, access-control tokens and authorization status — the MAF and
// MZF keys in token node1, the node's key in token node2, state in SQLite files.
// Every rejection cause of the seed tables is one test, plus tampering, replay,
// expiry and a MAF restart in the middle of an enrolment.
#include <cppunit/extensions/HelperMacros.h>

#include <memory>

#include "../../services/access_tokens.h"
#include "../../services/credentials.h"
#include "../../services/messages.h"
#include "fixture.h"
#include "service_fixture.h"

using namespace testfix;
using namespace secsf::svc;

namespace {

const std::string kMaf = "maf.sp.example", kMzf = "mzf.sp.example";


std::string db(const std::string &name) { return workDir() + "/" + name + ".db"; }

// A repository whose credential writes fail, for the "could not create" causes.
class FailingWrites : public Repository {
public:
    explicit FailingWrites(Repository &r) : r_(r) {}
    void atomically(const std::function<void()> &fn) override { r_.atomically(fn); }
    std::optional<Enrollee> enrollee(const std::string &id) override { return r_.enrollee(id); }
    void putEnrollee(const Enrollee &e) override { r_.putEnrollee(e); }
    void putCredential(const Credential &, const std::string &) override {
        throw secsf::Error(secsf::Reason::DeviceError, "disk full");
    }
    std::optional<Credential> credential(const std::string &id) override { return r_.credential(id); }
    void revokeCredential(const std::string &id) override { r_.revokeCredential(id); }
    std::vector<Credential> credentialsOf(const std::string &o, Role role) override { return r_.credentialsOf(o, role); }
    std::optional<std::string> ownerOf(const std::string &c, Role role) override { return r_.ownerOf(c, role); }
    void deleteCredential(const std::string &id) override { r_.deleteCredential(id); }
    void putPending(const std::string &k, const std::string &v, int64_t e) override { r_.putPending(k, v, e); }
    std::optional<std::string> takePending(const std::string &k, int64_t n) override { return r_.takePending(k, n); }
    std::optional<std::string> peekPending(const std::string &k, int64_t n) override { return r_.peekPending(k, n); }
    std::vector<std::pair<std::string, std::string>> pendingWithPrefix(const std::string &p, int64_t n) override {
        return r_.pendingWithPrefix(p, n);
    }
    bool rememberNonce(const std::string &n, int64_t e, int64_t now) override { return r_.rememberNonce(n, e, now); }
    void putToken(const TokenRecord &t) override { r_.putToken(t); }
    std::optional<TokenRecord> token(const std::string &j) override { return r_.token(j); }
    int activeTokens(const std::string &s, int64_t n) override { return r_.activeTokens(s, n); }
    void revokeToken(const std::string &j) override { r_.revokeToken(j); }
    void revokeTokensOf(const std::string &s) override { r_.revokeTokensOf(s); }
    void putStatus(const AuthzStatus &s) override { r_.putStatus(s); }
    std::optional<AuthzStatus> status(const std::string &s) override { return r_.status(s); }

private:
    Repository &r_;
};

struct World {
    std::unique_ptr<Repository> mafRepo, nodeRepo, mzfRepo;
    JoseKey mafKey, mzfKey, nodeKey;
    std::unique_ptr<CredentialAuthority> maf;
    std::unique_ptr<Mzf> mzf;

    explicit World(const std::string &tag) {
        mafRepo = openSqliteRepository(db("maf-" + tag));
        nodeRepo = openSqliteRepository(db("node-" + tag));
        mzfRepo = openSqliteRepository(db("mzf-" + tag));
        mafKey = seKey("maf-key", "node1");
        mzfKey = seKey("mzf-key", "node1");
        nodeKey = seKey("node-key", "node2");
        maf = std::make_unique<CredentialAuthority>(AuthorityConfig{kMaf, mafKey, "node", 5, 86400, 120, 300, testClock()},
                                                    *mafRepo);
        mzf = std::make_unique<Mzf>(MzfConfig{kMzf, mzfKey, maf->publicKey(), kMaf, 2, 600, 300, testClock()}, *mzfRepo);
    }
    HolderConfig holderConfig(const std::string &id, const JoseKey &key) {
        return {id, kMaf, "node", key, maf->publicKey(), 300, testClock()};
    }
    EnrolResult enrol(CredentialHolder &h) {
        Bytes challenge = maf->handle(h.startEnrolment());
        return h.onSessionResponse(maf->handle(h.onEnrolmentChallenge(challenge)));
    }
};

// The cause in a rejection the node receives at the challenge step.
std::string rejectionAtChallenge(World &w, CredentialHolder &h) {
    try {
        h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment()));
    } catch (const Rejected &r) {
        return r.cause();
    }
    return "(accepted)";
}

Json peekAnswer(const Bytes &b) { return parseObject(jwsPeek(toString(b)).payload, "answer"); }

std::string flipChar(std::string s, size_t i) {
    s[i] = s[i] == 'A' ? 'B' : 'A';
    return s;
}

}  // namespace

class CredentialsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CredentialsTest);
    CPPUNIT_TEST(enrolmentObtainsCredentials);
    CPPUNIT_TEST(unknownIdentity);
    CPPUNIT_TEST(notPermittedToEnrol);
    CPPUNIT_TEST(authenticationFailedAndDisabled);
    CPPUNIT_TEST(challengeStepCauses);
    CPPUNIT_TEST(anImpostorMafIsRefused);
    CPPUNIT_TEST(replayedAndTamperedRequests);
    CPPUNIT_TEST(tamperedOrTruncatedAnswers);
    CPPUNIT_TEST(mafRestartsMidEnrolment);
    CPPUNIT_TEST(challengeExpires);
    CPPUNIT_TEST(updateGivesAFreshList);
    CPPUNIT_TEST(updateCauses);
    CPPUNIT_TEST(removalIsDistributedAndWiped);
    CPPUNIT_TEST(removalCauses);
    CPPUNIT_TEST(spCredentialsForApplications);
    CPPUNIT_TEST(tokensObtainedAndCheckedOffline);
    CPPUNIT_TEST(tokenCauses);
    CPPUNIT_TEST(tokenUpdateBeforeExpiry);
    CPPUNIT_TEST(authorizationStatusPublishedAndKeptLocally);
    CPPUNIT_TEST(membersOfTheWrongJsonTypesGetARefusal);
    CPPUNIT_TEST_SUITE_END();

public:
    void enrolmentObtainsCredentials() {
        World w("ok");
        w.maf->enrol("node7", w.nodeKey);
        CredentialHolder h(w.holderConfig("node7", w.nodeKey), *w.nodeRepo);
        EnrolResult r = w.enrol(h);
        CPPUNIT_ASSERT_MESSAGE(r.cause, r.accepted);
        CPPUNIT_ASSERT_EQUAL((size_t)5, r.credentials.size());
        // Accountable: an authority finds the true identity, a service does not.
        CPPUNIT_ASSERT_EQUAL(std::string("node7"), *w.mafRepo->ownerOf(r.credentials[0].id, Role::Authority));
        CPPUNIT_ASSERT_THROW(w.mafRepo->ownerOf(r.credentials[0].id, Role::Service), secsf::Error);
        // Randomised: no identity in the temporary ones.
        for (auto &c : r.credentials) CPPUNIT_ASSERT(c.id.find("node7") == std::string::npos);
        // A restarted node still holds them.
        CredentialHolder again(w.holderConfig("node7", w.nodeKey), *w.nodeRepo);
        CPPUNIT_ASSERT_EQUAL((size_t)5, again.credentials().size());
        CPPUNIT_ASSERT(!again.credentials()[0].jwt.empty());
    }
    void unknownIdentity() {
        World w("unknown");
        CredentialHolder h(w.holderConfig("node-nobody", w.nodeKey), *w.nodeRepo);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kIdentityUnknown), rejectionAtChallenge(w, h));
    }
    void notPermittedToEnrol() {
        World w("notpermitted");
        w.maf->enrol("node8", w.nodeKey, false);
        CredentialHolder h(w.holderConfig("node8", w.nodeKey), *w.nodeRepo);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNotPermittedToEnrol), rejectionAtChallenge(w, h));
    }
    void authenticationFailedAndDisabled() {
        World w("auth");
        w.maf->enrol("node9", softKey());  // registered with another key than the node's
        CredentialHolder h(w.holderConfig("node9", w.nodeKey), *w.nodeRepo);
        Bytes a = w.maf->handle(h.startEnrolment());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthenticationFailed), peekAnswer(a)["causeOfRejection"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthenticationFailed), peekAnswer(a)["causeOfFailure"].get<std::string>());
        w.maf->enrol("node10", w.nodeKey);
        w.maf->setAuthenticationEnabled("node10", false);
        CredentialHolder h2(w.holderConfig("node10", w.nodeKey), *w.nodeRepo);
        Bytes b = w.maf->handle(h2.startEnrolment());
        CPPUNIT_ASSERT_EQUAL(std::string("Failed"), peekAnswer(b)["authenticationResult"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthenticationDisabled), peekAnswer(b)["causeOfFailure"].get<std::string>());
    }
    void challengeStepCauses() {
        World w("challenge");
        w.maf->enrol("node11", w.nodeKey);
        CredentialHolder h(w.holderConfig("node11", w.nodeKey), *w.nodeRepo);
        // The node's answer altered: M2M Node authentication failed.
        Bytes resp = h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment()));
        Json j = parseObject(resp, "r");
        std::string nr = j["nodeResponse"];
        j["nodeResponse"] = flipChar(nr, nr.size() - 5);
        Json a = peekAnswer(w.maf->handle(toBytes(j.dump())));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNodeAuthenticationFailed), a["causeOfFailure"].get<std::string>());
        // Permission withdrawn between the two steps: M2M Node not permitted to enrol.
        resp = h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment()));
        w.maf->setPermitted("node11", false);
        a = peekAnswer(w.maf->handle(resp));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNodeNotPermitted), a["causeOfFailure"].get<std::string>());
        // Identity gone (another MAF's node): Canonical identity unknown at this step too.
        w.maf->setPermitted("node11", true);
        resp = h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment()));
        Json other = parseObject(resp, "r");
        other["canonicalId"] = "node-elsewhere";
        a = peekAnswer(w.maf->handle(toBytes(other.dump())));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kIdentityUnknown), a["causeOfFailure"].get<std::string>());
    }
    void anImpostorMafIsRefused() {
        World w("impostor");
        w.maf->enrol("node12", w.nodeKey);
        // The node trusts another MAF key: the real MAF's answers do not verify.
        HolderConfig cfg = w.holderConfig("node12", w.nodeKey);
        cfg.authorityKey = softKey().publicKey();
        CredentialHolder h(cfg, *w.nodeRepo);
        CPPUNIT_ASSERT_THROW(h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment())), secsf::Error);
        // An EnrolmentChallenge for another session (not answering our challenge).
        CredentialHolder good(w.holderConfig("node12", w.nodeKey), *w.nodeRepo);
        Bytes first = w.maf->handle(good.startEnrolment());
        good.startEnrolment();  // a new challenge in flight
        CPPUNIT_ASSERT_THROW(good.onEnrolmentChallenge(first), secsf::Error);
    }
    void replayedAndTamperedRequests() {
        World w("replay");
        w.maf->enrol("node13", w.nodeKey);
        CredentialHolder h(w.holderConfig("node13", w.nodeKey), *w.nodeRepo);
        Bytes req = h.startEnrolment();
        CPPUNIT_ASSERT_EQUAL(std::string("EnrolmentChallenge"), peekAnswer(w.maf->handle(req))["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthenticationFailed),
                             peekAnswer(w.maf->handle(req))["causeOfRejection"].get<std::string>());
        Json j = parseObject(h.startEnrolment(), "r");
        std::string nc = j["networkChallenge"];
        int accepted = 0;
        for (size_t i = 0; i < nc.size(); i += 7) {
            if (nc[i] == '.') continue;
            Json t = j;
            t["networkChallenge"] = flipChar(nc, i);
            if (peekAnswer(w.maf->handle(toBytes(t.dump())))["type"] == "EnrolmentChallenge") accepted++;
        }
        CPPUNIT_ASSERT_EQUAL(0, accepted);
        // Not even JSON, or truncated: a signed error, no crash.
        CPPUNIT_ASSERT_EQUAL(std::string("Error"), peekAnswer(w.maf->handle(toBytes("{\"type\":")))["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Error"), peekAnswer(w.maf->handle(Bytes{0x00, 0xff}))["type"].get<std::string>());
    }
    void tamperedOrTruncatedAnswers() {
        World w("answers");
        w.maf->enrol("node14", w.nodeKey);
        CredentialHolder h(w.holderConfig("node14", w.nodeKey), *w.nodeRepo);
        Bytes final = w.maf->handle(h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment())));
        std::string s = toString(final);
        int accepted = 0;
        for (size_t i = 0; i < s.size(); i += 11) {
            if (s[i] == '.') continue;
            try {
                if (h.onSessionResponse(toBytes(flipChar(s, i))).accepted) accepted++;
            } catch (const secsf::Error &) {
            }
        }
        CPPUNIT_ASSERT_EQUAL(0, accepted);
        CPPUNIT_ASSERT_THROW(h.onSessionResponse(toBytes(s.substr(0, s.size() / 2))), secsf::Error);
        CPPUNIT_ASSERT(h.onSessionResponse(final).accepted);  // the real one still works
    }
    void mafRestartsMidEnrolment() {
        World w("restart");
        w.maf->enrol("node15", w.nodeKey);
        CredentialHolder h(w.holderConfig("node15", w.nodeKey), *w.nodeRepo);
        Bytes resp = h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment()));
        w.maf.reset();
        w.mafRepo.reset();  // the MAF process ends
        w.mafRepo = openSqliteRepository(db("maf-restart"));
        w.maf = std::make_unique<CredentialAuthority>(AuthorityConfig{kMaf, w.mafKey, "node", 5, 86400, 120, 300, testClock()},
                                                      *w.mafRepo);
        EnrolResult r = h.onSessionResponse(w.maf->handle(resp));
        CPPUNIT_ASSERT_MESSAGE(r.cause, r.accepted);
    }
    void challengeExpires() {
        World w("expiry");
        w.maf->enrol("node16", w.nodeKey);
        CredentialHolder h(w.holderConfig("node16", w.nodeKey), *w.nodeRepo);
        Bytes resp = h.onEnrolmentChallenge(w.maf->handle(h.startEnrolment()));
        gNow += 121;
        Json a = peekAnswer(w.maf->handle(resp));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNodeAuthenticationFailed), a["causeOfFailure"].get<std::string>());
    }
    void updateGivesAFreshList() {
        World w("update");
        w.maf->enrol("node17", w.nodeKey);
        CredentialHolder h(w.holderConfig("node17", w.nodeKey), *w.nodeRepo);
        EnrolResult first = w.enrol(h);
        EnrolResult second = h.onUpdateResponse(w.maf->handle(h.requestUpdate()));
        CPPUNIT_ASSERT_MESSAGE(second.cause, second.accepted);
        CPPUNIT_ASSERT_EQUAL((size_t)5, h.credentials().size());
        CPPUNIT_ASSERT(first.credentials[0].id != second.credentials[0].id);
        CPPUNIT_ASSERT(w.mafRepo->credential(first.credentials[0].id)->revoked);  // superseded
        CPPUNIT_ASSERT(!w.mafRepo->credential(second.credentials[0].id)->revoked);
    }
    void updateCauses() {
        World w("updatecauses");
        w.maf->enrol("node18", w.nodeKey);
        CredentialHolder h(w.holderConfig("node18", w.nodeKey), *w.nodeRepo);
        w.enrol(h);
        auto cause = [&](const Bytes &req) { return h.onUpdateResponse(w.maf->handle(req)).cause; };
        Bytes req = h.requestUpdate();
        CPPUNIT_ASSERT_EQUAL(std::string(""), cause(req));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kReplayed), cause(req));
        CredentialHolder stranger(w.holderConfig("node-nobody", w.nodeKey), *w.nodeRepo);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kIdentityUnknown), cause(stranger.requestUpdate()));
        CredentialHolder forger(w.holderConfig("node18", softKey()), *w.nodeRepo);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthenticationFailed), cause(forger.requestUpdate()));
        w.maf->setPermitted("node18", false);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNotPermittedToRequest), cause(h.requestUpdate()));
        w.maf->setPermitted("node18", true);
        FailingWrites broken(*w.mafRepo);
        CredentialAuthority failing(AuthorityConfig{kMaf, w.mafKey, "node", 5, 86400, 120, 300, testClock()}, broken);
        Bytes a = failing.handle(h.requestUpdate());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kFailedToCreate), peekAnswer(a)["causeOfRejection"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Failure"), peekAnswer(a)["createResult"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kLinkFailed), peekAnswer(a)["causeOfFailure"].get<std::string>());
    }
    void removalIsDistributedAndWiped() {
        World w("removal");
        w.maf->enrol("node19", w.nodeKey);
        CredentialHolder h(w.holderConfig("node19", w.nodeKey), *w.nodeRepo);
        HeldCredential c = w.enrol(h).credentials[0];
        TokenClient client(w.nodeKey, testClock());
        std::string tok = client.onResponse(w.mzf->handle(client.request(c, {"CSE-in"})), w.mzf->publicKey())[0];
        std::string wiped;
        auto toNode = [&](const Bytes &n) { return h.onRevocation(n, [&](const std::string &id) { wiped = id; }).successful; };
        auto toMzf = [&](const Bytes &n) { return w.mzf->onRevocation(n); };
        RemovalResult r = w.maf->removeCredential(c.id, {toMzf, toNode});
        CPPUNIT_ASSERT_MESSAGE(r.cause, r.accepted);
        CPPUNIT_ASSERT_EQUAL(c.id, wiped);
        CPPUNIT_ASSERT_EQUAL((size_t)4, h.credentials().size());
        CPPUNIT_ASSERT(w.mafRepo->credential(c.id)->revoked);
        // The MZF revoked its tokens and refuses new ones on it.
        Json tc = parseObject(jwsPeek(tok).payload, "token");
        CPPUNIT_ASSERT(w.mzfRepo->token(tc["jti"].get<std::string>())->revoked);
        try {
            client.onResponse(w.mzf->handle(client.request(c, {"CSE-in"})), w.mzf->publicKey());
            CPPUNIT_FAIL("a token on a revoked credential");
        } catch (const Rejected &e) {
            CPPUNIT_ASSERT_EQUAL(std::string(cause::kCredentialRevoked), e.cause());
        }
        // A replayed notice is refused; a forged one too.
        CPPUNIT_ASSERT_THROW(h.onRevocation(r.notice), secsf::Error);
        CPPUNIT_ASSERT(!w.mzf->onRevocation(r.notice));
        std::string forged = jwsSign(softKey(), Json{{"type", "Revocation"}, {"sessionCredential", h.credentials()[0].id},
                                                     {"nonce", "x"}, {"iat", gNow}});
        CPPUNIT_ASSERT_THROW(h.onRevocation(toBytes(forged)), secsf::Error);
        CPPUNIT_ASSERT_EQUAL((size_t)4, h.credentials().size());
    }
    void removalCauses() {
        World w("removalcauses");
        w.maf->enrol("node20", w.nodeKey);
        CredentialHolder h(w.holderConfig("node20", w.nodeKey), *w.nodeRepo);
        auto creds = w.enrol(h).credentials;
        RemovalResult unknown = w.maf->removeCredential("tid-unknown", {});
        CPPUNIT_ASSERT(!unknown.accepted);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSubscriptionCredentialUnknown), unknown.cause);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSessionCredentialUnknown), unknown.revokeCause);
        RemovalResult undelivered = w.maf->removeCredential(creds[1].id, {[](const Bytes &) { return false; }});
        CPPUNIT_ASSERT(!undelivered.accepted);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kDistributionFailed), undelivered.cause);
        CPPUNIT_ASSERT(w.mafRepo->credential(creds[1].id)->revoked);  // revoked all the same
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSubscriptionCredentialUnknown), w.maf->removeCredential(creds[1].id, {}).cause);
        RemovalResult thrown = w.maf->removeCredential(creds[2].id, {[](const Bytes &) -> bool { throw 42; }});
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kDistributionFailed), thrown.cause);
    }
    void spCredentialsForApplications() {
        World w("sp");
        auto appRepo = openSqliteRepository(db("sp-authority"));
        CredentialAuthority spAuthority(AuthorityConfig{kMaf, w.mafKey, "app", 3, 3600, 120, 300, testClock()}, *appRepo);
        JoseKey aeKey = softKey();
        spAuthority.enrol("Capp-meter", aeKey);
        HolderConfig cfg{"Capp-meter", kMaf, "app", aeKey, spAuthority.publicKey(), 300, testClock()};
        auto aeRepo1 = openSqliteRepository(db("ae-1")), aeRepo2 = openSqliteRepository(db("ae-2"));
        CredentialHolder one(cfg, *aeRepo1);
        CredentialHolder two(cfg, *aeRepo2);
        auto enrol = [&](CredentialHolder &h) {
            return h.onSessionResponse(spAuthority.handle(h.onEnrolmentChallenge(spAuthority.handle(h.startEnrolment()))));
        };
        EnrolResult r1 = enrol(one), r2 = enrol(two);
        CPPUNIT_ASSERT(r1.accepted && r2.accepted);
        CPPUNIT_ASSERT_EQUAL(std::string("sp"), appRepo->credential(r2.credentials[0].id)->kind);
        CPPUNIT_ASSERT(r1.credentials[0].id != r2.credentials[0].id);
        // A node identity is not an application: the app authority does not know it.
        w.maf->enrol("node21", w.nodeKey);
        CredentialHolder node(w.holderConfig("node21", w.nodeKey), *w.nodeRepo);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kIdentityUnknown), [&] {
            try {
                node.onEnrolmentChallenge(spAuthority.handle(node.startEnrolment()));
            } catch (const Rejected &r) {
                return r.cause();
            }
            return std::string("(accepted)");
        }());
        // Update and removal for an application instance, the same way as for a node.
        EnrolResult up = one.onUpdateResponse(spAuthority.handle(one.requestUpdate()));
        CPPUNIT_ASSERT_MESSAGE(up.cause, up.accepted);
        RemovalResult rm = spAuthority.removeCredential(up.credentials[0].id,
                                                        {[&](const Bytes &n) { return one.onRevocation(n).successful; }});
        CPPUNIT_ASSERT_MESSAGE(rm.cause, rm.accepted);
        CPPUNIT_ASSERT_EQUAL((size_t)2, one.credentials().size());
        CPPUNIT_ASSERT_EQUAL((size_t)3, two.credentials().size());  // another instance keeps its own
        // Revoke all instances of the App-ID: nothing of it stays valid, and it may not come back.
        // one: 3 first + 3 updated - 1 removed; two: 3
        CPPUNIT_ASSERT_EQUAL(8, spAuthority.revokeAll("Capp-meter", {}));
        for (const Credential &c : appRepo->credentialsOf("Capp-meter", Role::Authority)) CPPUNIT_ASSERT(c.revoked);
        auto aeRepo3 = openSqliteRepository(db("ae-3"));
        CredentialHolder three(cfg, *aeRepo3);
        try {
            three.onEnrolmentChallenge(spAuthority.handle(three.startEnrolment()));
            CPPUNIT_FAIL("a revoked App-ID enrolled");
        } catch (const Rejected &r) {
            CPPUNIT_ASSERT_EQUAL(std::string(cause::kNotPermittedToEnrol), r.cause());
        }
    }
    void tokensObtainedAndCheckedOffline() {
        World w("tokens");
        w.maf->enrol("node22", w.nodeKey);
        CredentialHolder h(w.holderConfig("node22", w.nodeKey), *w.nodeRepo);
        HeldCredential c = w.enrol(h).credentials[0];
        TokenClient client(w.nodeKey, testClock());
        auto tokens = client.onResponse(w.mzf->handle(client.request(c, {"CSE-in", "CSE-mn"})), w.mzf->publicKey());
        CPPUNIT_ASSERT_EQUAL((size_t)1, tokens.size());
        // A peer CSE checks it offline.
        auto peerRepo = openSqliteRepository(db("peer-tokens"));
        LocalAuthorization local(w.mzf->publicKey(), kMzf, *peerRepo, testClock());
        Json claims = local.validate(tokens[0], "CSE-mn");
        CPPUNIT_ASSERT_EQUAL(c.id, claims["sub"].get<std::string>());
        for (const char *claim : {"jti", "iss", "nbf", "exp", "aud"}) CPPUNIT_ASSERT(claims.contains(claim));
        CPPUNIT_ASSERT_THROW(local.validate(tokens[0], "CSE-other"), secsf::Error);
        CPPUNIT_ASSERT(claims["exp"].get<int64_t>() - gNow <= 600);  // limited in time
        gNow += 600 + 31;  // past exp and the 30 s of clock difference tolerated
        CPPUNIT_ASSERT_THROW(local.validate(tokens[0], "CSE-mn"), secsf::Error);
    }
    void tokenCauses() {
        World w("tokencauses");
        w.maf->enrol("node23", w.nodeKey);
        CredentialHolder h(w.holderConfig("node23", w.nodeKey), *w.nodeRepo);
        HeldCredential c = w.enrol(h).credentials[0];
        TokenClient client(w.nodeKey, testClock());
        auto cause = [&](const Bytes &req) {
            try {
                client.onResponse(w.mzf->handle(req), w.mzf->publicKey());
                return std::string("");
            } catch (const Rejected &r) {
                return r.cause();
            }
        };
        CPPUNIT_ASSERT_EQUAL(std::string(""), cause(client.request(c, {"CSE-in"})));
        CPPUNIT_ASSERT_EQUAL(std::string(""), cause(client.request(c, {"CSE-in"})));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kTokenLimit), cause(client.request(c, {"CSE-in"})));  // limited in number
        Bytes req = client.request(h.credentials()[1], {"CSE-in"});
        CPPUNIT_ASSERT_EQUAL(std::string(""), cause(req));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kReplayed), cause(req));
        TokenClient thief(softKey(), testClock());  // someone else's key with our credential
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNotHolder), cause(thief.request(h.credentials()[2], {"CSE-in"})));
        HeldCredential forged = h.credentials()[2];
        forged.jwt = flipChar(forged.jwt, forged.jwt.size() - 3);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kCredentialInvalid), cause(client.request(forged, {"CSE-in"})));
        gNow += 86400 + 31;  // the credential itself expired
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kCredentialInvalid), cause(client.request(h.credentials()[3], {"CSE-in"})));
    }
    void tokenUpdateBeforeExpiry() {
        World w("tokenupdate");
        w.maf->enrol("node24", w.nodeKey);
        CredentialHolder h(w.holderConfig("node24", w.nodeKey), *w.nodeRepo);
        HeldCredential c = w.enrol(h).credentials[0];
        TokenClient client(w.nodeKey, testClock());
        std::string t1 = client.onResponse(w.mzf->handle(client.request(c, {"CSE-in"})), w.mzf->publicKey())[0];
        gNow += 300;
        std::string t2 = client.onResponse(w.mzf->handle(client.update(c, t1)), w.mzf->publicKey())[0];
        CPPUNIT_ASSERT(t1 != t2);
        Json c2 = parseObject(jwsPeek(t2).payload, "t2");
        CPPUNIT_ASSERT_EQUAL(gNow + 600, c2["exp"].get<int64_t>());
        CPPUNIT_ASSERT_THROW(client.onResponse(w.mzf->handle(client.update(c, t1)), w.mzf->publicKey()), Rejected);  // old one spent
        gNow += 600 + 31;
        try {
            client.onResponse(w.mzf->handle(client.update(c, t2)), w.mzf->publicKey());
            CPPUNIT_FAIL("updated an expired token");
        } catch (const Rejected &r) {
            CPPUNIT_ASSERT_EQUAL(std::string(cause::kTokenUnknown), r.cause());
        }
    }
    void authorizationStatusPublishedAndKeptLocally() {
        World w("status");
        w.maf->enrol("node25", w.nodeKey);
        CredentialHolder h(w.holderConfig("node25", w.nodeKey), *w.nodeRepo);
        HeldCredential c = w.enrol(h).credentials[0];
        TokenClient client(w.nodeKey, testClock());
        std::string tok = client.onResponse(w.mzf->handle(client.request(c, {"CSE-in"})), w.mzf->publicKey())[0];
        auto peerRepo = openSqliteRepository(db("peer-status"));
        LocalAuthorization local(w.mzf->publicKey(), kMzf, *peerRepo, testClock());
        Bytes disabled = w.mzf->publishStatus(c.id, "disabled", gNow + 100);
        local.apply(disabled);
        try {
            local.validate(tok, "CSE-in");
            CPPUNIT_FAIL("a disabled node's token passed");
        } catch (const Rejected &r) {
            CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthorizationDisabled), r.cause());
        }
        try {
            client.onResponse(w.mzf->handle(client.request(c, {"CSE-in"})), w.mzf->publicKey());
            CPPUNIT_FAIL("a disabled node got a token");
        } catch (const Rejected &r) {
            CPPUNIT_ASSERT_EQUAL(std::string(cause::kAuthorizationDisabled), r.cause());
        }
        gNow += 101;  // the restriction ends by itself
        CPPUNIT_ASSERT_EQUAL(std::string("active"), local.status(c.id).state);
        Bytes removed = w.mzf->publishStatus(c.id, "removed");
        local.apply(removed);
        CPPUNIT_ASSERT_THROW(local.apply(disabled), secsf::Error);  // older than what is known
        Bytes lifted = w.mzf->publishStatus(c.id, "active");
        // The peer restarts offline: its repository still says removed until it hears more.
        auto reopened = openSqliteRepository(db("peer-status"));
        LocalAuthorization after(w.mzf->publicKey(), kMzf, *reopened, testClock());
        CPPUNIT_ASSERT_EQUAL(std::string("removed"), after.status(c.id).state);
        after.apply(lifted);
        CPPUNIT_ASSERT_EQUAL(std::string("active"), after.status(c.id).state);
        // A status forged by another key is refused.
        std::string forged = jwsSign(softKey(), Json{{"type", "AuthorizationStatus"}, {"issuer", kMzf}, {"subject", c.id},
                                                     {"state", "active"}, {"until", 0}, {"seq", 99}});
        CPPUNIT_ASSERT_THROW(after.apply(toBytes(forged)), secsf::Error);
        // Status on request from a field node.
        Json st = parseObject(jwsVerify(toString(w.mzf->handle(client.statusRequest(c.id))), w.mzf->publicKey()).payload, "s");
        CPPUNIT_ASSERT_EQUAL(std::string("active"), st["state"].get<std::string>());
    }
    // Issue 16 item 1: the MAF and the MZF answer a message with members of the wrong
    // JSON type with a signed refusal; the node's side refuses with secsf::Error.
    void membersOfTheWrongJsonTypesGetARefusal() {
        World w("types");
        w.maf->enrol("node-types", w.nodeKey.publicKey());
        CredentialHolder h(w.holderConfig("node-types", w.nodeKey), *w.nodeRepo);
        Json request = parseObject(h.startEnrolment(), "request");
        for (const Json &change : {Json{{"apu", 1}}, Json{{"epk", {{"crv", 1}}}}, Json{{"epk", {{"kty", "EC"}, {"crv", "P-256"}, {"x", 1}}}}}) {
            Json m = request;
            m["networkChallenge"] = withHeader(member(request, "networkChallenge"), change);
            Bytes answer;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(change.dump(), std::string("returned"),
                                         ending([&] { answer = w.maf->handle(toBytes(m.dump())); }));
            CPPUNIT_ASSERT_EQUAL(std::string("Rejected"), member(peekAnswer(answer), "registrationResult"));
        }
        for (const Json &m : {Json{{"type", 1}}, Json{{"type", "SessionRequest"}, {"canonicalId", Json::array()}},
                              Json{{"type", "ChallengeResponse"}, {"canonicalId", "node-types"}, {"nodeResponse", 7}}}) {
            Bytes answer;
            CPPUNIT_ASSERT_EQUAL_MESSAGE(m.dump(), std::string("returned"), ending([&] { answer = w.maf->handle(toBytes(m.dump())); }));
        }
        // The MZF: a token request whose audience holds a number, whose "cnf" is odd.
        EnrolResult e = w.enrol(h);
        CPPUNIT_ASSERT(e.accepted);
        TokenClient client(w.nodeKey, testClock());
        Json body = parseObject(jwsPeek(toString(client.request(e.credentials[0], {"CSE-x"}))).payload, "r");
        body["audience"] = Json::array({1});
        body["nonce"] = randomToken();
        Bytes answer;
        CPPUNIT_ASSERT_EQUAL(std::string("returned"), ending([&] {
            answer = w.mzf->handle(toBytes(jwsSign(w.nodeKey, body, {{"jwk", w.nodeKey.publicJwk()}})));
        }));
        CPPUNIT_ASSERT_EQUAL(std::string("Rejected"), member(peekAnswer(answer), "result"));
        // The node: an answer from the MAF (genuinely signed) with fields of the wrong types.
        for (const Json &m : {Json{{"type", "SessionResponse"}, {"registrationResult", 1}},
                              Json{{"type", "UpdateResponse"}, {"updateRequestResult", Json::object()}},
                              Json{{"type", "Revocation"}, {"iat", "now"}}}) {
            Bytes signed_ = toBytes(jwsSign(w.mafKey, m));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(m.dump(), std::string("refused"), ending([&] { h.onSessionResponse(signed_); }));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(m.dump(), std::string("refused"), ending([&] { h.onUpdateResponse(signed_); }));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(m.dump(), std::string("refused"), ending([&] { h.onRevocation(signed_); }));
        }
        LocalAuthorization local(w.mzfKey.publicKey(), kMzf, *w.nodeRepo, testClock());
        Json status = {{"type", "AuthorizationStatus"}, {"issuer", 5}, {"subject", "s"}, {"state", "active"}, {"until", 0}, {"seq", 9}};
        CPPUNIT_ASSERT_EQUAL(std::string("refused"), ending([&] { local.apply(toBytes(jwsSign(w.mzfKey, status))); }));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CredentialsTest);
