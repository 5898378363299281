// The smart-card Secure Environment: a PIV card application (a PIV card, a
// YubiKey, many tokens) in a PC/SC reader. Keys live in slots 9a/9c/9d/9e; their
// public half is read from the slot's certificate object (PIV has no other way to
// read it), so secsf writes a self-signed certificate when it generates a key.
#pragma once
#include "../../pkcs11/pin.h"
#include "../se_plugin.h"

namespace secsf::pcsc {

// Kept out of this header: PC/SC's headers clash with tpm2-tss's (BOOL), and the
// provider includes both plug-ins.
class CardPool;
struct PivUri;

struct Config {
    std::string name = "card";
    std::string reader;            // name pattern (glob or substring); empty: the first reader
    std::string pinSource;         // the card PIN, when the key URI gives none
    std::string mgmtKeySource;     // hex management key (file:/env:), for keygen and storage writes
    std::string mgmtKeyAlg;        // 3des | aes128 | aes192 | aes256; empty: by key length
    int securityLevel = 3;
};

class Plugin : public SePlugin {
public:
    explicit Plugin(Config cfg);

    std::string name() const override { return cfg_.name; }
    int securityLevel() const override { return cfg_.securityLevel; }
    uint32_t capabilities() override { return CapSign | CapDecrypt | CapDerive | CapKeyGen | CapStorage; }
    std::vector<std::string> declaredSecretSources() const override {
        return cfg_.pinSource.empty() ? std::vector<std::string>{} : std::vector<std::string>{cfg_.pinSource};
    }
    SeInfo info() override;
    bool handlesUri(const std::string &uri) const override { return uri.compare(0, 4, "piv:") == 0; }

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
    p11::PinSource pinFor(const PivUri &u) const;

    Config cfg_;
    std::shared_ptr<CardPool> pool_;
};

// A self-signed X.509 certificate for a card key, signed by the card (so the slot's
// certificate object carries the public key). DER.
Bytes selfSignedCertificate(SeKey &key, const std::string &commonName);

}  // namespace secsf::pcsc
