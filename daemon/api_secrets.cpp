// /secrets/OWNER: GET lists the caller's secrets (symmetric keys kept in an SE).
// /secrets/OWNER/NAME: PUT puts the body (16 to 64 bytes: an enrolment key Ke, a
//   pre-provisioned key) into an SE as a key object that cannot be read back; DELETE
//   removes it.
// /secrets/OWNER/NAME/hmac: POST {"data": base64url}: HMAC-SHA-256 inside the SE.
// /secrets/OWNER/NAME/derive: POST {"mode": "Km"|"Kpsa"|"usage-constrained"|
//   "sessionESPrimKey", "id", "suid", "target", "receiverRand", "originatorRand",
//   "into": NEWNAME}: the TS-0003 derivation (the provider's ONEM2M-KDF, HMAC in the SE),
//   its result put into the SE as OWNER/NEWNAME; no derived key is ever answered.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>

#include <functional>
#include <map>
#include <vector>

#include "../services/base64url.h"
#include "../services/messages.h"
#include "api.h"
#include "api_call.h"
#include "secsf/identifier.h"

namespace secsf::daemon {

namespace {

svc::Json describeSecret(const KeyRecord &r) {
    return {{"owner", r.owner}, {"name", r.name}, {"se", r.se}, {"uri", r.uri}, {"created", r.created}};
}
}  // namespace

std::shared_ptr<SeKey> Api::secretOf(const KeyRecord &r) const {
    if (r.type != kSecretType) throw Error(Reason::BadInput, r.owner + "/" + r.name + " is a key pair: see /keys");
    return registry_.forUri(r.uri).findSecret(r.uri);
}

ApiResponse Api::secrets(Call &call) const {
    const std::string &m = call.req.method;
    const auto &p = call.path;
    if (p.size() < 2 || p.size() > 4 || (p.size() == 4 && p[3] != "hmac" && p[3] != "derive"))
        throw Rejected{404, 4004, "secret resources are /secrets/OWNER, /secrets/OWNER/NAME and /secrets/OWNER/NAME/hmac|derive"};
    const std::string &owner = p[1];
    checkIdentifier("owner", owner);
    if (p.size() == 2) {
        if (m != "GET") throw Rejected{405, 4005, "/secrets/OWNER takes GET, not " + m};
        call.authorize("secret.list", owner + "/*", owner);
        svc::Json out = svc::Json::array();
        for (const KeyRecord &r : keys_->list(owner))
            if (r.type == kSecretType) out.push_back(describeSecret(r));
        return jsonResponse(200, 2000, {{"owner", owner}, {"secrets", out}});
    }
    const std::string &name = p[2];
    checkStorageName(name);
    std::string object = owner + "/" + name;
    // Puts a secret into an SE as owner/into (make(label) returns its uri and SE) and records it.
    auto keep = [&](const std::string &into, const std::function<std::pair<std::string, std::string>(const std::string &)> &make) {
        auto rec = keys_->create(owner, into, [&] {
            auto [uri, se] = make("secsfd/" + owner + "/" + into);
            return KeyRecord{"", "", uri, se, kSecretType, 0};
        });
        if (!rec) throw Rejected{409, 4105, "there is a key or secret " + owner + "/" + into + " already: delete it first"};
        return describeSecret(*rec);
    };
    if (p.size() == 4) {
        const std::string &op = p[3];
        if (m != "POST") throw Rejected{405, 4005, "/secrets/OWNER/NAME/" + op + " takes POST, not " + m};
        call.authorize("secret." + op, object, owner);
        auto rec = keys_->find(owner, name);
        if (!rec) throw Error(Reason::NotFound, "no secret " + object);
        svc::Json body = svc::parseObject(Bytes(call.req.body.begin(), call.req.body.end()), "the request");
        if (op == "hmac") {
            svc::Bytes data = svc::unb64url(svc::member(body, "data"));
            SecureBytes mac = secretOf(*rec)->hmac(NID_sha256, Bytes(data.begin(), data.end()));
            return jsonResponse(200, 2000, {{"secret", object}, {"mac", svc::b64url(mac.data(), mac.size())}});
        }
        secretOf(*rec);  // a secret, and still in its SE
        std::string into = svc::member(body, "into");
        checkStorageName(into);
        call.authorize("secret.put", owner + "/" + into, owner);
        std::string mode = svc::member(body, "mode");
        if (mode != "Km" && mode != "Kpsa" && mode != "usage-constrained" && mode != "sessionESPrimKey")
            throw Error(Reason::BadInput, "mode must be Km, Kpsa, usage-constrained or sessionESPrimKey");
        std::map<std::string, std::string> text = {{"id", svc::optMember(body, "id")}, {"suid", svc::optMember(body, "suid")},
                                                   {"target-id", svc::optMember(body, "target")}};
        svc::Bytes receiverRand = svc::unb64url(svc::optMember(body, "receiverRand"));
        svc::Bytes originatorRand = svc::unb64url(svc::optMember(body, "originatorRand"));
        svc::Json out = keep(into, [&](const std::string &label) {
            std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "ONEM2M-KDF", "provider=secsf"),
                                                                  EVP_KDF_free);
            std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> c(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr,
                                                                        EVP_KDF_CTX_free);
            if (!c) throw Error(Reason::Config, "the secsf provider's ONEM2M-KDF is not loaded in secsfd");
            std::string keyUri = rec->uri, labelCopy = label;
            std::vector<OSSL_PARAM> params;
            params.push_back(OSSL_PARAM_construct_utf8_string("mode", mode.data(), 0));
            params.push_back(OSSL_PARAM_construct_utf8_string("key-uri", keyUri.data(), 0));
            params.push_back(OSSL_PARAM_construct_utf8_string("store-label", labelCopy.data(), 0));
            for (auto &[k, v] : text)
                if (!v.empty()) params.push_back(OSSL_PARAM_construct_utf8_string(k.c_str(), v.data(), 0));
            if (!receiverRand.empty())
                params.push_back(OSSL_PARAM_construct_octet_string("receiver-rand", receiverRand.data(), receiverRand.size()));
            if (!originatorRand.empty())
                params.push_back(OSSL_PARAM_construct_octet_string("originator-rand", originatorRand.data(), originatorRand.size()));
            params.push_back(OSSL_PARAM_construct_end());
            std::string uri(512, '\0');  // with store-label, the stored object's URI comes back here
            if (EVP_KDF_derive(c.get(), reinterpret_cast<unsigned char *>(&uri[0]), uri.size(), params.data()) != 1) {
                unsigned long e = ERR_get_error();
                char why[256] = "";
                if (e) ERR_error_string_n(e, why, sizeof why);
                ERR_clear_error();
                throw Error(Reason::BadInput, std::string("the derivation failed: ") + why);
            }
            uri.resize(uri.find('\0'));
            return std::make_pair(uri, registry_.forUri(uri).name());
        });
        out["derivedFrom"] = object;
        return jsonResponse(201, 2001, out);
    }
    if (m == "PUT") {
        call.authorize("secret.put", object, owner);
        const std::string &v = call.req.body;
        if (v.size() < 16 || v.size() > 64) throw Error(Reason::BadInput, "a secret is 16 to 64 bytes");
        SePlugin &se = registry_.able(CapHmac, "keep secrets", call.param("se"));
        svc::Json out = keep(name, [&](const std::string &label) {
            auto key = se.importSecret(SecureBytes(v.begin(), v.end()), label, "");
            return std::make_pair(key->uri(), se.name());
        });
        return jsonResponse(201, 2001, out);
    }
    if (m == "DELETE") {
        call.authorize("secret.delete", object, owner);
        auto rec = keys_->find(owner, name);
        if (!rec || rec->type != kSecretType) throw Error(Reason::NotFound, "no secret " + object);
        registry_.forUri(rec->uri).deleteKey(rec->uri);
        keys_->release(owner, name);
        return jsonResponse(200, 2002, {{"deleted", object}});
    }
    throw Rejected{405, 4005, "/secrets/OWNER/NAME takes PUT or DELETE (its value is never read back), not " + m};
}

}  // namespace secsf::daemon
