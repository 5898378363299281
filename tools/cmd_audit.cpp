// secsf audit verify --key PUBLIC.pem LOG: an auditor's check of an audit log (secsfd's
// or a service's): the hash chain, each record's hash and the checkpoints' signatures.
#include <cstdio>

#include "../services/audit_log.h"
#include "cli.h"
#include "secsf/bounded_file.h"
#include "secsf/error.h"

namespace secsf::cli {

int cmdAudit(Context &c, const Args &a) {
    if (a.empty() || a[0] != "verify") throw UsageError("secsf audit verify --key PUBLIC.pem LOG");
    Options o = parseOptions(Args(a.begin() + 1, a.end()), {"key"}, {});
    if (o.rest.size() != 1 || o.get("key").empty()) throw UsageError("secsf audit verify --key PUBLIC.pem LOG");
    svc::JoseKey key = svc::JoseKey::fromPublicPem(readBoundedFile(o.get("key"), 64 * 1024, "the public key"));
    svc::AuditVerdict v = svc::AuditLog::verify(o.rest[0], key);
    if (c.json) {
        Json j = {{"intact", v.intact}, {"records", v.records}, {"checkpoints", v.checkpoints},
                  {"afterLastCheckpoint", v.afterLastCheckpoint}};
        if (!v.intact) j["firstBadRecord"] = v.firstBadRecord, j["why"] = v.why;
        printf("%s\n", j.dump(2).c_str());
    } else if (v.intact) {
        printf("intact: %ld records, %ld checkpoints, %ld records after the last checkpoint\n", v.records, v.checkpoints,
               v.afterLastCheckpoint);
    } else {
        fprintf(stderr, "secsf audit: NOT intact: %s\n", v.why.c_str());
    }
    return v.intact ? kOk : kFailed;
}

}  // namespace secsf::cli
