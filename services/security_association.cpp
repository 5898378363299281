#include "security_association.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <mutex>

#include "jwt.h"
#include "messages.h"
#include "openssl_error.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

SecureBytes hkdf(const SecureBytes &key, const std::string &salt, const std::string &info, size_t len) {
    EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", "provider=default");
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key.data(), key.size()),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.data(), salt.size()),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.data(), info.size()),
                      OSSL_PARAM_construct_end()};
    SecureBytes out(len);
    bool ok = c && EVP_KDF_derive(c, out.data(), len, p) > 0;
    EVP_KDF_CTX_free(c);
    if (!ok) throw Error(Reason::Generic, "HKDF failed: " + takeOpensslError());
    return out;
}

std::string mac(const SecureBytes &key, const std::string &data) {
    JoseKey k = JoseKey::fromSecret(key);
    std::string jws = jwsSign(k, Bytes(data.begin(), data.end()), {{"alg", "HS256"}});
    return jws.substr(jws.rfind('.') + 1);
}

// An SA identifier is made by both ends: the initiator's part (sent in SaInitiate)
// followed by the responder's, each 16 base64url characters of fresh randomness. No
// peer alone can choose an identifier another SA of ours already has.
constexpr size_t kIdPart = 16;

bool base64url(const std::string &s) {
    for (char c : s)
        if (!isalnum((unsigned char)c) && c != '-' && c != '_') return false;
    return true;
}
bool validIdPart(const std::string &s) { return s.size() == kIdPart && base64url(s); }
bool validSaId(const std::string &s) { return s.size() == 2 * kIdPart && base64url(s); }

struct Verified {
    Json body;
    JoseKey key;         // the signer's key, from the header
    std::string holder;  // the credential's subject (temporary identity)
    int64_t credentialExpiry = 0;
};

}  // namespace

struct SecurityAssociations::Impl {
    struct Sa {
        SaInfo info;
        std::string ourCredential, peerCredential;
        JoseKey peerKey;
        JoseKey sendKey, recvKey;  // AES-256-GCM, one per direction (as JOSE dir keys)
        SequenceReplayGuard recvSeq{256};
        uint64_t sendSeq = 0;
        uint64_t savedSend = 0, savedRecv = 0;  // what the store promises (see persist)
        int64_t notBefore = 0;  // after a restart: older messages may have been seen already
        std::string challenge, expectedConfirm;  // while being established
    };
    struct Pending {
        std::string responder, challenge, idPart;
    };

    static constexpr uint64_t kReserve = 64;  // sequence numbers between two saves

    SaConfig cfg;
    mutable std::mutex mu;
    std::map<std::string, Sa> sas;
    std::map<std::string, Pending> initiated;  // by the SaInitiate nonce
    // Handshake nonces, per peer credential: one peer cannot crowd out the others.
    // Secured messages need none: each SA's sequence window refuses replays.
    PeerReplayGuard replay;

    explicit Impl(SaConfig c)
        : cfg(std::move(c)), replay(cfg.maxSkew, 4096, std::max<size_t>(cfg.maxAssociations, 1), cfg.clock) {}

    // The SA, sealed to our own SE key, in the store; sequence numbers saved with a
    // reserve ahead of where they are.
    void persist(Sa &sa) {
        if (!cfg.store) return;
        sa.savedSend = sa.sendSeq + kReserve;  // a restarted sender continues past these
        sa.savedRecv = sa.recvSeq.highest();
        Json r = {{"id", sa.info.id}, {"peer", sa.info.peer}, {"suite", sa.info.suite}, {"expires", sa.info.expires},
                  {"valid", sa.info.valid}, {"initiator", sa.info.initiator}, {"ours", sa.ourCredential},
                  {"theirs", sa.peerCredential}, {"peerKey", sa.peerKey.publicJwk()},
                  {"send", b64url(sa.sendKey.secret().data(), sa.sendKey.secret().size())},
                  {"recv", b64url(sa.recvKey.secret().data(), sa.recvKey.secret().size())},
                  {"sendSeq", sa.savedSend}, {"recvSeq", sa.savedRecv}, {"challenge", sa.challenge},
                  {"expectedConfirm", sa.expectedConfirm}};
        std::string s = r.dump();
        std::string sealed = jweEncrypt(cfg.key.publicKey(), Bytes(s.begin(), s.end()),
                                        cfg.key.isRsa() ? "RSA-OAEP-256" : "ECDH-ES+A256KW", "A256GCM");
        OPENSSL_cleanse(s.data(), s.size());
        cfg.store->putPending("sa:" + sa.info.id, sealed, std::max(sa.info.expires, cfg.clock() + 1));
    }
    void forget(const std::string &id) {
        if (cfg.store) cfg.store->takePending("sa:" + id, cfg.clock());
    }

    void load() {
        if (!cfg.store) return;
        int64_t now = cfg.clock();
        for (auto &[key, sealed] : cfg.store->pendingWithPrefix("sa:", now)) {
            SecureBytes pt = jweDecrypt(sealed, cfg.key);
            Json r = parseJson(pt);
            if (!r.is_object()) continue;
            // Our own record, sealed to our own key; still read as carefully as a peer's.
            try {
                sas.emplace(r.at("id").get<std::string>(), restore(r, now));
            } catch (const Json::exception &) {
            } catch (const Error &) {
            }
        }
        for (auto &[key, value] : cfg.store->pendingWithPrefix("sai:", now)) {
            Json p = parseJson(value);
            if (p.is_object() && p.contains("responder") && p["responder"].is_string() && p.contains("challenge") &&
                p["challenge"].is_string() && p.contains("idPart") && p["idPart"].is_string())
                initiated[key.substr(4)] = {p["responder"].get<std::string>(), p["challenge"].get<std::string>(),
                                            p["idPart"].get<std::string>()};
        }
    }

    // An SA from its stored record (Json::exception or Error when the record is not one).
    Sa restore(const Json &r, int64_t now) {
        auto str = [&](const char *name) { return r.at(name).get<std::string>(); };
        Sa sa;
        sa.info = {str("id"), str("peer"), str("suite"), r.at("expires").get<int64_t>(), r.at("valid").get<bool>(),
                   r.at("initiator").get<bool>()};
        sa.ourCredential = str("ours");
        sa.peerCredential = str("theirs");
        sa.peerKey = JoseKey::fromJwk(r.at("peerKey"));
        Bytes send = unb64url(str("send")), recv = unb64url(str("recv"));
        sa.sendKey = JoseKey::fromSecret(SecureBytes(send.begin(), send.end()));
        sa.recvKey = JoseKey::fromSecret(SecureBytes(recv.begin(), recv.end()));
        OPENSSL_cleanse(send.data(), send.size());
        OPENSSL_cleanse(recv.data(), recv.size());
        sa.sendSeq = sa.savedSend = r.at("sendSeq").get<uint64_t>();
        sa.savedRecv = r.at("recvSeq").get<uint64_t>();
        sa.recvSeq.resumeAt(sa.savedRecv);
        // What arrived between the last save and the restart is not known: refuse
        // everything made before now, and keep the sequence window closed below.
        sa.notBefore = now;
        sa.challenge = r.value("challenge", "");
        sa.expectedConfirm = r.value("expectedConfirm", "");
        return sa;
    }

    Bytes signedMessage(Json body) {
        body["iat"] = cfg.clock();
        return toBytes(jwsSign(cfg.key, body, {{"jwk", cfg.key.publicJwk()}}));
    }

    // A message from a credential holder: the MAF's statement, its key, its signature.
    Verified verifyHolder(const std::string &text, const char *type) {
        Jws peek = jwsPeek(text);
        Json claimed = parseObject(peek.payload, "the message");
        if (!peek.header.contains("jwk")) throw Error(Reason::BadInput, "the message names no key");
        Verified v;
        v.key = JoseKey::fromJwk(peek.header["jwk"]);
        Json cred = jwtVerify(member(claimed, "credential"), cfg.mafKey, {cfg.mafName, cfg.mafName}, cfg.clock);
        if (!cred.contains("cnf") || !cred["cnf"].is_object() || optMember(cred["cnf"], "jkt") != jwkThumbprint(v.key))
            throw Error(Reason::BadInput, "the key is not the credential holder's");
        v.body = verifiedMessage(text, v.key, type);
        checkFresh(v.body, cfg.clock, cfg.maxSkew);
        v.holder = member(cred, "sub");
        if (replay.check(v.holder, member(v.body, "nonce"), v.body["iat"].get<int64_t>()) != Freshness::Fresh)
            throw Error(Reason::BadInput, cause::kReplayed);
        v.credentialExpiry = cred["exp"].get<int64_t>();
        return v;
    }

    // Both directions' keys from ECDH between the two SE keys.
    void deriveKeys(Sa &sa, const JoseKey &peer, const std::string &initiator, const std::string &responder) {
        SecureBytes z = ecdhSecret(cfg.key, peer);
        SecureBytes k = hkdf(z, sa.info.id, "oneM2M SA " + initiator + " " + responder, 64);
        SecureBytes i2r(k.begin(), k.begin() + 32), r2i(k.begin() + 32, k.end());
        sa.sendKey = JoseKey::fromSecret(sa.info.initiator ? i2r : r2i);
        sa.recvKey = JoseKey::fromSecret(sa.info.initiator ? r2i : i2r);
    }

    void makeRoom() {
        int64_t now = cfg.clock();
        if (sas.size() < cfg.maxAssociations) return;
        for (auto it = sas.begin(); it != sas.end();)
            it = (!it->second.info.valid || it->second.info.expires <= now) ? sas.erase(it) : std::next(it);
        if (sas.size() >= cfg.maxAssociations) throw Rejected(cause::kAdministrative);
    }

    Bytes reject(const char *type, const std::string &inReplyTo, const std::string &why) {
        return signedMessage({{"type", type}, {"result", "Failure"}, {"cause", why}, {"inReplyTo", inReplyTo},
                              {"credential", cfg.credential.jwt}, {"nonce", randomToken()}});
    }

    Bytes onInitiate(const std::string &text) {
        std::string inReplyTo, idPart;
        Verified v;
        try {
            inReplyTo = member(parseObject(jwsPeek(text).payload, "m"), "nonce");
            v = verifyHolder(text, "SaInitiate");
            if (member(v.body, "responder") != cfg.credential.id) throw Error(Reason::BadInput, "not for us");
            idPart = member(v.body, "saIdPart");
            if (!validIdPart(idPart)) throw Error(Reason::BadInput, "an SA identifier part of the wrong form");
            if (cfg.authz) {
                Json t = cfg.authz->validate(member(v.body, "ticket"), cfg.audience);
                if (member(t, "sub") != v.holder) throw Error(Reason::BadInput, "the ticket is someone else's");
            }
        } catch (const Error &) {
            return reject("SaAccept", inReplyTo, cause::kAdministrative);  // table 24
        }
        std::string suite;
        const Json &possible = v.body.contains("possibleSAs") ? v.body["possibleSAs"] : Json::array();
        for (const Json &s : possible.is_array() ? possible : Json::array())
            if (s.is_string() && std::find(cfg.suites.begin(), cfg.suites.end(), s.get<std::string>()) != cfg.suites.end()) {
                suite = s;
                break;
            }
        if (suite.empty()) return reject("SaAccept", inReplyTo, cause::kNoCommonParameters);  // table 25
        try {
            makeRoom();
        } catch (const Rejected &) {
            return reject("SaAccept", inReplyTo, cause::kAdministrative);
        }
        Sa sa;
        sa.info = {idPart + randomToken(12), v.holder, suite, std::min(cfg.credential.expires, v.credentialExpiry), false,
                   false};
        if (sas.count(sa.info.id)) return reject("SaAccept", inReplyTo, cause::kAdministrative);
        sa.ourCredential = cfg.credential.id;
        sa.peerCredential = v.holder;
        sa.peerKey = v.key;
        try {
            deriveKeys(sa, JoseKey::fromJwk(v.body.contains("initiatorKey") ? v.body["initiatorKey"] : Json()), v.holder,
                       cfg.credential.id);
        } catch (const Error &) {
            return reject("SaAccept", inReplyTo, cause::kAdministrative);
        }
        sa.challenge = randomToken();
        sa.expectedConfirm = mac(sa.recvKey.secret(), "initiator confirms " + sa.info.id);
        Json body = {{"type", "SaAccept"}, {"result", "Success"}, {"inReplyTo", inReplyTo}, {"saId", sa.info.id},
                     {"securityAssociation", suite}, {"responder", cfg.credential.id}, {"credential", cfg.credential.jwt},
                     {"responderKey", cfg.key.publicJwk()}, {"challengeResponse", member(v.body, "challenge")},
                     {"keyConfirmation", mac(sa.sendKey.secret(), "responder confirms " + sa.info.id)},
                     {"initiatorChallenge", sa.challenge}, {"expires", sa.info.expires}, {"nonce", randomToken()}};
        std::string id = sa.info.id;
        persist(sa);
        sas.emplace(id, std::move(sa));
        return signedMessage(body);
    }

    Bytes onConfirm(const std::string &text) {
        Json claimed = parseObject(jwsPeek(text).payload, "m");
        std::string id = member(claimed, "saId");
        auto it = sas.find(id);
        if (it == sas.end() || it->second.info.valid || it->second.info.initiator)
            return reject("SaEstablished", id, cause::kUnknownSa);
        Sa &sa = it->second;
        try {
            Json m = verifiedMessage(text, sa.peerKey, "SaConfirm");
            checkFresh(m, cfg.clock, cfg.maxSkew);
            if (member(m, "challengeResponse") != sa.challenge || member(m, "keyConfirmation") != sa.expectedConfirm)
                throw Error(Reason::BadInput, "confirmation does not match");
        } catch (const Error &) {
            sas.erase(it);
            forget(id);
            return reject("SaEstablished", id, cause::kAdministrative);
        }
        sa.info.valid = true;
        sa.challenge.clear();
        persist(sa);
        return signedMessage({{"type", "SaEstablished"}, {"result", "Success"}, {"saId", id}, {"nonce", randomToken()}});
    }

    Sa &usable(const std::string &id) {
        auto it = sas.find(id);
        if (it == sas.end()) throw Rejected(cause::kUnknownSa);
        if (!it->second.info.valid || it->second.info.expires <= cfg.clock()) throw Rejected(cause::kSaInvalid);
        return it->second;
    }

    std::string sealWith(Sa &sa, Json body) {
        std::string s = body.dump();
        return jweEncrypt(sa.sendKey, Bytes(s.begin(), s.end()), "dir", "A256GCM",
                          {{"kid", sa.info.id}});
    }

    static std::string kidOf(const std::string &jwe) {
        Bytes h = unb64url(jwe.substr(0, jwe.find('.')));
        Json j = parseJson(h);
        if (!j.is_object() || !j.contains("kid") || !j["kid"].is_string()) throw Error(Reason::BadInput, "a sealed message names no SA");
        return j["kid"];
    }

    Json openWith(Sa &sa, const std::string &jwe) {
        SecureBytes pt;
        try {
            pt = jweDecrypt(jwe, sa.recvKey);
        } catch (const Error &) {
            throw Rejected(cause::kDecryptionFailure);
        }
        Json m = parseJson(pt);
        if (!m.is_object()) throw Rejected(cause::kDecryptionFailure);
        return m;
    }

    void rekey(Sa &sa, const std::string &a, const std::string &b) {
        SecureBytes both = (sa.info.initiator ? sa.sendKey : sa.recvKey).secret();  // i2r first, then r2i
        const SecureBytes &r2i = (sa.info.initiator ? sa.recvKey : sa.sendKey).secret();
        both.insert(both.end(), r2i.begin(), r2i.end());
        SecureBytes k = hkdf(both, a + b, "oneM2M SA update " + sa.info.id, 64);
        SecureBytes i2r(k.begin(), k.begin() + 32), nr2i(k.begin() + 32, k.end());
        sa.sendKey = JoseKey::fromSecret(sa.info.initiator ? i2r : nr2i);
        sa.recvKey = JoseKey::fromSecret(sa.info.initiator ? nr2i : i2r);
    }

    void rename(const std::string &from, const std::string &to) {
        auto node = sas.extract(from);
        node.key() = to;
        node.mapped().info.id = to;
        sas.insert(std::move(node));
    }

    Bytes onSealed(const std::string &jwe) {
        std::string id = kidOf(jwe);
        auto it = sas.find(id);
        std::string type = "SaUpdated";
        auto refuse = [&](const char *why) { return reject(type.c_str(), id, why); };
        if (it == sas.end()) return refuse(cause::kUnknownSa);
        Sa &sa = it->second;
        Json m;
        try {
            m = openWith(sa, jwe);
        } catch (const Rejected &) {
            return refuse(cause::kDecryptionFailure);
        }
        std::string what = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "";
        type = what == "SaRemove" ? "SaRemoved" : "SaUpdated";
        if (!sa.info.valid) return refuse(cause::kSaInvalid);
        if (what == "SaRemove") {
            sa.info.valid = false;
            sa.sendKey = JoseKey();
            sa.recvKey = JoseKey();
            forget(id);
            return signedMessage({{"type", "SaRemoved"}, {"result", "Accepted"}, {"saId", id}, {"nonce", randomToken()}});
        }
        if (what != "SaUpdate") return refuse(cause::kDecryptionFailure);
        bool newKeys;
        std::string newId, theirs;
        try {
            newKeys = boolMember(m, "newKeys");
            newId = optMember(m, "newSaId");
            theirs = optMember(m, "initiatorNonce");
        } catch (const Error &) {
            return refuse(cause::kDecryptionFailure);
        }
        if (newKeys && !cfg.willingToRekey) return refuse(cause::kUnwillingToChangeKey);
        // A new identifier must be new here: renaming onto another SA would replace it.
        if (!newId.empty() && (!validSaId(newId) || sas.count(newId))) return refuse(cause::kAdministrative);
        std::string ours = randomToken();
        Json answer = {{"type", "SaUpdated"}, {"result", "Accepted"}, {"saId", id}, {"newSaId", newId},
                       {"responderNonce", ours}, {"updated", newKeys ? (newId.empty() ? "keys" : "identifier and keys") : "identifier"}};
        std::string sealed = sealWith(sa, answer);  // under the keys both still hold
        if (newKeys) rekey(sa, theirs, ours);
        if (!newId.empty()) {
            forget(id);
            rename(id, newId);
        }
        persist(sas.at(newId.empty() ? id : newId));
        return toBytes(sealed);
    }
};

SecurityAssociations::SecurityAssociations(SaConfig cfg) : d_(std::make_unique<Impl>(std::move(cfg))) {
    if (d_->cfg.credential.jwt.empty() || d_->cfg.key.empty() || d_->cfg.mafKey.empty())
        throw Error(Reason::Config, "security associations need a session credential, its key and the MAF's key");
    d_->load();
}
SecurityAssociations::~SecurityAssociations() = default;

Bytes SecurityAssociations::initiate(const std::string &responder, const std::string &ticket) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string nonce = randomToken(), challenge = randomToken(), idPart = randomToken(12);
    d_->initiated[nonce] = {responder, challenge, idPart};
    if (d_->cfg.store)
        d_->cfg.store->putPending("sai:" + nonce,
                                  Json{{"responder", responder}, {"challenge", challenge}, {"idPart", idPart}}.dump(),
                                  d_->cfg.clock() + 2 * d_->cfg.maxSkew);
    return d_->signedMessage({{"type", "SaInitiate"}, {"initiator", d_->cfg.credential.id},
                              {"credential", d_->cfg.credential.jwt}, {"responder", responder},
                              {"possibleSAs", d_->cfg.suites}, {"initiatorKey", d_->cfg.key.publicJwk()},
                              {"ticket", ticket}, {"challenge", challenge}, {"saIdPart", idPart}, {"nonce", nonce}});
}

Bytes SecurityAssociations::onAccept(const Bytes &accept) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string text = toString(accept);
    Json claimed = parseObject(jwsPeek(text).payload, "the answer");
    auto p = d_->initiated.find(member(claimed, "inReplyTo"));
    if (p == d_->initiated.end()) throw Error(Reason::BadInput, "not an answer to a request of ours");
    Impl::Pending pending = p->second;
    Verified v = d_->verifyHolder(text, "SaAccept");  // genuine, refusals included
    d_->initiated.erase(p);
    if (d_->cfg.store) d_->cfg.store->takePending("sai:" + member(claimed, "inReplyTo"), d_->cfg.clock());
    if (member(v.body, "result") != "Success") throw Rejected(member(v.body, "cause"));
    if (v.holder != pending.responder || member(v.body, "challengeResponse") != pending.challenge)
        throw Error(Reason::BadInput, "the responder did not answer our challenge");
    std::string saId = member(v.body, "saId");
    if (!validSaId(saId) || saId.compare(0, kIdPart, pending.idPart) != 0 || d_->sas.count(saId))
        throw Error(Reason::BadInput, "the responder's SA identifier does not start with the part we chose for it");
    d_->makeRoom();
    Impl::Sa sa;
    sa.info = {saId, v.holder, member(v.body, "securityAssociation"),
               std::min(d_->cfg.credential.expires, v.credentialExpiry), false, true};
    sa.ourCredential = d_->cfg.credential.id;
    sa.peerCredential = v.holder;
    sa.peerKey = v.key;
    d_->deriveKeys(sa, JoseKey::fromJwk(v.body.contains("responderKey") ? v.body["responderKey"] : Json()),
                   d_->cfg.credential.id, v.holder);
    if (member(v.body, "keyConfirmation") != mac(sa.recvKey.secret(), "responder confirms " + sa.info.id))
        throw Error(Reason::BadInput, "the responder's key confirmation does not match: not the same keys");
    Bytes confirm = d_->signedMessage({{"type", "SaConfirm"}, {"saId", sa.info.id},
                                       {"challengeResponse", member(v.body, "initiatorChallenge")},
                                       {"keyConfirmation", mac(sa.sendKey.secret(), "initiator confirms " + sa.info.id)},
                                       {"nonce", randomToken()}});
    std::string id = sa.info.id;
    d_->persist(sa);
    d_->sas.emplace(id, std::move(sa));
    return confirm;
}

std::string SecurityAssociations::onEstablished(const Bytes &established) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string text = toString(established);
    std::string id = member(parseObject(jwsPeek(text).payload, "m"), "saId");
    auto it = d_->sas.find(id);
    if (it == d_->sas.end()) throw Error(Reason::BadInput, cause::kUnknownSa);
    Json m = verifiedMessage(text, it->second.peerKey, "SaEstablished");
    if (member(m, "result") != "Success") {
        d_->sas.erase(it);
        d_->forget(id);
        throw Rejected(optMember(m, "cause", cause::kAdministrative));
    }
    it->second.info.valid = true;
    d_->persist(it->second);
    return id;
}

Bytes SecurityAssociations::handle(const Bytes &message) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string text = toString(message);
    if (std::count(text.begin(), text.end(), '.') == 4) return d_->onSealed(text);
    std::string type = member(parseObject(jwsPeek(text).payload, "the message"), "type");
    if (type == "SaInitiate") return d_->onInitiate(text);
    if (type == "SaConfirm") return d_->onConfirm(text);
    throw Error(Reason::BadInput, "not a security-association message: " + type);
}

std::string SecurityAssociations::seal(const std::string &saId, const Json &message) {
    std::lock_guard<std::mutex> g(d_->mu);
    Impl::Sa &sa = d_->usable(saId);
    int64_t now = d_->cfg.clock();
    if (d_->cfg.store && sa.sendSeq + 1 >= sa.savedSend) d_->persist(sa);  // reserve more numbers first
    return d_->sealWith(sa, {{"seq", ++sa.sendSeq}, {"ts", now}, {"exp", now + d_->cfg.messageLifetime},
                             {"nonce", randomToken(16)}, {"message", message}});
}

Json SecurityAssociations::open(const std::string &sealed, std::string *saId) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string id = Impl::kidOf(sealed);
    Impl::Sa &sa = d_->usable(id);
    Json m = d_->openWith(sa, sealed);
    if (!m.is_object() || !m.contains("seq") || !m["seq"].is_number_unsigned() || !m.contains("ts") ||
        !m["ts"].is_number_integer() || !m.contains("exp") || !m["exp"].is_number_integer() || !m.contains("message"))
        throw Rejected(cause::kDecryptionFailure);
    int64_t now = d_->cfg.clock(), ts = m["ts"].get<int64_t>(), skew = d_->cfg.maxSkew;
    // Replays are the SA's own sequence window's business; the time only bounds
    // how long a message stays usable (and nothing made before a restart is taken).
    if (m["exp"].get<int64_t>() <= now || ts <= sa.notBefore || ts < now - skew || ts > now + skew ||
        sa.recvSeq.check(m["seq"].get<uint64_t>()) != Freshness::Fresh)
        throw Rejected(cause::kReplayed);
    if (d_->cfg.store && sa.recvSeq.highest() >= sa.savedRecv + Impl::kReserve) d_->persist(sa);
    if (saId) *saId = id;
    return m["message"];
}

Bytes SecurityAssociations::update(const std::string &saId, bool newIdentifier, bool newKeys) {
    std::lock_guard<std::mutex> g(d_->mu);
    Impl::Sa &sa = d_->usable(saId);
    Json body = {{"type", "SaUpdate"}, {"saId", saId}, {"newKeys", newKeys}, {"initiatorNonce", randomToken()}};
    if (newIdentifier) body["newSaId"] = randomToken(24);  // 32 characters, as validSaId wants
    sa.challenge = body.dump();  // remembered until the answer comes
    return toBytes(d_->sealWith(sa, body));
}

std::string SecurityAssociations::onUpdated(const Bytes &answer) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string text = toString(answer);
    if (std::count(text.begin(), text.end(), '.') != 4) {
        Json claimed = parseObject(jwsPeek(text).payload, "the answer");
        auto it = d_->sas.find(member(claimed, "inReplyTo"));
        if (it == d_->sas.end()) throw Error(Reason::BadInput, "an answer about an SA we do not have");
        Json m = verifiedMessage(text, it->second.peerKey, "SaUpdated");
        throw Rejected(member(m, "cause"));
    }
    std::string id = Impl::kidOf(text);
    Impl::Sa &sa = d_->usable(id);
    Json m = d_->openWith(sa, text);
    Json asked = parseJson(sa.challenge);
    if (!asked.is_object() || optMember(m, "type") != "SaUpdated" || optMember(m, "result") != "Accepted")
        throw Error(Reason::BadInput, "not the answer to our update");
    std::string theirs = optMember(m, "responderNonce");
    sa.challenge.clear();
    if (asked.value("newKeys", false)) d_->rekey(sa, asked.value("initiatorNonce", ""), theirs);
    std::string newId = asked.value("newSaId", "");
    if (!newId.empty()) {
        if (d_->sas.count(newId)) throw Error(Reason::BadInput, "the new SA identifier is taken");
        d_->forget(id);
        d_->rename(id, newId);
        d_->persist(d_->sas.at(newId));
        return newId;
    }
    d_->persist(sa);
    return id;
}

Bytes SecurityAssociations::remove(const std::string &saId) {
    std::lock_guard<std::mutex> g(d_->mu);
    auto it = d_->sas.find(saId);
    if (it == d_->sas.end()) throw Rejected(cause::kUnknownSa);
    if (!it->second.info.valid) throw Rejected(cause::kSaInvalid);
    std::string sealed = d_->sealWith(it->second, {{"type", "SaRemove"}, {"saId", saId}});
    it->second.info.valid = false;  // no more messages on it from here
    d_->persist(it->second);
    return toBytes(sealed);
}

void SecurityAssociations::onRemoved(const Bytes &answer) {
    std::lock_guard<std::mutex> g(d_->mu);
    std::string text = toString(answer);
    Json claimed = parseObject(jwsPeek(text).payload, "the answer");
    std::string id = optMember(claimed, "saId", optMember(claimed, "inReplyTo"));
    auto it = d_->sas.find(id);
    if (it == d_->sas.end()) throw Error(Reason::BadInput, "an answer about an SA we do not have");
    Json m = verifiedMessage(text, it->second.peerKey, "SaRemoved");
    it->second.sendKey = JoseKey();
    it->second.recvKey = JoseKey();
    d_->forget(id);
    if (optMember(m, "result") != "Accepted") throw Rejected(optMember(m, "cause", cause::kAdministrative));
}

int SecurityAssociations::removeForCredential(const std::string &credentialId) {
    std::lock_guard<std::mutex> g(d_->mu);
    int n = 0;
    for (auto &[id, sa] : d_->sas)
        if (sa.info.valid && (sa.ourCredential == credentialId || sa.peerCredential == credentialId)) {
            sa.info.valid = false;
            sa.sendKey = JoseKey();
            sa.recvKey = JoseKey();
            d_->forget(id);
            n++;
        }
    return n;
}

SaInfo SecurityAssociations::info(const std::string &saId) const {
    std::lock_guard<std::mutex> g(d_->mu);
    auto it = d_->sas.find(saId);
    if (it == d_->sas.end()) throw Rejected(cause::kUnknownSa);
    return it->second.info;
}

size_t SecurityAssociations::count() const {
    std::lock_guard<std::mutex> g(d_->mu);
    return d_->sas.size();
}

}  // namespace secsf::svc
