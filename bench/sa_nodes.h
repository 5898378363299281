// Two nodes holding credentials from one software MAF, ready to establish security
// associations with each other. Software keys: the benchmarks that use this measure
// the services' own work (handshakes, secured messages, memory), not a token.
#pragma once
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "../services/jwt.h"
#include "../services/messages.h"
#include "../services/security_association.h"

namespace bench {

struct SaNodes {
    secsf::svc::JoseKey maf, ka, kb;
    secsf::svc::HeldCredential ca, cb;
    std::unique_ptr<secsf::svc::SecurityAssociations> A, B;

    explicit SaNodes(secsf::svc::Clock clock = secsf::svc::systemClock()) {
        using namespace secsf::svc;
        maf = softKey(), ka = softKey(), kb = softKey();
        int64_t now = clock();
        auto issue = [&](const JoseKey &k) {
            std::string tid = "tid-" + randomToken(8);
            Json c = {{"jti", tid}, {"iss", "maf"}, {"sub", tid}, {"aud", "maf"}, {"nbf", now}, {"exp", now + 86400},
                      {"cnf", {{"jkt", jwkThumbprint(k)}}}};
            return HeldCredential{tid, jwtIssue(maf, c), now + 86400};
        };
        ca = issue(ka), cb = issue(kb);
        SaConfig a, b;
        a.credential = ca, a.key = ka, b.credential = cb, b.key = kb;
        a.mafKey = b.mafKey = maf.publicKey();
        a.mafName = b.mafName = "maf";
        a.clock = b.clock = clock;
        a.maxSkew = b.maxSkew = 3600;
        A = std::make_unique<SecurityAssociations>(a);
        B = std::make_unique<SecurityAssociations>(b);
    }

    // One SA from A to B (the whole handshake); its identifier.
    std::string establish() { return A->onEstablished(B->handle(A->onAccept(B->handle(A->initiate(cb.id, ""))))); }

    static secsf::svc::JoseKey softKey() {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
        secsf::svc::JoseKey j = secsf::svc::JoseKey::fromPkey(k);
        EVP_PKEY_free(k);
        return j;
    }
};

}  // namespace bench
