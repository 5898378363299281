// What the services tests share: a clock they move by hand, and JOSE keys made in a
// SoftHSM token (through the provider) or in software.
#pragma once
#include <cstdint>
#include <exception>
#include <string>

#include "../../services/clock.h"
#include "../../services/jose.h"
#include "secsf/error.h"

namespace testfix {

extern int64_t gNow;  // seconds; tests move it to expire things
secsf::svc::Clock testClock();
// An EC P-256 key made once per label in the token (node1 is the configured one).
secsf::svc::JoseKey seKey(const std::string &label, const std::string &token = "node1");
secsf::svc::JoseKey softKey();


// How a call ended: "refused" (secsf::Error, the promised outcome for bad input),
// "returned", or what else escaped.
template <class F> std::string ending(F f) {
    try {
        f();
        return "returned";
    } catch (const secsf::Error &) {
        return "refused";
    } catch (const std::exception &e) {
        return std::string("escaped: ") + e.what();
    }
}

// A compact JOSE object with members of its protected header changed (merge patch).
inline std::string withHeader(const std::string &compact, const secsf::svc::Json &changes) {
    size_t dot = compact.find('.');
    secsf::svc::Bytes h = secsf::svc::unb64url(compact.substr(0, dot));
    secsf::svc::Json header = secsf::svc::Json::parse(h.begin(), h.end());
    header.merge_patch(changes);
    return secsf::svc::b64url(header.dump()) + compact.substr(dot);
}

}  // namespace testfix
