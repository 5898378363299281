// What the resources of the API share inside secsfd: one request on its way through,
// and the ways a resource answers or refuses.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../services/jose.h"
#include "api.h"
#include "secsf/error.h"

namespace secsf::daemon {

// Refused by the access policy or the caller map: 403, X-M2M-RSC 4103.
struct Refused {
    std::string why;
};
// A request this API does not take: the status, the code and the sentence.
struct Rejected {
    int status, rsc;
    std::string why;
};

inline ApiResponse jsonResponse(int status, int rsc, const svc::Json &body) {
    ApiResponse r;
    r.status = status;
    r.rsc = rsc;
    r.body = svc::dumpJson(body) + "\n";
    return r;
}

inline ApiResponse failure(int status, int rsc, const std::string &why) {
    ApiResponse r = jsonResponse(status, rsc, {{"error", why}, {"rsc", rsc}});
    r.why = why;
    return r;
}

// TS-0004 response status codes for the reasons an SE or a service gives.
inline ApiResponse failureFor(const Error &e) {
    switch (e.reason()) {
    case Reason::BadInput:
    case Reason::BadUri: return failure(400, 4000, e.what());
    case Reason::NotFound: return failure(404, 4004, e.what());
    case Reason::Ambiguous: return failure(409, 4105, e.what());
    case Reason::Unsupported: return failure(501, 5001, e.what());
    case Reason::Config: return failure(500, 5000, e.what());
    default: return failure(503, 5000, e.what());  // the SE failed or refused its credentials
    }
}

// One request on its way through: who, what, and the decoded target.
struct Api::Call {
    const ApiRequest &req;
    std::string entity;
    std::vector<std::string> path;             // decoded segments
    std::map<std::string, std::string> query;  // decoded
    std::shared_ptr<const svc::AccessPolicy> policy;

    std::string param(const std::string &k) const {
        auto it = query.find(k);
        return it == query.end() ? "" : it->second;
    }
    void authorize(const std::string &function, const std::string &object, const std::string &owner) const {
        svc::AccessDecision d = policy->check(entity, function, object, owner);
        if (!d.allowed) throw Refused{entity + " may not " + function + " " + object + ": refused by " + d.rule};
    }
};

}  // namespace secsf::daemon
