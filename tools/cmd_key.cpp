// secsf key gen|list|show|delete
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "../se-plugins/public_key.h"
#include "cli.h"
#include "secsfd_client.h"
#include "secsf/error.h"

namespace secsf::cli {

namespace {

int gen(Context &c, const Args &a) {
    Options o = parseOptions(a, {"se", "level", "type", "curve", "bits", "label", "where"}, {"replace-certificate"});
    if (!o.rest.empty()) throw UsageError("unexpected argument " + o.rest[0]);
    if (o.has("se") && o.has("level")) throw UsageError("--se and --level choose the SE two ways: give one");
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    SePlugin &se = !o.get("where").empty() ? c.registry.forUri(o.get("where"))
                   : o.has("level")        ? c.registry.byLevel(std::atoi(o.get("level").c_str()))
                                           : c.se(o.get("se"));
    c.authorize("key.gen", se.name(), "");
    KeyGenRequest req;
    std::string type = o.get("type", "ec");
    if (type == "ec") req.type = KeyType::EC, req.group = o.get("curve", "P-256");
    else if (type == "rsa") req.type = KeyType::RSA, req.bits = std::atoi(o.get("bits", "2048").c_str());
    else if (type == "ed25519") req.type = KeyType::ED25519;
    else throw UsageError("--type is ec, rsa or ed25519");
    req.label = o.get("label");
    req.where = o.get("where");
    req.replaceCertificate = o.has("replace-certificate");
    std::shared_ptr<SeKey> key;
    {
        Progress p("generating a " + type + " key in " + se.name());
        key = se.generate(req);
    }
    if (c.json) printf("%s\n", Json{{"uri", key->uri()}, {"se", se.name()}, {"type", keyTypeName(key->keyType())}}.dump(2).c_str());
    else printf("%s\n", key->uri().c_str());
    return kOk;
}

int list(Context &c, const Args &a) {
    Options o = parseOptions(a, {"se"}, {});
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    Json out = Json::array();
    int failures = 0;
    for (auto &p : c.registry.all()) {
        if (o.has("se") && p->name() != o.get("se")) continue;
        c.authorize("key.list", p->name(), "");
        try {
            Progress pr("listing the keys of " + p->name());
            for (const KeyListing &k : p->listKeys()) {
                Json j = {{"se", p->name()}, {"uri", k.uri}, {"type", keyTypeText(k)}, {"label", k.label}};
                if (!k.note.empty()) j["note"] = k.note;
                out.push_back(j);
            }
        } catch (const Error &e) {
            failures++;
            out.push_back({{"se", p->name()}, {"error", e.what()}});
        }
    }
    if (c.json) {
        printf("%s\n", out.dump(2).c_str());
    } else {
        for (const Json &j : out) {
            if (j.contains("error")) {
                printf("%-8s (cannot list: %s)\n", j["se"].get<std::string>().c_str(), j["error"].get<std::string>().c_str());
                continue;
            }
            printf("%-8s %-14s %s%s\n", j["se"].get<std::string>().c_str(), j["type"].get<std::string>().c_str(),
                   j["uri"].get<std::string>().c_str(), j.contains("note") ? ("  (" + j["note"].get<std::string>() + ")").c_str() : "");
        }
    }
    return failures ? kFailed : kOk;
}

int show(Context &c, const Args &a) {
    Options o = parseOptions(a, {}, {});
    if (o.rest.size() != 1) throw UsageError("secsf key show URI");
    const std::string &uri = o.rest[0];
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    SePlugin &se = c.registry.forUri(uri);
    c.authorize("key.show", uri, "");
    Found f = se.find(uri);
    std::shared_ptr<SeKey> k = f.privateKey ? f.privateKey : f.publicKey;
    if (!k) throw Error(Reason::NotFound, "no key at " + uri);
    const PublicKey &pub = k->publicKey();
    KeyListing l;
    l.type = k->keyType();
    l.bits = pub.bits;
    l.curve = pub.group;
    Json j = {{"uri", k->uri()}, {"se", se.name()}, {"type", keyTypeText(l)}, {"private", k->hasPrivate()},
              {"publicKey", publicKeyPem(pub)}, {"certificate", !f.certificate.empty()}};
    if (c.json) {
        printf("%s\n", j.dump(2).c_str());
        return kOk;
    }
    printf("uri:         %s\nse:          %s\ntype:        %s\nprivate:     %s\ncertificate: %s\n%s", k->uri().c_str(),
           se.name().c_str(), j["type"].get<std::string>().c_str(), k->hasPrivate() ? "in the SE" : "none",
           f.certificate.empty() ? "none" : "in the SE", j["publicKey"].get<std::string>().c_str());
    return kOk;
}

int remove(Context &c, const Args &a) {
    Options o = parseOptions(a, {}, {"yes"});
    if (o.rest.size() != 1) throw UsageError("secsf key delete URI [--yes]");
    const std::string &uri = o.rest[0];
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    SePlugin &se = c.registry.forUri(uri);
    c.authorize("key.delete", uri, "");
    if (!o.has("yes")) {
        if (!isatty(0)) throw UsageError("deleting a key cannot be undone: add --yes to confirm");
        fprintf(stderr, "delete %s from %s? This cannot be undone. [y/N] ", uri.c_str(), se.name().c_str());
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y" && answer != "yes") return kFailed;
    }
    se.deleteKey(uri);
    if (!c.json) printf("deleted %s\n", uri.c_str());
    else printf("%s\n", Json{{"deleted", uri}}.dump().c_str());
    return kOk;
}

// Through secsfd, keys are the caller's (or --owner's) and named, never chosen by URI.
int keyThroughSecsfd(Context &c, const std::string &op, const Args &a) {
    Options o = parseOptions(a, {"se", "level", "type", "curve", "bits", "label", "owner"}, {"yes"});
    std::string owner = o.has("owner") ? o.get("owner") : c.daemon->entity();
    std::string base = "/keys/" + SecsfdClient::segment(owner);
    if (op == "list") {
        Json j = c.daemon->call("GET", base);
        if (c.json) {
            printf("%s\n", j["keys"].dump(2).c_str());
        } else {
            for (const Json &k : j["keys"])
                printf("%-16s %-8s %-8s %s\n", k["name"].get<std::string>().c_str(), k["se"].get<std::string>().c_str(),
                       k["type"].get<std::string>().c_str(), k["uri"].get<std::string>().c_str());
        }
        return kOk;
    }
    std::string name = op == "gen" ? o.get("label") : (o.rest.size() == 1 ? o.rest[0] : "");
    if (name.empty())
        throw UsageError(op == "gen" ? "through secsfd a key needs a name: --label NAME" : "secsf key " + op + " NAME");
    std::string target = base + "/" + SecsfdClient::segment(name);
    if (op == "gen") {
        Json req = {{"type", o.get("type", "ec")}};
        if (o.has("curve")) req["curve"] = o.get("curve");
        if (o.has("bits")) req["bits"] = std::atoi(o.get("bits").c_str());
        if (o.has("se")) req["se"] = o.get("se");
        if (o.has("level")) req["level"] = std::atoi(o.get("level").c_str());
        Json j = c.daemon->call("PUT", target, req.dump());
        if (c.json) printf("%s\n", Json{{"uri", j["uri"]}, {"se", j["se"]}, {"type", j["type"]}, {"name", name}}.dump(2).c_str());
        else printf("%s\n", j["uri"].get<std::string>().c_str());
        return kOk;
    }
    if (op == "show") {
        Json j = c.daemon->call("GET", target);
        if (c.json) printf("%s\n", j.dump(2).c_str());
        else
            printf("name:        %s/%s\nuri:         %s\nse:          %s\ntype:        %s\n%s", owner.c_str(), name.c_str(),
                   j["uri"].get<std::string>().c_str(), j["se"].get<std::string>().c_str(), j["type"].get<std::string>().c_str(),
                   j["publicKey"].get<std::string>().c_str());
        return kOk;
    }
    if (op == "delete") {
        if (!o.has("yes")) throw UsageError("deleting a key cannot be undone: add --yes to confirm");
        c.daemon->call("DELETE", target);
        if (c.json) printf("%s\n", Json{{"deleted", owner + "/" + name}}.dump().c_str());
        else printf("deleted %s/%s\n", owner.c_str(), name.c_str());
        return kOk;
    }
    throw UsageError("unknown key subcommand '" + op + "'");
}

}  // namespace

int cmdKey(Context &c, const Args &a) {
    if (a.empty()) throw UsageError("secsf key gen|list|show|delete ...");
    Args rest(a.begin() + 1, a.end());
    if (c.daemon) return keyThroughSecsfd(c, a[0], rest);
    if (a[0] == "gen") return gen(c, rest);
    if (a[0] == "list") return list(c, rest);
    if (a[0] == "show") return show(c, rest);
    if (a[0] == "delete") return remove(c, rest);
    throw UsageError("unknown key subcommand '" + a[0] + "'");
}

}  // namespace secsf::cli
