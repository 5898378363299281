// The TPM 2.0 Secure Environment (tpm2-tss ESAPI with the TCTI loader). Keys live
// under the storage primary key, persistent at a handle or wrapped on disk.
#pragma once
#include "../se_plugin.h"
#include "tpm2_session.h"

namespace secsf::tpm2 {

class Plugin : public SePlugin {
public:
    explicit Plugin(Config cfg);

    std::string name() const override { return cfg_.name; }
    int securityLevel() const override { return cfg_.securityLevel; }
    uint32_t capabilities() override {
        return CapSign | CapKeyGen | CapRandom | CapDerive | CapDecrypt |
               (cfg_.storageDir.empty() ? 0u : (uint32_t)CapStorage);
    }
    SeInfo info() override;
    bool handlesUri(const std::string &uri) const override { return uri.compare(0, 5, "tpm2:") == 0; }
    std::vector<std::string> declaredSecretSources() const override { return cfg_.authSources; }

    Found find(const std::string &uri) override;
    std::shared_ptr<SeKey> generate(const KeyGenRequest &req) override;
    Bytes random(size_t n) override;
    std::shared_ptr<SeKey> findSecret(const std::string &uri) override;
    std::shared_ptr<SeKey> importSecret(const SecureBytes &, const std::string &, const std::string &) override;
    void checkAccess() override;
    std::vector<KeyListing> listKeys() override;
    void deleteKey(const std::string &uri) override;
    void storagePut(const std::string &owner, const std::string &name, const Bytes &data) override;
    Bytes storageGet(const std::string &owner, const std::string &name) override;
    bool storageDelete(const std::string &owner, const std::string &name) override;
    std::vector<std::string> storageList(const std::string &owner) override;

private:
    std::string storagePath(const std::string &owner, const std::string *name) const;
    Config cfg_;
};

}  // namespace secsf::tpm2
