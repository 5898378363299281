// secsf se list, secsf functions: the Secure Environments and the sensitive
// functions they serve.
#include <cstdio>

#include "../se-plugins/se_report.h"
#include "cli.h"
#include "secsfd_client.h"
#include "secsf/error.h"

namespace secsf::cli {

int cmdSe(Context &c, const Args &a) {
    if (a.empty() || a[0] != "list") throw UsageError("secsf se list [--json]");
    parseOptions(Args(a.begin() + 1, a.end()), {}, {});
    if (!c.daemon && !c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    Json out = c.daemon ? c.daemon->call("GET", "/se") : seReport(c.registry);
    if (c.json) {
        printf("%s\n", out.dump(2).c_str());
        return kOk;
    }
    for (const Json &j : out) {
        printf("%s  (%s, security level %d)\n", j["name"].get<std::string>().c_str(), j["plugin"].get<std::string>().c_str(),
               j["securityLevel"].get<int>());
        printf("  device:        %s\n", j["device"].get<std::string>().c_str());
        printf("  state:         %s%s\n", j["state"].get<std::string>().c_str(),
               j.contains("detail") ? (" (" + j["detail"].get<std::string>() + ")").c_str() : "");
        printf("  capabilities:  %s\n", j["capabilities"].get<std::string>().c_str());
        std::string curves;
        for (auto &cv : j["curves"]) curves += (curves.empty() ? "" : ", ") + cv.get<std::string>();
        printf("  keys:          EC %s; RSA %s\n", curves.empty() ? "-" : curves.c_str(),
               j["rsaBits"][1] == 0 ? "-" : (std::to_string(j["rsaBits"][0].get<int>()) + "-" + std::to_string(j["rsaBits"][1].get<int>())).c_str());
        printf("  SA derivation: %s\n", j["ecdhSecretStaysInside"].get<bool>() ? "ECDH and KDF inside the SE"
                                                                                 : "ECDH in the SE, KDF in the process");
    }
    return kOk;
}

int cmdFunctions(Context &c, const Args &a) {
    parseOptions(a, {}, {});
    if (!c.daemon && !c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    Json out = c.daemon ? c.daemon->call("GET", "/functions") : functionReport(c.registry, c.config.get("function-levels"));
    if (c.json) {
        printf("%s\n", out.dump(2).c_str());
        return kOk;
    }
    printf("%-18s %-4s %-6s %-22s %s\n", "FUNCTION", "VER", "LEVEL", "SERVED BY", "WHAT");
    for (const Json &j : out)
        printf("%-18s %-4s %-6d %-22s %s\n", j["id"].get<std::string>().c_str(), j["version"].get<std::string>().c_str(),
               j["securityLevel"].get<int>(),
               j["servedBy"].get<std::string>().empty() ? ("(" + j["unavailable"].get<std::string>() + ")").c_str()
                                                        : j["servedBy"].get<std::string>().c_str(),
               j["description"].get<std::string>().c_str());
    return kOk;
}

}  // namespace secsf::cli
