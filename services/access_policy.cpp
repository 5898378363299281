#include "access_policy.h"

#include <fnmatch.h>

#include "secsf/bounded_file.h"
#include "secsf/error.h"
#include "secsf/identifier.h"

namespace secsf::svc {

namespace {

constexpr size_t kMaxPolicy = 1 << 20;
const char kEntityVar[] = "${entity}";

// The caller's id in a glob, matched as itself: an entity named "CAE-*" or "*" is a
// name, not a wildcard that reaches other entities' objects.
std::string escapeGlob(const std::string &s) {
    std::string out;
    for (char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string expand(std::string pattern, const std::string &entity) {
    const std::string var = kEntityVar, literal = escapeGlob(entity);
    for (size_t at = 0; (at = pattern.find(var, at)) != std::string::npos; at += literal.size())
        pattern.replace(at, var.size(), literal);
    return pattern;
}

// Where the pattern names the caller ("${entity}/*"), a wildcard stays inside one
// path element: entity "CAE-a" must not match "CAE-a/b/x", an object of "CAE-a/b".
bool matches(const std::string &pattern, const std::string &value, bool perElement = false) {
    return fnmatch(pattern.c_str(), value.c_str(), perElement ? FNM_PATHNAME : 0) == 0;
}

std::string readPolicy(const std::string &path) {
    try {
        return readBoundedFile(path, kMaxPolicy, "the access policy");
    } catch (const Error &e) {
        throw Error(Reason::Config, e.what());
    }
}

}  // namespace

AccessPolicy AccessPolicy::parse(const std::string &text) {
    Json j = parseJson(text);
    if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array())
        throw Error(Reason::Config, "the access policy is not a JSON object with a \"rules\" array");
    AccessPolicy p;
    for (const Json &r : j["rules"]) {
        if (!r.is_object()) throw Error(Reason::Config, "an access-policy rule is not an object");
        Rule rule;
        for (auto [name, dst] : {std::pair{"id", &rule.id}, std::pair{"entity", &rule.entity},
                                 std::pair{"function", &rule.function}, std::pair{"object", &rule.object}}) {
            if (!r.contains(name) || !r[name].is_string())
                throw Error(Reason::Config, std::string("an access-policy rule has no \"") + name + "\"");
            *dst = r[name].get<std::string>();
        }
        std::string effect = r.contains("effect") && r["effect"].is_string() ? r["effect"].get<std::string>() : "";
        if (effect != "allow" && effect != "deny")
            throw Error(Reason::Config, "access-policy rule '" + rule.id + "': effect is allow or deny");
        rule.allow = effect == "allow";
        p.rules_.push_back(rule);
    }
    return p;
}

AccessPolicy AccessPolicy::load(const std::string &path, const JoseKey *signer) {
    std::string text = readPolicy(path);
    if (!signer) return parse(text);
    while (!text.empty() && isspace((unsigned char)text.back())) text.pop_back();
    try {
        Jws j = jwsVerify(text, *signer);
        return parse(std::string(j.payload.begin(), j.payload.end()));
    } catch (const Error &e) {
        if (e.reason() == Reason::Config) throw;
        throw Error(Reason::Config, "the access policy " + path + " is not signed by the configured signer (" +
                                        std::string(e.what()) + ")");
    }
}

AccessPolicy AccessPolicy::configured(const std::string &path, const std::string &signerPath) {
    if (path.empty()) return AccessPolicy();
    if (signerPath.empty()) return load(path);
    std::string pem;
    try {
        pem = readBoundedFile(signerPath, 64 * 1024, "the access-policy signer key");
    } catch (const Error &e) {
        throw Error(Reason::Config, e.what());
    }
    JoseKey key = JoseKey::fromPublicPem(pem);
    return load(path, &key);
}

AccessDecision AccessPolicy::check(const std::string &entity, const std::string &function, const std::string &object,
                                   const std::string &owner) const {
    try {
        checkIdentifier("entity id", entity);
    } catch (const Error &e) {
        return {false, e.what()};
    }
    for (const Rule &r : rules_) {
        bool namesCaller = r.object.find(kEntityVar) != std::string::npos;
        if (matches(r.entity, entity) && matches(r.function, function) &&
            matches(expand(r.object, entity), object, namesCaller))
            return {r.allow, "rule '" + r.id + "'"};
    }
    // Objects nobody owns (an SE, the function registry) are open by default.
    return {owner.empty() || owner == entity, "default: owner-only"};
}

}  // namespace secsf::svc
