#include "pkcs11_key.h"

#include "../../pkcs11/mechanisms.h"
#include "../../pkcs11/objects.h"
#include "../../pkcs11/rv.h"
#include "../../pkcs11/uri.h"

namespace secsf {

Pkcs11Key::Pkcs11Key(std::string seName, Pkcs11KeyRef ref, PublicKey pub, bool hasPub)
    : seName_(std::move(seName)), ref_(std::move(ref)), pub_(std::move(pub)), hasPub_(hasPub) {}

std::string Pkcs11Key::uri() const {
    return p11::formatUri(ref_.tokenLabel, ref_.tokenSerial, ref_.label, ref_.id, ref_.cls);
}

const PublicKey &Pkcs11Key::publicKey() const {
    if (!hasPub_)
        throw Error(Reason::NotFound, "the public half of " + uri() +
                                          " is not on the token (no public key or "
                                          "certificate object with the same CKA_ID)");
    return pub_;
}

void Pkcs11Key::refresh(std::unique_lock<std::mutex> &) {
    std::shared_ptr<p11::Token> tok;
    for (auto &t : ref_.module->tokens())
        if (t->serial() == ref_.tokenSerial && t->label() == ref_.tokenLabel) tok = t;
    if (!tok)
        throw Error(Reason::NotFound, "token '" + ref_.tokenLabel + "' is no longer present");
    if (ref_.cls == CKO_PRIVATE_KEY) tok->login(ref_.pin);
    p11::Session s = tok->session();
    std::vector<CK_ATTRIBUTE> tmpl{{CKA_CLASS, &ref_.cls, sizeof ref_.cls}};
    if (!ref_.id.empty()) tmpl.push_back({CKA_ID, ref_.id.data(), ref_.id.size()});
    if (!ref_.label.empty())
        tmpl.push_back({CKA_LABEL, (void *)ref_.label.data(), ref_.label.size()});
    auto found = p11::findObjects(s, tmpl);
    if (found.empty()) throw Error(Reason::NotFound, "key " + uri() + " was deleted from the token");
    if (found.size() > 1)
        throw Error(Reason::Ambiguous, "key " + uri() + " now matches " +
                                           std::to_string(found.size()) + " objects");
    ref_.token = tok;
    ref_.handle = found[0];
}

std::shared_ptr<p11::Token> Pkcs11Key::currentToken(CK_OBJECT_HANDLE &h) {
    std::unique_lock<std::mutex> lk(mu_);
    if (!ref_.token || ref_.token->stale() || ref_.handle == CK_INVALID_HANDLE) refresh(lk);
    h = ref_.handle;
    return ref_.token;
}

Bytes Pkcs11Key::sign(const SignRequest &req) {
    if (!hasPrivate()) throw Error(Reason::Unsupported, "cannot sign with a public key");
    Bytes data = req.data;
    CK_MECHANISM mech{0, nullptr, 0};
    CK_RSA_PKCS_PSS_PARAMS pss{};
    size_t sigLen = 0;
    switch (req.scheme) {
    case SignScheme::Ecdsa:
        mech.mechanism = CKM_ECDSA;
        sigLen = 2 * ((pub_.bits + 7) / 8);
        break;
    case SignScheme::EdDsa:
        mech.mechanism = CKM_EDDSA;  // pure Ed25519: no parameters
        sigLen = 64;
        break;
    case SignScheme::RsaPkcs1:
        mech.mechanism = CKM_RSA_PKCS;
        if (req.digestNid) data = p11::digestInfo(req.digestNid, req.data);
        sigLen = (pub_.bits + 7) / 8;
        break;
    case SignScheme::RsaPss:
        mech.mechanism = CKM_RSA_PKCS_PSS;
        pss.hashAlg = p11::hashMechanism(req.digestNid);
        pss.mgf = p11::mgf1Generator(req.mgf1Nid ? req.mgf1Nid : req.digestNid);
        pss.sLen = req.saltLen;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof pss;
        sigLen = (pub_.bits + 7) / 8;
        break;
    }
    if (!hasPub_) sigLen = 1024;  // size unknown without the public half: ask big

    for (int attempt = 0;; attempt++) {
        CK_OBJECT_HANDLE h;
        auto tok = currentToken(h);
        tok->login(ref_.pin);
        p11::Session s = tok->session();
        CK_FUNCTION_LIST *f = s.fn();
        CK_RV rv = f->C_SignInit(s.handle(), &mech, h);
        if (rv == CKR_OK) {
            Bytes sig(sigLen);
            CK_ULONG n = sig.size();
            rv = f->C_Sign(s.handle(), data.data(), data.size(), sig.data(), &n);
            if (rv == CKR_BUFFER_TOO_SMALL) {
                sig.resize(n);
                rv = f->C_Sign(s.handle(), data.data(), data.size(), sig.data(), &n);
            }
            if (rv == CKR_OK) {
                sig.resize(n);
                return sig;
            }
        }
        s.discard();
        if (attempt == 0 && (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)) {
            std::lock_guard<std::mutex> lk(mu_);
            ref_.handle = CK_INVALID_HANDLE;
            continue;
        }
        if (attempt == 0 && rv == CKR_USER_NOT_LOGGED_IN) {
            tok->forgetLogin();
            continue;
        }
        p11::check(rv, "signing with " + uri() + " on " + tok->describe());
    }
}

}  // namespace secsf
