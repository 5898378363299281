// A key held by the TPM, persistent (a handle) or wrapped (public + private blob).
// Every operation loads it just in time and flushes it (see tpm2_session.h).
#pragma once
#include <tss2/tss2_esys.h>

#include <atomic>
#include <optional>

#include "../../pkcs11/pin.h"
#include "../se_plugin.h"
#include "tpm2_session.h"
#include "tpm2_uri.h"

namespace secsf::tpm2 {

struct KeyRef {
    std::optional<uint32_t> handle;
    std::optional<std::string> file;
    TPM2B_PUBLIC pub{};
    TPM2B_PRIVATE priv{};  // wrapped keys only
    std::string label;
    std::string pinSourceText;  // kept for the key's URI (the value itself never is)
    p11::PinSource auth;
};

// The public key of a TPM public area, as the upper layers describe it.
PublicKey publicOf(const TPM2B_PUBLIC &pub);

class Key : public SeKey {
public:
    Key(std::string seName, const Config &cfg, KeyRef ref);

    std::string uri() const override;
    std::string seName() const override { return seName_; }
    KeyType keyType() const override { return pub_.type; }
    bool hasPrivate() const override { return true; }
    bool hasPublic() const override { return true; }
    const PublicKey &publicKey() const override { return pub_; }
    Bytes sign(const SignRequest &req) override;
    SecureBytes derive(const Bytes &peerPoint) override;
    SecureBytes decrypt(const DecryptRequest &req, const Bytes &ciphertext) override;
    SecureBytes hmac(int, const Bytes &) override;

private:
    ESYS_TR load(Session &s);
    // After an operation with the key's authorization value succeeded.
    void authWorked() { authWorked_ = true; }

    std::string seName_;
    const Config &cfg_;
    KeyRef ref_;
    PublicKey pub_;
    // Once the authorization value worked, trying it costs no dictionary-attack try.
    std::atomic<bool> authWorked_{false};
};

}  // namespace secsf::tpm2
