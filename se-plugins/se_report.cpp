#include "se_report.h"

#include "config_values.h"
#include "secsf/error.h"

namespace secsf {

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

}  // namespace

std::string capabilityNames(uint32_t caps) {
    std::string out;
    for (auto [bit, name] : {std::pair{CapKeyGen, "keygen"}, std::pair{CapSign, "sign"}, std::pair{CapDecrypt, "decrypt"},
                             std::pair{CapDerive, "derive"}, std::pair{CapHmac, "hmac"}, std::pair{CapRandom, "random"},
                             std::pair{CapStorage, "storage"}})
        if (caps & bit) out += (out.empty() ? "" : ",") + std::string(name);
    return out;
}

nlohmann::json seReport(const SeRegistry &registry) {
    nlohmann::json out = nlohmann::json::array();
    for (auto &p : registry.all()) {
        auto [state, detail] = stateOf(*p);
        SeInfo info = p->info();
        uint32_t caps = p->capabilities();
        nlohmann::json j = {{"name", p->name()}, {"plugin", pluginKind(*p)}, {"device", info.device},
                            {"securityLevel", p->securityLevel()}, {"state", state}, {"capabilities", capabilityNames(caps)},
                            {"curves", info.curves}, {"rsaBits", {info.rsaMinBits, info.rsaMaxBits}},
                            {"ecdhSecretStaysInside", info.ecdhSecretStaysInside}, {"mechanisms", info.mechanisms}};
        if (!detail.empty()) j["detail"] = detail;
        out.push_back(j);
    }
    return out;
}

nlohmann::json functionReport(const SeRegistry &registry, const std::string &functionLevels) {
    auto levels = parseFunctionLevels("function-levels", functionLevels);
    for (auto &[name, level] : levels) {
        bool known = false;
        for (const Function &f : kFunctions) known = known || name == f.id;
        if (!known) throw Error(Reason::Config, "function-levels names '" + name + "', which is not a function (see secsf functions)");
    }
    nlohmann::json out = nlohmann::json::array();
    for (const Function &f : kFunctions) {
        int need = levels.count(f.id) ? levels[f.id] : 0;
        std::string served, why;
        for (auto &p : registry.all()) {
            if (!(p->capabilities() & f.cap)) continue;
            if (p->securityLevel() < need) {
                why = "SE '" + p->name() + "' is below level " + std::to_string(need);
                continue;
            }
            served += (served.empty() ? "" : ", ") + p->name();
        }
        nlohmann::json j = {{"id", f.id}, {"version", f.version}, {"securityLevel", need}, {"description", f.what},
                            {"servedBy", served}};
        if (served.empty()) j["unavailable"] = why.empty() ? "no configured SE offers it" : why;
        out.push_back(j);
    }
    return out;
}

}  // namespace secsf
