#include "access_policy.h"

#include <fnmatch.h>

#include <fstream>
#include <iterator>

#include "secsf/error.h"

namespace secsf::svc {

namespace {

std::string expand(std::string pattern, const std::string &entity) {
    const std::string var = "${entity}";
    for (size_t at; (at = pattern.find(var)) != std::string::npos;) pattern.replace(at, var.size(), entity);
    return pattern;
}

bool matches(const std::string &pattern, const std::string &value) {
    return fnmatch(pattern.c_str(), value.c_str(), 0) == 0;
}

}  // namespace

AccessPolicy AccessPolicy::parse(const std::string &text) {
    Json j = Json::parse(text, nullptr, false);
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
        std::string effect = r.value("effect", "");
        if (effect != "allow" && effect != "deny")
            throw Error(Reason::Config, "access-policy rule '" + rule.id + "': effect is allow or deny");
        rule.allow = effect == "allow";
        p.rules_.push_back(rule);
    }
    return p;
}

AccessPolicy AccessPolicy::load(const std::string &path, const JoseKey *signer) {
    std::ifstream f(path);
    if (!f) throw Error(Reason::Config, "the access policy " + path + " cannot be read");
    std::string text(std::istreambuf_iterator<char>(f), {});
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

AccessDecision AccessPolicy::check(const std::string &entity, const std::string &function, const std::string &object,
                                   const std::string &owner) const {
    for (const Rule &r : rules_)
        if (matches(r.entity, entity) && matches(r.function, function) && matches(expand(r.object, entity), object))
            return {r.allow, "rule '" + r.id + "'"};
    // Objects nobody owns (an SE, the function registry) are open by default.
    return {owner.empty() || owner == entity, "default: owner-only"};
}

}  // namespace secsf::svc
