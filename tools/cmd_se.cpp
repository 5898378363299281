// secsf se list, secsf functions: the Secure Environments and the sensitive
// functions they serve.
#include <cstdio>

#include "../se-plugins/config_values.h"
#include "cli.h"
#include "secsf/error.h"

namespace secsf::cli {

namespace {

const char *pluginKind(const SePlugin &p) {
    if (p.handlesUri("pkcs11:")) return "pkcs11";
    if (p.handlesUri("tpm2:")) return "tpm2";
    if (p.handlesUri("piv:")) return "pcsc-piv";
    return "?";
}

// Present, and logged in where a login is needed.
std::pair<std::string, std::string> stateOf(SePlugin &p) {
    try {
        p.checkAccess();
        return {p.handlesUri("pkcs11:") ? "logged in" : "present", ""};
    } catch (const Error &e) {
        bool missing = e.reason() == Reason::NotFound || e.reason() == Reason::DeviceError || e.reason() == Reason::Config;
        return {missing ? "missing" : "present, not logged in", e.what()};
    }
}

struct Function {
    const char *id, *version, *what;
    uint32_t cap;
};
const Function kFunctions[] = {
    {"key-generation", "1", "key pairs made inside the SE", CapKeyGen},
    {"signature", "1", "ECDSA, RSA PKCS#1 / PSS, EdDSA with SE keys", CapSign},
    {"decryption", "1", "RSA OAEP / PKCS#1 v1.5 decryption with SE keys", CapDecrypt},
    {"sa-key-derivation", "1", "ECDH in the SE, then X9.63 KDF or HKDF", CapDerive},
    {"ts0003-kdf", "1", "Km, Kpsa, usage-constrained, sessionESPrimKey (HMAC in the SE)", CapHmac},
    {"random", "1", "random numbers from the SE", CapRandom},
    {"secure-storage", "1", "owner-tagged data objects in the SE", CapStorage},
};

// function-levels = signature=2,secure-storage=3
std::map<std::string, int> functionLevels(const Context &c) {
    auto levels = parseFunctionLevels("function-levels", c.config.get("function-levels"));
    for (auto &[name, level] : levels) {
        bool known = false;
        for (const Function &f : kFunctions) known = known || name == f.id;
        if (!known) throw Error(Reason::Config, "function-levels names '" + name + "', which is not a function (see secsf functions)");
    }
    return levels;
}

}  // namespace

int cmdSe(Context &c, const Args &a) {
    if (a.empty() || a[0] != "list") throw UsageError("secsf se list [--json]");
    parseOptions(Args(a.begin() + 1, a.end()), {}, {});
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    Json out = Json::array();
    for (auto &p : c.registry.all()) {
        auto [state, detail] = stateOf(*p);
        SeInfo info = p->info();
        uint32_t caps = p->capabilities();
        Json j = {{"name", p->name()}, {"plugin", pluginKind(*p)}, {"device", info.device},
                  {"securityLevel", p->securityLevel()}, {"state", state}, {"capabilities", capabilityNames(caps)},
                  {"curves", info.curves}, {"rsaBits", {info.rsaMinBits, info.rsaMaxBits}},
                  {"ecdhSecretStaysInside", info.ecdhSecretStaysInside}, {"mechanisms", info.mechanisms}};
        if (!detail.empty()) j["detail"] = detail;
        out.push_back(j);
    }
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
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    auto levels = functionLevels(c);
    Json out = Json::array();
    for (const Function &f : kFunctions) {
        int need = levels.count(f.id) ? levels[f.id] : 0;
        std::string served, why;
        for (auto &p : c.registry.all()) {
            if (!(p->capabilities() & f.cap)) continue;
            if (p->securityLevel() < need) {
                why = "SE '" + p->name() + "' is below level " + std::to_string(need);
                continue;
            }
            served += (served.empty() ? "" : ", ") + p->name();
        }
        Json j = {{"id", f.id}, {"version", f.version}, {"securityLevel", need}, {"description", f.what},
                  {"servedBy", served}};
        if (served.empty()) j["unavailable"] = why.empty() ? "no configured SE offers it" : why;
        out.push_back(j);
    }
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
