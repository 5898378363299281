// The Security CSF API that secsfd serves (seed 004, clauses 5-7: the SECAPI on Mca),
// independent of the transport: a request, the caller the transport authenticated,
// a response. Resources, the oneM2M HTTP binding's headers (TS-0009: X-M2M-Origin,
// X-M2M-RI, X-M2M-RSC) and the access policy are all decided here.
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../se-plugins/config_file.h"
#include "../se-plugins/registry.h"
#include "../services/access_policy.h"
#include "../services/audit_log.h"
#include "caller_map.h"
#include "key_registry.h"

namespace secsf::daemon {

struct ApiRequest {
    std::string method;  // "GET", "PUT", ...
    std::string target;  // path and query, as sent
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

struct ApiResponse {
    int status = 200;  // HTTP
    int rsc = 2000;    // oneM2M response status code (X-M2M-RSC)
    std::string contentType = "application/json";
    std::string body;
    std::string why;  // a refusal's or failure's sentence (also in the body), for the audit log
    std::map<std::string, std::string> headers;  // X-M2M-RI and the like
};

// Who is calling: on the unix socket the connecting process's credentials, as the
// kernel said; over TLS the URI names of the client certificate the CA signed.
struct Peer {
    pid_t pid = 0;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    bool tls = false;
    std::vector<std::string> certificateIds;  // subjectAltName URIs
};

class Api {
public:
    // Builds the SEs, reads the policy the configuration names, opens the key registry
    // and the audit log in secsfd-state-dir (the log's checkpoints signed with
    // secsfd-audit-key, else with a key secsfd makes for itself once). The secsf
    // provider must be loaded from the same configuration. Throws Error(Config).
    explicit Api(const ConfigFile &config);
    // Never throws: every failure is a response with a status code and a sentence.
    // Every request is in the audit log (caller, request, outcome; never a body)
    // before its response is returned; one that cannot be logged is answered 503.
    ApiResponse handle(const ApiRequest &req, const Peer &peer) const;
    // SIGHUP: the access policy and the caller map are read again; on a failure
    // the old ones stay and the reason is thrown as Error(Config).
    void reload();

private:
    struct Call;
    ApiResponse route(Call &call) const;
    ApiResponse storage(Call &call) const;
    ApiResponse keys(Call &call) const;
    ApiResponse secrets(Call &call) const;
    std::shared_ptr<SeKey> secretOf(const KeyRecord &r) const;
    // The SE's key behind a record, looked up once per process.
    Found keyOf(const KeyRecord &r) const;
    // The URI of the key that signs the audit log's checkpoints.
    std::string auditKeyUri();
    std::shared_ptr<const svc::AccessPolicy> policy() const;
    std::shared_ptr<const CallerMap> callers() const;

    ConfigFile config_;
    SeRegistry registry_;
    std::string registryError_;
    mutable std::mutex mu_;  // the two below are swapped on reload
    std::shared_ptr<const svc::AccessPolicy> policy_;
    std::shared_ptr<const CallerMap> callers_;
    std::unique_ptr<KeyRegistry> keys_;
    std::unique_ptr<svc::AuditLog> audit_;
    mutable std::mutex keyCacheMu_;
    mutable std::map<std::string, Found> keyCache_;  // by URI
};

}  // namespace secsf::daemon
