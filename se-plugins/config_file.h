// Which openssl.cnf the tools read and what secsf's section in it says: the same
// file and keys OpenSSL hands the provider, so the tool and every application see
// the same Secure Environments.
#pragma once
#include <map>
#include <string>

namespace secsf {

struct ConfigFile {
    std::string path;                          // the file read
    std::string section;                       // secsf's provider section
    std::map<std::string, std::string> keys;   // its flat keys
    std::string get(const char *k) const {
        auto it = keys.find(k);
        return it == keys.end() ? std::string() : it->second;
    }
};

// --config FILE, else $OPENSSL_CONF, else OpenSSL's default openssl.cnf. Throws
// Error(Config) with the reason (file missing, no provider section naming secsf).
ConfigFile loadConfig(const std::string &explicitPath);

}  // namespace secsf
