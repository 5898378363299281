// The PKCS#11 Secure Environment: one module (HSM, SoftHSM, smart-card middleware)
// and, optionally, the token that new keys go to and whose PIN the configuration
// supplies. URIs may name any token of the module; the configured PIN is only ever
// offered to the configured token.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../../pkcs11/module.h"
#include "../../pkcs11/pin.h"
#include "../../pkcs11/token.h"
#include "../../pkcs11/uri.h"
#include "../se_plugin.h"

namespace secsf {

struct Pkcs11Config {
    std::string name = "pkcs11";
    std::string modulePath;
    std::string token;      // label, or a pkcs11: URI selecting the token
    std::string pinSource;  // file:/path or env:NAME
    // pkcs11-token-pin-sources: the PIN sources of further tokens of the module, by label.
    std::map<std::string, std::string> tokenPinSources;
    // pkcs11-allowed-modules: modules besides modulePath that a URI's module-path /
    // module-name may select. Nothing else is ever loaded on a URI's word.
    std::vector<std::string> allowedModules;
    int securityLevel = 2;
};

class Pkcs11Plugin : public SePlugin {
public:
    explicit Pkcs11Plugin(Pkcs11Config cfg);

    std::string name() const override { return cfg_.name; }
    int securityLevel() const override { return cfg_.securityLevel; }
    uint32_t capabilities() override;
    SeInfo info() override;
    bool handlesUri(const std::string &uri) const override;
    std::vector<std::string> declaredSecretSources() const override;

    Found find(const std::string &uri) override;
    std::shared_ptr<SeKey> generate(const KeyGenRequest &req) override;
    Bytes random(size_t n) override;
    std::shared_ptr<SeKey> findSecret(const std::string &uri) override;
    std::shared_ptr<SeKey> importSecret(const SecureBytes &value, const std::string &label,
                                        const std::string &where) override;
    void checkAccess() override;
    std::vector<KeyListing> listKeys() override;
    void deleteKey(const std::string &uri) override;
    void storagePut(const std::string &owner, const std::string &name, const Bytes &data) override;
    Bytes storageGet(const std::string &owner, const std::string &name) override;
    bool storageDelete(const std::string &owner, const std::string &name) override;
    std::vector<std::string> storageList(const std::string &owner) override;

private:
    // The token a URI names (exactly one; empty: the default token), logged in
    // with the URI's PIN or, for the configured token only, the configured one.
    std::shared_ptr<p11::Token> tokenFor(const std::string &where, p11::PinSource &pin);
    // A session on the default token, logged in: where secure storage lives.
    p11::Session storageSession();
    bool isConfiguredToken(const p11::Token &t) const;
    std::shared_ptr<p11::Token> defaultToken();
    p11::PinSource pinFor(const p11::Token &t) const;
    // The module a URI selects: the configured one, or one of pkcs11-allowed-modules.
    std::shared_ptr<p11::Module> moduleFor(const p11::Uri &uri);
    // noToken: set when no token matched (as opposed to no object).
    Found findIn(const std::shared_ptr<p11::Module> &module, const p11::Uri &uri, bool &noToken);

    struct Probe {
        uint64_t generation = ~0ull;
        uint32_t caps = 0;
        SeInfo info;
    };
    const Probe &probe();  // the default token's mechanisms, once per module generation

    Pkcs11Config cfg_;
    std::optional<p11::Uri> tokenUri_;  // cfg_.token when it is a pkcs11: URI
    std::mutex probeMu_;
    Probe probe_;
    std::shared_ptr<p11::Module> module_;  // loaded lazily by Module itself
};

}  // namespace secsf
