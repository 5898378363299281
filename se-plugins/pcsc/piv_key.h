// A key in a PIV card slot. The card does the private-key arithmetic (ECDSA over
// a hash, ECDH, the raw RSA operation); RSA padding is applied and checked here,
// as PIV leaves it to the host.
#pragma once
#include <atomic>

#include "../../pkcs11/pin.h"
#include "../se_plugin.h"
#include "card_pool.h"
#include "piv_card.h"
#include "piv_uri.h"

namespace secsf::pcsc {

class PivKey : public SeKey {
public:
    PivKey(std::string seName, std::shared_ptr<CardPool> pool, PivUri uri, PublicKey pub, p11::PinSource pin);

    std::string uri() const override { return uri_.format(); }
    std::string seName() const override { return seName_; }
    KeyType keyType() const override { return pub_.type; }
    bool hasPrivate() const override { return true; }
    bool hasPublic() const override { return true; }
    const PublicKey &publicKey() const override { return pub_; }
    Bytes sign(const SignRequest &req) override;
    SecureBytes derive(const Bytes &peerPoint) override;
    SecureBytes decrypt(const DecryptRequest &req, const Bytes &ciphertext) override;
    SecureBytes hmac(int, const Bytes &) override;

    PivAlg alg() const { return alg_; }

private:
    SecureBytes privateOp(unsigned char tag, const Bytes &in);
    Bytes signUnchecked(const SignRequest &req);
    // Before the first private operation: the slot's key must be the one its
    // certificate states (a key replaced by another tool leaves the old certificate).
    void checkPairwise();

    std::string seName_;
    std::shared_ptr<CardPool> pool_;
    PivUri uri_;
    PublicKey pub_;
    p11::PinSource pin_;
    PivAlg alg_;
    std::atomic<bool> paired_{false};
};

// The PIV algorithm of a public key; throws Unsupported for what PIV has not.
PivAlg pivAlgOf(const PublicKey &pub);

}  // namespace secsf::pcsc
