// libFuzzer target for the services' network entry points, driven with mutated *valid*
// messages: the MAF (CredentialAuthority::handle), the holder's answers, the MZF,
// the local authorization repository, security associations (every handshake step,
// sealed updates and removals, secured messages), single messages, misbehaviour
// reports, transmission control, the audit-log verifier and access policies.
//
// An input is a selector byte (which entry point) and a JSON document:
//   {"p": payload, "h": {extra protected-header members}, "i": inner payload,
//    "ih": {extra header members of the inner object}, "x": "hex bytes"}
// The harness signs and encrypts it as the genuine peer would (its keys are all in
// software here), so mutations reach the code behind the signature checks. String
// values "$now", "$cred", "$jwk", "$nonce", "$challenge", "$idPart", "$saId",
// "$token", "$inner" ... are replaced by what the entry point expects at that moment.
// The invariant: nothing but secsf::Error leaves an entry point (an escaping JSON
// exception terminates the run and is reported as a crash).
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "../services/access_policy.h"
#include "../services/access_tokens.h"
#include "../services/audit_log.h"
#include "../services/credentials.h"
#include "../services/jwt.h"
#include "../services/messages.h"
#include "../services/misbehaviour.h"
#include "../services/security_association.h"
#include "../services/single_message.h"
#include "../services/transmission_control.h"
#include "secsf/error.h"

namespace {

using namespace secsf::svc;
using secsf::SecureBytes;

constexpr int64_t kNow = 1800000000;
Clock fixedClock() {
    return [] { return kNow; };
}

JoseKey ecKey() {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
    JoseKey j = JoseKey::fromPkey(k);
    EVP_PKEY_free(k);
    return j;
}

HeldCredential credentialFor(const JoseKey &maf, const JoseKey &holder) {
    std::string tid = "tid-" + randomToken(8);
    Json claims = {{"jti", tid}, {"iss", "maf"}, {"sub", tid}, {"aud", "maf"}, {"nbf", kNow - 10}, {"exp", kNow + 86400},
                   {"cnf", {{"jkt", jwkThumbprint(holder)}}}};
    return {tid, jwtIssue(maf, claims), kNow + 86400};
}

// The two directions' keys of an SA, as either end derives them.
std::pair<JoseKey, JoseKey> saKeys(const JoseKey &mine, const JoseKey &peer, const std::string &saId,
                                   const std::string &initiator, const std::string &responder) {
    SecureBytes z = ecdhSecret(mine, peer);
    std::string info = "oneM2M SA " + initiator + " " + responder;
    EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", "provider=default");
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z.data(), z.size()),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)saId.data(), saId.size()),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.data(), info.size()),
                      OSSL_PARAM_construct_end()};
    SecureBytes k(64);
    EVP_KDF_derive(c, k.data(), k.size(), p);
    EVP_KDF_CTX_free(c);
    return {JoseKey::fromSecret(SecureBytes(k.begin(), k.begin() + 32)),
            JoseKey::fromSecret(SecureBytes(k.begin() + 32, k.end()))};
}

// Everything that lives across inputs: keys, a MAF with one enrolled node, an MZF.
struct World {
    JoseKey maf = ecKey(), mzf = ecKey(), node = ecKey(), a = ecKey(), b = ecKey(), reporter = ecKey();
    std::string dir;
    std::unique_ptr<Repository> repo;
    std::unique_ptr<CredentialAuthority> authority;
    std::unique_ptr<Mzf> zone;
    std::unique_ptr<LocalAuthorization> local;
    HeldCredential credA = credentialFor(maf, a), credB = credentialFor(maf, b);
    std::string token;  // an access-control token for credA, audience CSE-b

    World() {
        char tmpl[] = "/tmp/fuzz_services.XXXXXX";
        dir = mkdtemp(tmpl);
        repo = openSqliteRepository(dir + "/state.db");
        AuthorityConfig ac;
        ac.name = "maf";
        ac.key = maf;
        ac.clock = fixedClock();
        authority = std::make_unique<CredentialAuthority>(ac, *repo);
        authority->enrol("node-1", node.publicKey());
        MzfConfig zc;
        zc.name = "mzf";
        zc.key = mzf;
        zc.mafKey = maf.publicKey();
        zc.mafName = "maf";
        zc.clock = fixedClock();
        zone = std::make_unique<Mzf>(zc, *repo);
        local = std::make_unique<LocalAuthorization>(mzf.publicKey(), "mzf", *repo, fixedClock());
        token = jwtIssue(mzf, {{"jti", "tok-1"}, {"iss", "mzf"}, {"sub", credA.id}, {"nbf", kNow - 10},
                               {"exp", kNow + 3600}, {"aud", Json::array({"CSE-b"})}});
    }
    ~World() {
        repo.reset();
        for (const char *f : {"/state.db", "/state.db-wal", "/state.db-shm", "/audit.log"}) unlink((dir + f).c_str());
        rmdir(dir.c_str());
    }
    SaConfig saConfig(const JoseKey &key, const HeldCredential &cred) const {
        SaConfig s;
        s.credential = cred;
        s.key = key;
        s.mafKey = maf.publicKey();
        s.mafName = "maf";
        s.clock = fixedClock();
        s.maxAssociations = 50;
        return s;
    }
};

// What "$name" strings stand for in the current input.
struct Vars {
    Json values = Json::object();
    void set(const std::string &name, Json v) { values["$" + name] = std::move(v); }
    void substitute(Json &j) const {
        if (j.is_string()) {
            auto it = values.find(j.get<std::string>());
            if (it != values.end()) j = *it;
        } else if (j.is_structured()) {
            for (auto &child : j) substitute(child);
        }
    }
};

struct Input {
    Json p, h = Json::object(), i, ih = Json::object();
    Bytes raw;  // "x": the payload as bytes (not necessarily UTF-8, not necessarily JSON)
    bool hasRaw = false;
};

Bytes unhex(const std::string &s) {
    auto nibble = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0; };
    Bytes out;
    for (size_t k = 0; k + 1 < s.size(); k += 2) out.push_back((unsigned char)(nibble(s[k]) << 4 | nibble(s[k + 1])));
    return out;
}

// A key confirmation as an SA end computes it.
std::string confirmation(const JoseKey &key, const std::string &text) {
    std::string jws = jwsSign(key, toBytes(text), {{"alg", "HS256"}});
    return jws.substr(jws.rfind('.') + 1);
}

Bytes payloadOf(const Input &in, const Json &p) {
    if (in.hasRaw) return in.raw;
    std::string s = p.dump();
    return Bytes(s.begin(), s.end());
}

// A JWS by `key`; header members from the input where the signer can take them.
std::string signedBy(const JoseKey &key, const Bytes &payload, Json header) {
    try {
        return jwsSign(key, payload, header);
    } catch (...) {  // the input's header was not signable (e.g. "alg": 1): sign without it
        Json plain = Json::object();
        if (header.is_object() && header.contains("jwk")) plain["jwk"] = header["jwk"];
        try {
            return jwsSign(key, payload, plain);
        } catch (...) {
            return jwsSign(key, payload);
        }
    }
}

// A JWE to `recipient` with the input's header members. Where the encrypter refuses
// them, its protected header is replaced afterwards: the tag no longer fits, but
// everything before the tag check runs on what an attacker can put there ("apu": 1,
// an "epk" of the wrong types, ...).
std::string encryptedFor(const JoseKey &recipient, const Bytes &payload, const std::string &alg, Json extra) {
    if (!extra.is_object()) extra = Json::object();
    try {
        return jweEncrypt(recipient, payload, alg, "A256GCM", extra);  // the header covered by the tag
    } catch (const secsf::Error &) {
    }
    std::string jwe = jweEncrypt(recipient, payload, alg, "A256GCM");
    Bytes hb = unb64url(jwe.substr(0, jwe.find('.')));
    Json h = Json::parse(hb.begin(), hb.end());
    for (auto &[k, v] : extra.items()) h[k] = v;
    return b64url(h.dump()) + jwe.substr(jwe.find('.'));
}

template <class F> void entry(F f) {
    try {
        f();
#ifdef FUZZ_TRACE  // to see how far the seeds get: every outcome on stderr
        fprintf(stderr, "  accepted\n");
#endif
    } catch (const secsf::Error &e) {
        // refused: the promised outcome for bad input
#ifdef FUZZ_TRACE
        fprintf(stderr, "  refused: %s\n", e.what());
#else
        (void)e;
#endif
    }
}

Json payloadJson(const Bytes &b) { return Json::parse(b.begin(), b.end(), nullptr, false); }

void run(World &w, unsigned selector, Input &in) {
    Vars v;
    v.set("now", kNow);
    v.set("token", w.token);
    v.set("aud", "CSE-b");
    auto jwk = [](const JoseKey &k) { return Json{{"jwk", k.publicJwk()}}; };
    auto merged = [&](Json base) {
        if (in.h.is_object())
            for (auto &[k, val] : in.h.items()) base[k] = val;
        return base;
    };
    auto finish = [&](Json &j) {
        v.substitute(j);
        return payloadOf(in, j);
    };
    switch (selector % 16) {
    case 0: {  // the MAF: a plain JSON SessionRequest / ChallengeResponse, its inner part sealed
        v.set("id", "node-1");
        v.set("maf", "maf");
        Json inner = in.i;
        v.substitute(inner);
        std::string innerText = inner.dump();
        v.set("inner", encryptedFor(w.maf, toBytes(signedBy(w.node, toBytes(innerText), in.ih)), "ECDH-ES+A128KW", in.ih));
        Json p = in.p;
        Bytes m = finish(p);
        entry([&] { w.authority->handle(m); });
        break;
    }
    case 1: {  // the MAF: an UpdateRequest signed by the node
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.node, finish(p), in.h));
        entry([&] { w.authority->handle(m); });
        break;
    }
    case 2: {  // the holder: the MAF's enrolment challenge and credential lists
        HolderConfig hc;
        hc.id = "node-1";
        hc.networkId = "maf";
        hc.key = w.node;
        hc.authorityKey = w.maf.publicKey();
        hc.clock = fixedClock();
        CredentialHolder holder(hc, *w.repo);
        Bytes start = holder.startEnrolment();
        Json req = parseObject(start, "request");
        SecureBytes nc = jweDecrypt(member(req, "networkChallenge"), w.maf);
        v.set("challenge", member(parseObject(jwsPeek(std::string(nc.begin(), nc.end())).payload, "nc"), "nonce"));
        v.set("id", "node-1");
        Json inner = in.i;
        v.substitute(inner);
        v.set("inner", encryptedFor(w.node, toBytes(signedBy(w.maf, toBytes(inner.dump()), in.ih)), "ECDH-ES+A128KW", in.ih));
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.maf, finish(p), in.h));
        entry([&] { holder.onEnrolmentChallenge(m); });
        entry([&] { holder.onSessionResponse(m); });
        entry([&] { holder.onUpdateResponse(m); });
        entry([&] { holder.onRevocation(m); });
        break;
    }
    case 3: {  // the MZF: token requests, updates, status requests, revocations
        v.set("cred", w.credA.jwt);
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.a, finish(p), merged(jwk(w.a))));
        entry([&] { w.zone->handle(m); });
        Bytes r = toBytes(signedBy(w.maf, payloadOf(in, p), in.h));
        entry([&] { w.zone->onRevocation(r); });
        break;
    }
    case 4: {  // the node's authorization-status repository and offline token check
        Json p = in.p;
        std::string m = signedBy(w.mzf, finish(p), in.h);
        entry([&] { w.local->apply(toBytes(m)); });
        entry([&] { w.local->validate(m, "CSE-b"); });
        break;
    }
    case 5: {  // SA responder: SaInitiate
        SecurityAssociations b(w.saConfig(w.b, w.credB));
        v.set("cred", w.credA.jwt);
        v.set("credId", w.credA.id);
        v.set("peer", w.credB.id);
        v.set("key", w.a.publicJwk());
        v.set("idPart", randomToken(12));
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.a, finish(p), merged(jwk(w.a))));
        entry([&] { b.handle(m); });
        break;
    }
    case 6: {  // SA initiator: SaAccept to a request of ours
        SecurityAssociations a(w.saConfig(w.a, w.credA));
        Json init = parseObject(jwsPeek(toString(a.initiate(w.credB.id, ""))).payload, "init");
        for (const char *k : {"nonce", "challenge"}) v.set(k, member(init, k));
        std::string saId = optMember(init, "saIdPart") + randomToken(12);
        v.set("saId", saId);
        v.set("conf", confirmation(saKeys(w.b, w.a.publicKey(), saId, w.credA.id, w.credB.id).second,
                                   "responder confirms " + saId));
        v.set("cred", w.credB.jwt);
        v.set("credId", w.credB.id);
        v.set("key", w.b.publicJwk());
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.b, finish(p), merged(jwk(w.b))));
        entry([&] { a.onAccept(m); });
        break;
    }
    case 7: {  // SA responder: SaConfirm for an SA being established
        SecurityAssociations a(w.saConfig(w.a, w.credA)), b(w.saConfig(w.b, w.credB));
        Json acc = parseObject(jwsPeek(toString(b.handle(a.initiate(w.credB.id, "")))).payload, "accept");
        std::string saId = member(acc, "saId");
        v.set("saId", saId);
        v.set("challenge", member(acc, "initiatorChallenge"));
        v.set("conf", confirmation(saKeys(w.a, w.b.publicKey(), saId, w.credA.id, w.credB.id).first,
                                   "initiator confirms " + saId));
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.a, finish(p), in.h));
        entry([&] { b.handle(m); });
        break;
    }
    case 8:
    case 9:
    case 10: {  // an established SA: sealed updates, removals, messages, answers
        SecurityAssociations a(w.saConfig(w.a, w.credA)), b(w.saConfig(w.b, w.credB));
        std::string id = a.onEstablished(b.handle(a.onAccept(b.handle(a.initiate(w.credB.id, "")))));
        auto [i2r, r2i] = saKeys(w.a, w.b.publicKey(), id, w.credA.id, w.credB.id);
        v.set("saId", id);
        v.set("newId", randomToken(24));
        Json p = in.p;
        Bytes body = finish(p);
        Json header = merged({{"kid", id}});
        if (selector % 16 == 8) {
            std::string toB = encryptedFor(i2r, body, "dir", header);
            entry([&] { b.handle(toBytes(toB)); });
            entry([&] { b.open(toB); });
        } else if (selector % 16 == 9) {
            a.update(id, true, true);  // an update of ours in flight
            std::string toA = encryptedFor(r2i, body, "dir", header);
            entry([&] { a.onUpdated(toBytes(toA)); });
            entry([&] { a.open(toA); });
        } else {
            Bytes signedByB = toBytes(signedBy(w.b, body, in.h));
            entry([&] { a.onUpdated(signedByB); });
            entry([&] { a.onRemoved(signedByB); });
            entry([&] { a.onEstablished(signedByB); });
        }
        break;
    }
    case 11: {  // single messages: authorized, and encrypted
        TimestampReplayGuard replay(300, 64, fixedClock());
        Json p = in.p;
        v.substitute(p);
        if (p.is_object() && p.contains("authz") && p["authz"].is_object() && p["authz"].value("code", Json()) == "$code")
            try {
                p = authorizeSingleMessage(w.a, p, w.token, fixedClock());
            } catch (...) {
            }
        entry([&] { validateSingleMessage(p, w.a.publicKey(), *w.local, "CSE-b", replay); });
        std::string jwe = encryptedFor(w.b, payloadOf(in, p), "ECDH-ES+A128KW", in.h);
        entry([&] { decryptSingleMessage(jwe, w.b, replay); });
        break;
    }
    case 12: {  // misbehaviour reports
        MisbehaviourDesk desk([&](const std::string &who) -> std::optional<JoseKey> {
            if (who == "CSE-reporter") return w.reporter.publicKey();
            return std::nullopt;
        }, fixedClock());
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.reporter, finish(p), in.h));
        entry([&] { desk.receive(m); });
        break;
    }
    case 13: {  // transmission control
        TransmissionControl tc("CSE-field", w.maf.publicKey(), fixedClock());
        Json p = in.p;
        Bytes m = toBytes(signedBy(w.maf, finish(p), in.h));
        entry([&] { tc.apply(m); });
        break;
    }
    case 14: {  // the audit-log verifier on a file an attacker edited
        std::string path = w.dir + "/audit.log";
        Json p = in.p;
        v.substitute(p);
        std::string text;
        if (in.hasRaw) text.assign(in.raw.begin(), in.raw.end());
        else if (p.is_array())
            for (const Json &line : p) text += (line.is_string() ? line.get<std::string>() : line.dump()) + "\n";
        FILE *f = fopen(path.c_str(), "w");
        fwrite(text.data(), 1, text.size(), f);
        fclose(f);
        AuditVerdict verdict = AuditLog::verify(path, w.maf.publicKey());  // must not throw at all
        (void)verdict;
        break;
    }
    default: {  // access policies
        Json p = in.p;
        entry([&] { AccessPolicy::parse(in.hasRaw ? std::string(in.raw.begin(), in.raw.end()) : p.dump()); });
        break;
    }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static World world;
    if (size < 1) return 0;
    Json doc = Json::parse(data + 1, data + size, nullptr, false);
    Input in;
    if (doc.is_object()) {
        in.p = doc.contains("p") ? doc["p"] : Json();
        if (doc.contains("h")) in.h = doc["h"];
        if (doc.contains("i")) in.i = doc["i"];
        if (doc.contains("ih")) in.ih = doc["ih"];
        if (doc.contains("x") && doc["x"].is_string()) {
            in.raw = unhex(doc["x"].get<std::string>());
            in.hasRaw = true;
        }
    } else {
        in.raw.assign(data + 1, data + size);
        in.hasRaw = true;
        in.p = doc.is_discarded() ? Json() : doc;
    }
    try {
        run(world, data[0], in);
    } catch (const secsf::Error &) {
        // the harness could not build this message; entry points catch for themselves
    }
    return 0;
}
