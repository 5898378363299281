#include "config_file.h"

#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <cstdlib>

#include "secsf/error.h"

namespace secsf {

namespace {

std::map<std::string, std::string> section(CONF *c, const std::string &name) {
    std::map<std::string, std::string> out;
    STACK_OF(CONF_VALUE) *v = NCONF_get_section(c, name.c_str());
    for (int i = 0; v && i < sk_CONF_VALUE_num(v); i++) {
        CONF_VALUE *cv = sk_CONF_VALUE_value(v, i);
        out[cv->name] = cv->value;
    }
    return out;
}

bool looksLikeSecsf(const std::string &name, const std::map<std::string, std::string> &keys) {
    auto m = keys.find("module");
    if (m != keys.end()) {
        std::string mod = m->second;
        size_t slash = mod.rfind('/');
        std::string base = slash == std::string::npos ? mod : mod.substr(slash + 1);
        if (base == "secsf.so" || base == "secsf") return true;
    }
    return name == "secsf";
}

}  // namespace

ConfigFile loadConfig(const std::string &explicitPath) {
    ConfigFile cf;
    cf.path = explicitPath;
    if (cf.path.empty() && getenv("OPENSSL_CONF")) cf.path = getenv("OPENSSL_CONF");
    if (cf.path.empty()) cf.path = std::string(OPENSSL_info(OPENSSL_INFO_CONFIG_DIR)) + "/openssl.cnf";
    CONF *c = NCONF_new(nullptr);
    long line = 0;
    if (NCONF_load(c, cf.path.c_str(), &line) <= 0) {
        NCONF_free(c);
        throw Error(Reason::Config, "cannot read " + cf.path +
                                        (line ? " (syntax error at line " + std::to_string(line) + ")" : " (no such file)"));
    }
    const char *init = NCONF_get_string(c, nullptr, "openssl_conf");
    std::string providers = init ? section(c, init)["providers"] : "";
    if (!providers.empty()) {
        for (auto &[name, sect] : section(c, providers)) {
            auto keys = section(c, sect);
            if (looksLikeSecsf(name, keys)) {
                cf.section = sect;
                cf.keys = keys;
                break;
            }
        }
    }
    NCONF_free(c);
    ERR_clear_error();
    if (cf.section.empty())
        throw Error(Reason::Config, cf.path + " loads no secsf provider: add `secsf = secsf_sect` to its providers "
                                              "section and a [secsf_sect] (see conf/openssl-secsf.cnf)");
    return cf;
}

}  // namespace secsf
