#include "api.h"

#include "api_call.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "../se-plugins/registry_config.h"
#include "../se-plugins/se_report.h"
#include "../services/base64url.h"
#include "../services/jose.h"
#include "../services/messages.h"
#include "secsf/error.h"
#include "secsf/identifier.h"

namespace secsf::daemon {

namespace {

std::string percentDecoded(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        auto hex = [](char c) { return isxdigit((unsigned char)c) ? (isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10)) : -1; };
        if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
            throw Rejected{400, 4000, "the request target has a bad percent-escape"};
        out += (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
    }
    return out;
}

}  // namespace

Api::Api(const ConfigFile &config) : config_(config) {
    try {
        configureRegistry(registry_, [&](const char *k) { return config_.get(k); });
    } catch (const Error &e) {
        registryError_ = e.what();  // served as a 500 on every SE resource, with the sentence
    }
    policy_ = std::make_shared<svc::AccessPolicy>(
        svc::AccessPolicy::configured(config_.get("access-policy"), config_.get("access-policy-signer")));
    callers_ = std::make_shared<CallerMap>(CallerMap::parse(config_.get("secsfd-callers")));
    std::string state = config_.get("secsfd-state-dir");
    if (state.empty()) state = "/var/lib/secsf";
    keys_ = std::make_unique<KeyRegistry>(state + "/secsfd-keys.db");
    std::string logPath = config_.get("secsfd-audit-log");
    svc::JoseKey signer;
    try {
        signer = svc::JoseKey::load(auditKeyUri());
    } catch (const Error &e) {
        throw Error(Reason::Config, std::string("the audit log's checkpoint key: ") + e.what());
    }
    if (logPath.empty()) logPath = state + "/secsfd-audit.log";
    audit_ = std::make_unique<svc::AuditLog>(logPath, signer);
    // Beside the log, what an auditor verifies it with (secsf audit verify --key).
    std::string pub = signer.publicPem(), pubPath = logPath + ".pub";
    std::ofstream out(pubPath + ".new", std::ios::trunc);
    out << pub;
    out.close();
    if (!out || rename((pubPath + ".new").c_str(), pubPath.c_str()) != 0)
        throw Error(Reason::Config, "cannot write the audit log's public key to " + pubPath);
}

std::string Api::auditKeyUri() {
    std::string uri = config_.get("secsfd-audit-key");
    if (!uri.empty()) return uri;
    // Made once, in the default SE, and recorded like a caller's key under "secsfd";
    // its label is new for every state directory, so one that was lost leaves an old
    // key in the SE (for old logs) instead of blocking the new one.
    if (auto r = keys_->find("secsfd", "audit-checkpoints")) return r->uri;
    if (!registryError_.empty()) throw Error(Reason::Config, registryError_);
    SePlugin &se = registry_.able(CapKeyGen, "make the audit log's checkpoint key");
    auto rec = keys_->create("secsfd", "audit-checkpoints", [&] {
        KeyGenRequest req;
        req.label = "secsfd/secsfd/audit-checkpoints-" + svc::randomToken(6);
        auto key = se.generate(req);
        return KeyRecord{"", "", key->uri(), se.name(), keyTypeName(key->keyType()), 0};
    });
    if (!rec) throw Error(Reason::Config, "the key registry is in use");
    return rec->uri;
}

void Api::reload() {
    ConfigFile fresh = loadConfig(config_.path);
    auto policy = std::make_shared<svc::AccessPolicy>(
        svc::AccessPolicy::configured(fresh.get("access-policy"), fresh.get("access-policy-signer")));
    auto callers = std::make_shared<CallerMap>(CallerMap::parse(fresh.get("secsfd-callers")));
    std::lock_guard<std::mutex> g(mu_);
    policy_ = policy;
    callers_ = callers;
}

std::shared_ptr<const svc::AccessPolicy> Api::policy() const {
    std::lock_guard<std::mutex> g(mu_);
    return policy_;
}

std::shared_ptr<const CallerMap> Api::callers() const {
    std::lock_guard<std::mutex> g(mu_);
    return callers_;
}

ApiResponse Api::handle(const ApiRequest &req, const Peer &peer) const {
    ApiResponse resp;
    std::optional<std::string> entity;
    if (!peer.tls) entity = callers()->entityFor(peer.uid, peer.gid);
    else if (peer.certificateIds.size() == 1) entity = peer.certificateIds[0];
    try {
        if (peer.tls && peer.certificateIds.size() != 1)
            throw Refused{peer.certificateIds.empty()
                              ? "the client certificate names no AE-ID or CSE-ID (a URI in its subjectAltName)"
                              : "the client certificate names several identities; secsfd takes one"};
        if (peer.tls) checkIdentifier("entity id in the client certificate", *entity);
        if (!entity)
            throw Refused{"uid " + std::to_string(peer.uid) + " (gid " + std::to_string(peer.gid) +
                          ") is not mapped to an AE-ID or CSE-ID: add it to secsfd-callers"};
        auto origin = req.headers.find("x-m2m-origin");
        if (origin != req.headers.end() && origin->second != *entity)
            throw Refused{"X-M2M-Origin '" + origin->second.substr(0, 256) + "' is not the caller, who is '" + *entity +
                          "' by its credentials"};
        Call call{req, *entity, {}, {}, policy()};
        std::string path = req.target.substr(0, req.target.find('?'));
        if (path.empty() || path[0] != '/') throw Rejected{400, 4000, "the request target is not an absolute path"};
        for (size_t at = 1; at <= path.size();) {
            size_t next = path.find('/', at);
            if (next == std::string::npos) next = path.size();
            call.path.push_back(percentDecoded(path.substr(at, next - at)));
            at = next + 1;
        }
        if (!call.path.empty() && call.path.back().empty()) call.path.pop_back();  // a trailing '/'
        size_t q = req.target.find('?');
        if (q != std::string::npos) {
            std::string query = req.target.substr(q + 1);
            for (size_t at = 0; at < query.size();) {
                size_t next = query.find('&', at);
                if (next == std::string::npos) next = query.size();
                std::string kv = query.substr(at, next - at);
                size_t eq = kv.find('=');
                if (!kv.empty())
                    call.query[percentDecoded(kv.substr(0, eq))] = eq == std::string::npos ? "" : percentDecoded(kv.substr(eq + 1));
                at = next + 1;
            }
        }
        resp = route(call);
    } catch (const Refused &r) {
        resp = failure(403, 4103, r.why);
    } catch (const Rejected &r) {
        resp = failure(r.status, r.rsc, r.why);
    } catch (const Error &e) {
        resp = failureFor(e);
    } catch (const std::bad_alloc &) {
        resp = failure(500, 5000, "out of memory");
    } catch (const std::exception &e) {
        resp = failure(500, 5000, std::string("internal error: ") + e.what());
    }
    try {
        std::string target = req.target.substr(0, 512);
        std::string outcome = std::to_string(resp.rsc) + (resp.why.empty() ? "" : ": " + resp.why);
        std::string who = entity ? *entity : peer.tls ? "a client certificate without one identity" : "uid " + std::to_string(peer.uid);
        audit_->append({"in", who.substr(0, 1024), req.method.substr(0, 16) + " " + target,
                        Bytes(target.begin(), target.end()), outcome});
    } catch (const std::exception &e) {
        resp = failure(503, 5000, std::string("not answered: the audit log did not take the record (") + e.what() + ")");
    }
    auto ri = req.headers.find("x-m2m-ri");
    if (ri != req.headers.end()) resp.headers["X-M2M-RI"] = ri->second;
    return resp;
}

ApiResponse Api::route(Call &call) const {
    const std::string &m = call.req.method;
    const auto &p = call.path;
    auto only = [&](const char *method) {
        if (m != method) throw Rejected{405, 4005, std::string("this resource takes ") + method + ", not " + m};
    };
    if (p.empty()) throw Rejected{404, 4004, "no resource here: see /health, /se, /functions, /random, /storage, /keys, /secrets"};
    if (p[0] == "health" && p.size() == 1) {
        only("GET");
        return jsonResponse(200, 2000, {{"status", "serving"}, {"entity", call.entity}});
    }
    if (!registryError_.empty()) throw Error(Reason::Config, registryError_);
    if (p[0] == "se" && p.size() == 1) {
        only("GET");
        call.authorize("se.list", "*", "");
        return jsonResponse(200, 2000, seReport(registry_));
    }
    if (p[0] == "functions" && p.size() == 1) {
        only("GET");
        call.authorize("functions.list", "*", "");
        return jsonResponse(200, 2000, functionReport(registry_, config_.get("function-levels")));
    }
    if (p[0] == "random" && p.size() == 1) {
        only("GET");
        std::string n = call.param("bytes");
        if (n.empty()) n = "32";
        if (n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos || atoi(n.c_str()) < 1 ||
            atoi(n.c_str()) > 1024)
            throw Rejected{400, 4000, "bytes must be a number from 1 to 1024"};
        SePlugin &se = registry_.able(CapRandom, "make random numbers", call.param("se"));
        call.authorize("random", se.name(), "");
        Bytes r = se.random((size_t)atoi(n.c_str()));
        return jsonResponse(200, 2000, {{"se", se.name()}, {"bytes", r.size()}, {"value", svc::b64url(r)}});
    }
    if (p[0] == "storage") return storage(call);
    if (p[0] == "keys") return keys(call);
    if (p[0] == "secrets") return secrets(call);
    throw Rejected{404, 4004, "no resource '" + p[0].substr(0, 64) + "': see /health, /se, /functions, /random, /storage, /keys, /secrets"};
}

// /storage/OWNER: GET lists; /storage/OWNER/NAME: PUT stores the body, GET returns it,
// DELETE removes it. OWNER is an AE-ID or CSE-ID (percent-encode a CSE-ID's '/').
ApiResponse Api::storage(Call &call) const {
    const std::string &m = call.req.method;
    const auto &p = call.path;
    if (p.size() < 2 || p.size() > 3) throw Rejected{404, 4004, "storage resources are /storage/OWNER and /storage/OWNER/NAME"};
    const std::string &owner = p[1];
    checkIdentifier("owner", owner);
    SePlugin &se = registry_.able(CapStorage, "store data", call.param("se"));
    if (p.size() == 2) {
        if (m != "GET") throw Rejected{405, 4005, "/storage/OWNER takes GET, not " + m};
        call.authorize("storage.list", owner + "/*", owner);
        return jsonResponse(200, 2000, {{"se", se.name()}, {"owner", owner}, {"names", se.storageList(owner)}});
    }
    const std::string &name = p[2];
    checkStorageName(name);
    std::string object = owner + "/" + name;
    if (m == "PUT") {
        call.authorize("storage.put", object, owner);
        Bytes data(call.req.body.begin(), call.req.body.end());
        se.storagePut(owner, name, data);
        return jsonResponse(201, 2001, {{"se", se.name()}, {"stored", object}, {"bytes", data.size()}});
    }
    if (m == "GET") {
        call.authorize("storage.get", object, owner);
        Bytes data = se.storageGet(owner, name);
        ApiResponse r;
        r.contentType = "application/octet-stream";
        r.body.assign(data.begin(), data.end());
        return r;
    }
    if (m == "DELETE") {
        call.authorize("storage.delete", object, owner);
        if (!se.storageDelete(owner, name)) throw Error(Reason::NotFound, "no stored object " + object);
        return jsonResponse(200, 2002, {{"se", se.name()}, {"deleted", object}});
    }
    throw Rejected{405, 4005, "/storage/OWNER/NAME takes PUT, GET or DELETE, not " + m};
}

}  // namespace secsf::daemon
