// Access control on the Security CSF's functions (TS-0003 draft 6: "Access Control"):
// which AE-ID or CSE-ID may call which function on which key or storage object.
// A policy is JSON, optionally a compact JWS signed by a configured key:
//   {"rules": [
//     {"id": "ops-read-all", "entity": "CAE-ops", "function": "storage.get", "object": "*", "effect": "allow"},
//     {"id": "no-deletes",   "entity": "*",       "function": "key.delete",  "object": "piv:*", "effect": "deny"}
//   ]}
// entity, function and object are glob patterns; in "object", "${entity}" stands for
// the caller, compared literally (an entity named "CAE-*" is not a wildcard), and in
// such a pattern a wildcard does not cross a '/' ("${entity}/*" is the caller's own
// objects, not those of an owner whose id merely starts with it). Entity ids with
// control characters are refused. The first rule that matches decides; when none does, the default is
// owner-only: an entity may use an object it owns (storage objects are "owner/name"),
// objects nobody owns (an SE, the function registry), and nothing owned by another.
#pragma once
#include <string>
#include <vector>

#include "jose.h"

namespace secsf::svc {

struct AccessDecision {
    bool allowed = false;
    std::string rule;  // the rule that decided ("default: owner-only" when none matched)
};

class AccessPolicy {
public:
    // No rules: owner-only.
    AccessPolicy() = default;
    // From a regular file of at most 1 MiB: JSON, or a compact JWS of it when `signer` is given (then it must
    // verify). Throws Error(Config) with the reason.
    static AccessPolicy load(const std::string &path, const JoseKey *signer = nullptr);
    static AccessPolicy parse(const std::string &json);
    // As the configuration names it: `access-policy` (empty: owner-only) and
    // `access-policy-signer` (a public key PEM file; empty: unsigned).
    static AccessPolicy configured(const std::string &path, const std::string &signerPath);

    // owner: who owns the object ("" for objects without an owner, such as the SEs).
    AccessDecision check(const std::string &entity, const std::string &function, const std::string &object,
                         const std::string &owner) const;

private:
    struct Rule {
        std::string id, entity, function, object;
        bool allow = false;
    };
    std::vector<Rule> rules_;
};

}  // namespace secsf::svc
