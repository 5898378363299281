// A key object in a PKCS#11 token, as an SeKey. It remembers how to find itself
// again (token serial, CKA_ID, class) so that it survives a fork, or a token
// whose objects were changed by another process, by looking itself up anew.
#pragma once
#include <p11-kit/pkcs11.h>

#include <memory>
#include <mutex>
#include <string>

#include "../../pkcs11/module.h"
#include "../../pkcs11/pin.h"
#include "../../pkcs11/token.h"
#include "../se_plugin.h"

namespace secsf {

struct Pkcs11KeyRef {
    std::shared_ptr<p11::Module> module;
    std::shared_ptr<p11::Token> token;
    std::string tokenSerial, tokenLabel;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    Bytes id;
    std::string label;
    p11::PinSource pin;
};

class Pkcs11Key : public SeKey {
public:
    Pkcs11Key(std::string seName, Pkcs11KeyRef ref, PublicKey pub, bool hasPub);

    std::string uri() const override;
    std::string seName() const override { return seName_; }
    KeyType keyType() const override { return pub_.type; }
    bool hasPrivate() const override { return ref_.cls == CKO_PRIVATE_KEY; }
    bool isSecret() const { return ref_.cls == CKO_SECRET_KEY; }
    bool hasPublic() const override { return hasPub_; }
    const PublicKey &publicKey() const override;
    Bytes sign(const SignRequest &req) override;
    SecureBytes derive(const Bytes &peerPoint) override;
    SecureBytes decrypt(const DecryptRequest &req, const Bytes &ciphertext) override;
    SecureBytes hmac(int digestNid, const Bytes &data) override;

private:
    template <class Op> void run(const char *what, Op op);
    template <class Call> static CK_RV twoStep(Bytes &out, Call call);
    // Re-finds token and object after a fork or a vanished handle.
    void refresh(std::unique_lock<std::mutex> &lk);
    std::shared_ptr<p11::Token> currentToken(CK_OBJECT_HANDLE &h);

    std::string seName_;
    std::mutex mu_;
    Pkcs11KeyRef ref_;
    PublicKey pub_;
    bool hasPub_;
    bool tokenMissing_ = false;  // the last refresh found no token (guarded by mu_)
};

}  // namespace secsf
