// Security associations (seed 002, tables 23-44) between two nodes enrolled with a
// MAF, their keys in token node1: establishment with ECDH in the SE, secured
// messages, every rejection cause, tampering, replay, expiry, two SAs kept apart,
// update, removal, and 1,000 SAs in one process.
#include <cppunit/extensions/HelperMacros.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include <algorithm>

#include "../../services/access_tokens.h"
#include "../../services/credentials.h"
#include "../../services/jwt.h"
#include "../../services/messages.h"
#include "../../services/security_association.h"
#include "fixture.h"
#include "service_fixture.h"
#include "secsf/error.h"

using namespace testfix;
using namespace secsf::svc;

namespace {



// A MAF that issues credentials directly (its enrolment flow is tested elsewhere).
struct Maf {
    JoseKey key = softKey();
    HeldCredential issue(const JoseKey &holder, int64_t lifetime = 86400) {
        std::string tid = "tid-" + randomToken(8);
        Json claims = {{"jti", tid}, {"iss", "maf"}, {"sub", tid}, {"aud", "maf"}, {"nbf", gNow}, {"exp", gNow + lifetime},
                       {"cnf", {{"jkt", jwkThumbprint(holder)}}}};
        return {tid, jwtIssue(key, claims), gNow + lifetime};
    }
};

SaConfig config(Maf &maf, const JoseKey &key, const HeldCredential &c) {
    SaConfig s;
    s.credential = c;
    s.key = key;
    s.mafKey = maf.key.publicKey();
    s.mafName = "maf";
    s.clock = testClock();
    return s;
}

// The whole handshake; the SA identifier.
std::string establish(SecurityAssociations &a, SecurityAssociations &b, const std::string &bId, const std::string &ticket = "") {
    Bytes accept = b.handle(a.initiate(bId, ticket));
    Bytes confirm = a.onAccept(accept);
    return a.onEstablished(b.handle(confirm));
}

std::string causeOf(const std::function<void()> &f) {
    try {
        f();
    } catch (const Rejected &r) {
        return r.cause();
    } catch (const secsf::Error &e) {
        return std::string("error: ") + e.what();
    }
    return "(accepted)";
}

// What a peer that holds its own SE key can compute by itself: an SA's two keys
// (initiator to responder, responder to initiator) for any identifier it likes.
std::pair<JoseKey, JoseKey> saKeys(const JoseKey &mine, const JoseKey &peer, const std::string &saId,
                                   const std::string &initiator, const std::string &responder) {
    secsf::SecureBytes z = ecdhSecret(mine, peer);
    std::string info = "oneM2M SA " + initiator + " " + responder;
    EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", "provider=default");
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z.data(), z.size()),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)saId.data(), saId.size()),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.data(), info.size()),
                      OSSL_PARAM_construct_end()};
    secsf::SecureBytes k(64);
    CPPUNIT_ASSERT(EVP_KDF_derive(c, k.data(), k.size(), p) > 0);
    EVP_KDF_CTX_free(c);
    return {JoseKey::fromSecret(secsf::SecureBytes(k.begin(), k.begin() + 32)),
            JoseKey::fromSecret(secsf::SecureBytes(k.begin() + 32, k.end()))};
}

// A responder's SaAccept to `initiate`, made by hand with the identifier it chooses.
Bytes forgedAccept(const Bytes &initiate, const JoseKey &key, const HeldCredential &cred, const std::string &saId) {
    Json init = parseObject(jwsPeek(toString(initiate)).payload, "SaInitiate");
    JoseKey initiatorKey = JoseKey::fromJwk(init["initiatorKey"]);
    auto [i2r, r2i] = saKeys(key, initiatorKey, saId, member(init, "initiator"), cred.id);
    std::string conf = jwsSign(r2i, toBytes("responder confirms " + saId), {{"alg", "HS256"}});
    Json body = {{"type", "SaAccept"}, {"result", "Success"}, {"inReplyTo", member(init, "nonce")}, {"saId", saId},
                 {"securityAssociation", kSuiteEcdhGcm}, {"responder", cred.id}, {"credential", cred.jwt},
                 {"responderKey", key.publicJwk()}, {"challengeResponse", member(init, "challenge")},
                 {"keyConfirmation", conf.substr(conf.rfind('.') + 1)}, {"initiatorChallenge", randomToken()},
                 {"expires", cred.expires}, {"nonce", randomToken()}, {"iat", gNow}};
    return toBytes(jwsSign(key, body, {{"jwk", key.publicJwk()}}));
}

std::string flip(std::string s, size_t i) {
    s[i] = s[i] == 'A' ? 'B' : 'A';
    return s;
}

}  // namespace

class SecurityAssociationTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SecurityAssociationTest);
    CPPUNIT_TEST(establishAndExchange);
    CPPUNIT_TEST(tamperedReplayedAndExpiredMessages);
    CPPUNIT_TEST(establishmentRefusals);
    CPPUNIT_TEST(twoAssociationsKeptApart);
    CPPUNIT_TEST(updateIdentifierAndKeys);
    CPPUNIT_TEST(removal);
    CPPUNIT_TEST(neverOutlivesItsCredential);
    CPPUNIT_TEST(restartInTheMiddle);
    CPPUNIT_TEST(aThousandAssociations);
    CPPUNIT_TEST(aResponderCannotTakeOverAnotherPeersSa);
    CPPUNIT_TEST(aRenameOntoAnotherSaIsRefused);
    CPPUNIT_TEST(oneFloodingPeerDoesNotLockOutTheNode);
    CPPUNIT_TEST(sealedBodiesOfTheWrongShapeAreRefused);
    CPPUNIT_TEST_SUITE_END();

    Maf maf_;

public:
    void establishAndExchange() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string id = establish(a, b, cb.id);
        CPPUNIT_ASSERT(a.info(id).valid && b.info(id).valid);
        CPPUNIT_ASSERT_EQUAL(cb.id, a.info(id).peer);
        CPPUNIT_ASSERT_EQUAL(ca.id, b.info(id).peer);
        Json m = {{"op", "notify"}, {"content", "door open"}};
        std::string sealed = a.seal(id, m);
        CPPUNIT_ASSERT(sealed.find("door") == std::string::npos);
        std::string got;
        CPPUNIT_ASSERT_EQUAL(m, b.open(sealed, &got));
        CPPUNIT_ASSERT_EQUAL(id, got);
        CPPUNIT_ASSERT_EQUAL(Json("ack"), a.open(b.seal(id, "ack")));  // the other direction
        // A node cannot read what it sent (one key per direction).
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kDecryptionFailure), causeOf([&] { a.open(a.seal(id, "x")); }));
    }
    void tamperedReplayedAndExpiredMessages() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string id = establish(a, b, cb.id);
        std::string sealed = a.seal(id, {{"v", 1}});
        int accepted = 0;
        for (size_t i = 0; i < sealed.size(); i++) {
            if (sealed[i] == '.') continue;
            try {
                b.open(flip(sealed, i));
                accepted++;
            } catch (const secsf::Error &) {
            }
        }
        CPPUNIT_ASSERT_EQUAL(0, accepted);
        CPPUNIT_ASSERT_THROW(b.open(sealed.substr(0, sealed.size() - 10)), secsf::Error);
        b.open(sealed);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kReplayed), causeOf([&] { b.open(sealed); }));
        std::string late = a.seal(id, {{"v", 2}});
        gNow += 301;
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kReplayed), causeOf([&] { b.open(late); }));
        // Reordering within the window is fine.
        std::string s1 = a.seal(id, 1), s2 = a.seal(id, 2);
        CPPUNIT_ASSERT_EQUAL(Json(2), b.open(s2));
        CPPUNIT_ASSERT_EQUAL(Json(1), b.open(s1));
    }
    void establishmentRefusals() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca));
        // No parameters in common.
        SaConfig other = config(maf_, kb, cb);
        other.suites = {"SOMETHING-ELSE"};
        SecurityAssociations b1(other);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kNoCommonParameters), causeOf([&] { a.onAccept(b1.handle(a.initiate(cb.id, ""))); }));
        // Administrative reasons: a ticket for another audience, a forged credential, the wrong responder.
        JoseKey mzf = softKey();
        auto repo = openSqliteRepository(workDir() + "/sa-authz.db");
        LocalAuthorization authz(mzf.publicKey(), "mzf", *repo, testClock());
        SaConfig guarded = config(maf_, kb, cb);
        guarded.authz = &authz;
        guarded.audience = "CSE-b";
        SecurityAssociations b2(guarded);
        auto ticket = [&](const std::string &sub, const std::string &aud) {
            return jwtIssue(mzf, {{"jti", randomToken()}, {"iss", "mzf"}, {"sub", sub}, {"nbf", gNow}, {"exp", gNow + 600}, {"aud", aud}});
        };
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAdministrative), causeOf([&] { a.onAccept(b2.handle(a.initiate(cb.id, ticket(ca.id, "CSE-x")))); }));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAdministrative), causeOf([&] { a.onAccept(b2.handle(a.initiate(cb.id, ticket("tid-other", "CSE-b")))); }));
        CPPUNIT_ASSERT_EQUAL(std::string("(accepted)"), causeOf([&] { a.onEstablished(b2.handle(a.onAccept(b2.handle(a.initiate(cb.id, ticket(ca.id, "CSE-b")))))); }));
        HeldCredential forged = ca;
        forged.jwt = flip(forged.jwt, forged.jwt.size() - 4);
        SecurityAssociations f(config(maf_, ka, forged));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAdministrative), causeOf([&] { f.onAccept(b2.handle(f.initiate(cb.id, ""))); }));
        SecurityAssociations b3(config(maf_, kb, cb));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAdministrative), causeOf([&] { a.onAccept(b3.handle(a.initiate("tid-someone-else", ""))); }));
        // A credential used with a key that is not its holder's.
        SecurityAssociations thief(config(maf_, softKey(), ca));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAdministrative), causeOf([&] { thief.onAccept(b3.handle(thief.initiate(cb.id, ""))); }));
        // An answer that is not genuine is an error, not a refusal.
        Bytes accept = b3.handle(a.initiate(cb.id, ""));
        std::string forgedAccept = flip(toString(accept), toString(accept).size() - 5);
        CPPUNIT_ASSERT(causeOf([&] { a.onAccept(toBytes(forgedAccept)); }).rfind("error:", 0) == 0);
    }
    void twoAssociationsKeptApart() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string s1 = establish(a, b, cb.id), s2 = establish(a, b, cb.id);
        CPPUNIT_ASSERT(s1 != s2);
        std::string m1 = a.seal(s1, "on SA 1");
        // Relabel it for SA 2: the other SA's key does not open it.
        std::string header = b64url(Json{{"alg", "dir"}, {"enc", "A256GCM"}, {"kid", s2}}.dump());
        std::string moved = header + m1.substr(m1.find('.'));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kDecryptionFailure), causeOf([&] { b.open(moved); }));
        CPPUNIT_ASSERT_EQUAL(Json("on SA 1"), b.open(m1));
        b.remove(s2);
        CPPUNIT_ASSERT_EQUAL(Json("still on 1"), b.open(a.seal(s1, "still on 1")));
    }
    void updateIdentifierAndKeys() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string id = establish(a, b, cb.id);
        std::string before = a.seal(id, "before");
        std::string newId = a.onUpdated(b.handle(a.update(id, true, true)));
        CPPUNIT_ASSERT(newId != id);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kUnknownSa), causeOf([&] { b.open(before); }));  // old identifier gone
        CPPUNIT_ASSERT_EQUAL(Json("after"), b.open(a.seal(newId, "after")));
        CPPUNIT_ASSERT_EQUAL(Json("back"), a.open(b.seal(newId, "back")));
        std::string sameId = a.onUpdated(b.handle(a.update(newId, false, true)));  // keys only
        CPPUNIT_ASSERT_EQUAL(newId, sameId);
        CPPUNIT_ASSERT_EQUAL(Json("rekeyed"), b.open(a.seal(sameId, "rekeyed")));
        // Unwilling to change key.
        SaConfig stubborn = config(maf_, kb, cb);
        stubborn.willingToRekey = false;
        SecurityAssociations c(stubborn);
        std::string id2 = establish(a, c, cb.id);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kUnwillingToChangeKey), causeOf([&] { a.onUpdated(c.handle(a.update(id2, false, true))); }));
        std::string renamed = a.onUpdated(c.handle(a.update(id2, true, false)));  // a new identifier is fine
        CPPUNIT_ASSERT(renamed != id2);
        CPPUNIT_ASSERT_EQUAL(Json("renamed"), c.open(a.seal(renamed, "renamed")));
        // Decryption failure: the update altered on the way.
        std::string id3 = establish(a, b, cb.id);
        std::string upd = toString(a.update(id3, true, false));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kDecryptionFailure), causeOf([&] { a.onUpdated(b.handle(toBytes(flip(upd, upd.size() - 3)))); }));
        // Unknown SA.
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kUnknownSa), causeOf([&] { a.update("no-such-sa", true, true); }));
    }
    void removal() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string id = establish(a, b, cb.id);
        std::string inFlight = a.seal(id, "in flight");
        Bytes rm = a.remove(id);
        a.onRemoved(b.handle(rm));
        CPPUNIT_ASSERT(!a.info(id).valid && !b.info(id).valid);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSaInvalid), causeOf([&] { a.seal(id, "x"); }));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSaInvalid), causeOf([&] { b.open(inFlight); }));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSaInvalid), causeOf([&] { a.remove(id); }));
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kUnknownSa), causeOf([&] { a.remove("no-such-sa"); }));
        // The peer already removed it when our removal arrives.
        std::string id2 = establish(a, b, cb.id);
        Bytes rm2 = a.remove(id2);
        b.remove(id2);  // b marked its side invalid first
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSaInvalid), causeOf([&] { a.onRemoved(b.handle(rm2)); }));
    }
    void neverOutlivesItsCredential() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka, 600), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string id = establish(a, b, cb.id);
        CPPUNIT_ASSERT_EQUAL(gNow + 600, b.info(id).expires);
        std::string id2 = establish(a, b, cb.id);
        CPPUNIT_ASSERT_EQUAL(2, b.removeForCredential(ca.id));  // the credential was revoked
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSaInvalid), causeOf([&] { b.seal(id2, "x"); }));
        gNow += 601;
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kSaInvalid), causeOf([&] { a.seal(id, "x"); }));
        gNow -= 601;
    }
    void restartInTheMiddle() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b");
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        auto storeA = openSqliteRepository(workDir() + "/sa-a.db"), storeB = openSqliteRepository(workDir() + "/sa-b.db");
        SaConfig cfgA = config(maf_, ka, ca), cfgB = config(maf_, kb, cb);
        cfgA.store = storeA.get();
        cfgB.store = storeB.get();
        auto a = std::make_unique<SecurityAssociations>(cfgA);
        auto b = std::make_unique<SecurityAssociations>(cfgB);
        // Both ends restart between every step of the handshake.
        Bytes init = a->initiate(cb.id, "");
        a = std::make_unique<SecurityAssociations>(cfgA);
        Bytes accept = b->handle(init);
        b = std::make_unique<SecurityAssociations>(cfgB);
        Bytes confirm = a->onAccept(accept);
        a = std::make_unique<SecurityAssociations>(cfgA);
        Bytes done = b->handle(confirm);
        b = std::make_unique<SecurityAssociations>(cfgB);
        std::string id = a->onEstablished(done);
        gNow += 1;  // messages made in the second a receiver restarted are refused by design
        std::string m1 = a->seal(id, "before the restart");
        CPPUNIT_ASSERT_EQUAL(Json("before the restart"), b->open(m1));
        a = std::make_unique<SecurityAssociations>(cfgA);
        b = std::make_unique<SecurityAssociations>(cfgB);
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kReplayed), causeOf([&] { b->open(m1); }));  // not again after a restart
        gNow += 1;  // the next messages are made after the restart
        CPPUNIT_ASSERT_EQUAL(Json("after the restart"), b->open(a->seal(id, "after the restart")));
        CPPUNIT_ASSERT_EQUAL(Json("and back"), a->open(b->seal(id, "and back")));
        // On disk the SA is sealed to the node's own SE key: no key material in clear.
        auto rows = storeB->pendingWithPrefix("sa:", gNow);
        CPPUNIT_ASSERT_EQUAL((size_t)1, rows.size());
        CPPUNIT_ASSERT_EQUAL((size_t)4, (size_t)std::count(rows[0].second.begin(), rows[0].second.end(), '.'));
        CPPUNIT_ASSERT(rows[0].second.find("send") == std::string::npos);
        // Removed SAs leave the store.
        a->onRemoved(b->handle(a->remove(id)));
        CPPUNIT_ASSERT(storeB->pendingWithPrefix("sa:", gNow).empty());
        CPPUNIT_ASSERT(storeA->pendingWithPrefix("sa:", gNow).empty());
    }
    void aThousandAssociations() {
        // Software keys here: the point is the bookkeeping, not the token's speed.
        JoseKey ka = softKey(), kb = softKey();
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SaConfig ca_ = config(maf_, ka, ca), cb_ = config(maf_, kb, cb);
        cb_.maxAssociations = 1000;
        SecurityAssociations a(ca_), b(cb_);
        std::vector<std::string> ids;
        for (int i = 0; i < 1000; i++) ids.push_back(establish(a, b, cb.id));
        CPPUNIT_ASSERT_EQUAL((size_t)1000, b.count());
        CPPUNIT_ASSERT_EQUAL(std::string(cause::kAdministrative), causeOf([&] { establish(a, b, cb.id); }));  // bounded
        for (int i = 0; i < 1000; i += 97) CPPUNIT_ASSERT_EQUAL(Json(i), b.open(a.seal(ids[(size_t)i], i)));
        a.onRemoved(b.handle(a.remove(ids[0])));
        CPPUNIT_ASSERT_EQUAL(std::string("(accepted)"), causeOf([&] { establish(a, b, cb.id); }));  // room again
        CPPUNIT_ASSERT_EQUAL((size_t)1000, b.count());
    }
    // Issue 16 item 2: a responder with a valid credential answers with the identifier
    // of the initiator's SA with a third node. It must not get that SA, not even
    // after a restart (when what was persisted is all there is).
    void aResponderCannotTakeOverAnotherPeersSa() {
        JoseKey ka = seKey("sa-a"), kc = seKey("sa-b"), km = softKey();
        HeldCredential ca = maf_.issue(ka), cc = maf_.issue(kc), cm = maf_.issue(km);
        auto storeA = openSqliteRepository(workDir() + "/sa-takeover-a.db");
        SaConfig cfgA = config(maf_, ka, ca);
        cfgA.store = storeA.get();
        auto a = std::make_unique<SecurityAssociations>(cfgA);
        SecurityAssociations c(config(maf_, kc, cc));
        std::string idAC = establish(*a, c, cc.id);
        Bytes accept = forgedAccept(a->initiate(cm.id, ""), km, cm, idAC);
        std::string outcome = causeOf([&] { a->onAccept(accept); });
        CPPUNIT_ASSERT_MESSAGE(outcome, outcome.rfind("error: ", 0) == 0);
        for (int restart = 0; restart < 2; restart++) {
            CPPUNIT_ASSERT_EQUAL(cc.id, a->info(idAC).peer);
            CPPUNIT_ASSERT_EQUAL(Json("for C only"), c.open(a->seal(idAC, "for C only")));
            gNow += 1;  // what a restarted receiver accepts is made after the restart
            a = std::make_unique<SecurityAssociations>(cfgA);
            gNow += 1;
        }
        // The identifier an honest responder gives is new to the initiator: both made it.
        SecurityAssociations m(config(maf_, km, cm));
        std::string idAM = establish(*a, m, cm.id);
        CPPUNIT_ASSERT(idAM != idAC);
        CPPUNIT_ASSERT_EQUAL(cm.id, a->info(idAM).peer);
    }
    // The initiator of one SA asks the responder to rename it to the identifier of the
    // responder's SA with someone else: refused, and both SAs stay as they were.
    void aRenameOntoAnotherSaIsRefused() {
        JoseKey ka = seKey("sa-a"), kb = seKey("sa-b"), kc = softKey();
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb), cc = maf_.issue(kc);
        auto storeB = openSqliteRepository(workDir() + "/sa-rename-b.db");
        SaConfig cfgB = config(maf_, kb, cb);
        cfgB.store = storeB.get();
        auto b = std::make_unique<SecurityAssociations>(cfgB);
        SecurityAssociations a(config(maf_, ka, ca)), c(config(maf_, kc, cc));
        std::string idAB = establish(a, *b, cb.id), idCB = establish(c, *b, cb.id);
        auto [i2r, r2i] = saKeys(ka, kb.publicKey(), idAB, ca.id, cb.id);
        Json update = {{"seq", 1}, {"type", "SaUpdate"}, {"saId", idAB}, {"newKeys", false}, {"newSaId", idCB},
                       {"initiatorNonce", randomToken()}};
        std::string u = update.dump();
        Bytes answer = b->handle(toBytes(jweEncrypt(i2r, Bytes(u.begin(), u.end()), "dir", "A256GCM", {{"kid", idAB}})));
        std::string text = toString(answer);
        CPPUNIT_ASSERT_MESSAGE(text, std::count(text.begin(), text.end(), '.') == 2);  // a signed refusal, not sealed
        Json refusal = verifiedMessage(text, kb.publicKey(), "SaUpdated");
        CPPUNIT_ASSERT(refusal.value("result", "") != "Accepted");
        for (int restart = 0; restart < 2; restart++) {
            CPPUNIT_ASSERT_EQUAL(cc.id, b->info(idCB).peer);
            CPPUNIT_ASSERT_EQUAL(ca.id, b->info(idAB).peer);
            CPPUNIT_ASSERT_EQUAL(Json("C's"), c.open(b->seal(idCB, "C's")));
            CPPUNIT_ASSERT_EQUAL(Json("A's"), a.open(b->seal(idAB, "A's")));
            gNow += 1;
            b = std::make_unique<SecurityAssociations>(cfgB);
            gNow += 1;
        }
    }
    // Issue 16 item 3: a peer floods the node with messages dated as far ahead as the
    // skew allows. Only that peer may suffer: other SAs and new handshakes go on.
    void oneFloodingPeerDoesNotLockOutTheNode() {
        JoseKey ka = softKey(), kb = softKey(), km = softKey(), kc = softKey();
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb), cm = maf_.issue(km), cc = maf_.issue(kc);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb)), m(config(maf_, km, cm)),
            c(config(maf_, kc, cc));
        std::string idAB = establish(a, b, cb.id), idMB = establish(m, b, cb.id);
        CPPUNIT_ASSERT_EQUAL(Json("before"), b.open(a.seal(idAB, "before")));
        gNow += 299;  // the attacker's clock, just inside the 300 s skew
        std::vector<std::string> flood;
        for (int i = 0; i < 100100; i++) flood.push_back(m.seal(idMB, i));
        gNow -= 299;
        for (const std::string &f : flood) causeOf([&] { b.open(f); });
        CPPUNIT_ASSERT_EQUAL(Json("after"), b.open(a.seal(idAB, "after")));
        CPPUNIT_ASSERT_EQUAL(std::string("(accepted)"), causeOf([&] { establish(c, b, cb.id); }));
    }
    // Issue 16 item 1: what a peer seals under an SA may be any JSON; a body that is
    // an array, or has a member of the wrong type, is refused with secsf::Error.
    void sealedBodiesOfTheWrongShapeAreRefused() {
        JoseKey ka = softKey(), kb = softKey();
        HeldCredential ca = maf_.issue(ka), cb = maf_.issue(kb);
        SecurityAssociations a(config(maf_, ka, ca)), b(config(maf_, kb, cb));
        std::string id = establish(a, b, cb.id);
        auto [i2r, r2i] = saKeys(ka, kb.publicKey(), id, ca.id, cb.id);
        auto sealed = [&, id = id](const JoseKey &k, const Json &body) {
            std::string t = body.dump();
            return jweEncrypt(k, Bytes(t.begin(), t.end()), "dir", "A256GCM", {{"kid", id}});
        };
        for (const Json &body : {Json::array({1, 2}), Json("text"), Json(7), Json{{"type", 5}},
                                 Json{{"type", "SaUpdate"}, {"newKeys", "yes"}}, Json{{"type", "SaUpdate"}, {"newSaId", 5}},
                                 Json{{"type", "SaUpdate"}, {"newKeys", true}, {"initiatorNonce", Json::object()}},
                                 Json{{"seq", "1"}, {"ts", gNow}, {"exp", gNow + 60}, {"message", 1}}}) {
            std::string toB = sealed(i2r, body);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(body.dump(), std::string("returned"), ending([&] { b.handle(toBytes(toB)); }));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(body.dump(), std::string("refused"), ending([&] { b.open(toB); }));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(body.dump(), std::string("refused"), ending([&] { a.onUpdated(toBytes(sealed(r2i, body))); }));
        }
        CPPUNIT_ASSERT(b.info(id).valid);  // none of it harmed the SA
        CPPUNIT_ASSERT_EQUAL(Json("still fine"), b.open(a.seal(id, "still fine")));
        // Signed answers with members of the wrong type.
        a.update(id, false, true);
        for (const Json &m : {Json{{"type", "SaRemoved"}, {"saId", 5}}, Json{{"type", "SaRemoved"}, {"saId", id}, {"result", 1}},
                              Json{{"type", "SaEstablished"}, {"saId", id}, {"result", "Failure"}, {"cause", 1}}}) {
            Bytes signed_ = toBytes(jwsSign(kb, m));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(m.dump(), std::string("refused"), ending([&] { a.onRemoved(signed_); }));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(m.dump(), std::string("refused"), ending([&] { a.onUpdated(signed_); }));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SecurityAssociationTest);
