#include "pkcs11_key.h"

#include "../../pkcs11/mechanisms.h"
#include "../../pkcs11/objects.h"
#include "../../pkcs11/rv.h"
#include "../../pkcs11/uri.h"
#include "secsf/device_call.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <unistd.h>

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
    for (auto &t : ref_.module->tokensWhere([&](const p11::Token &t) {
             return t.serial() == ref_.tokenSerial && t.label() == ref_.tokenLabel;
         }))
        tok = t;
    tokenMissing_ = !tok;
    if (!tok)
        throw Error(Reason::NotFound, "token '" + ref_.tokenLabel + "' (serial " + ref_.tokenSerial +
                                          ") is not among the tokens " + ref_.module->path() +
                                          " shows this process (uid " + std::to_string(geteuid()) +
                                          "): it was removed, or this user cannot read it (SoftHSM: "
                                          "the directories.tokendir of SOFTHSM2_CONF)");
    if (ref_.cls == CKO_PRIVATE_KEY) tok->login(ref_.pin);
    p11::Session s = tok->session();
    CK_BBOOL onToken = CK_TRUE;
    std::vector<CK_ATTRIBUTE> tmpl{{CKA_CLASS, &ref_.cls, sizeof ref_.cls},
                                   {CKA_TOKEN, &onToken, sizeof onToken}};
    if (!ref_.id.empty()) tmpl.push_back({CKA_ID, ref_.id.data(), ref_.id.size()});
    if (!ref_.label.empty())
        tmpl.push_back({CKA_LABEL, (void *)ref_.label.data(), ref_.label.size()});
    auto found = p11::findObjectsRemembered(s, tmpl);
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
    h = ref_.cls == CKO_PUBLIC_KEY ? ref_.handle : ref_.token->fastHandle(ref_.handle);
    return ref_.token;
}

// Calls op(session, handle) with the rules every operation needs: logged in, a
// fresh handle after a fork or when another process replaced the object, one
// retry after a lost login; otherwise an Error naming the key and the token.
template <class Op> void Pkcs11Key::run(const char *what, Op op) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    int restarts = 0;
    for (int attempt = 0;; attempt++) {
        CK_OBJECT_HANDLE h;
        std::shared_ptr<p11::Token> tok;
        try {
            tok = currentToken(h);
            if (ref_.cls != CKO_PUBLIC_KEY) tok->login(ref_.pin);
        } catch (const Error &e) {
            // See Pkcs11Plugin::find: a module confused by another process's writes.
            // Only for a device error or a vanished token, never for a deleted object.
            bool mendable = e.reason() == Reason::DeviceError;
            {
                std::lock_guard<std::mutex> lk(mu_);
                mendable = mendable || tokenMissing_;
            }
            if (!mendable || restarts++ == p11::kMaxRestarts || !ref_.module->restart()) throw;
            attempt = -1;
            continue;
        }
        p11::Session s = tok->session();
        // Modules that use libcrypto (SoftHSM) leave their own errors on the shared
        // queue; secsf's sentence below is the one the user needs.
        ERR_set_mark();
        CK_RV rv = op(s, h);
        ERR_pop_to_mark();
        if (rv == CKR_OK) return;
        s.discard();
        if (attempt == 0 && (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)) {
            std::lock_guard<std::mutex> lk(mu_);
            tok->dropCopy(ref_.handle);
            ref_.handle = CK_INVALID_HANDLE;
            continue;
        }
        if (attempt == 0 && rv == CKR_USER_NOT_LOGGED_IN) {
            tok->forgetLogin();
            continue;
        }
        p11::check(rv, std::string(what) + " " + uri() + " on " + tok->describe());
    }
}

// The PKCS#11 output convention: retry once with the size the module asks for.
template <class Call> CK_RV Pkcs11Key::twoStep(Bytes &out, Call call) {
    CK_ULONG n = out.size();
    CK_RV rv = call(out.data(), &n);
    if (rv == CKR_BUFFER_TOO_SMALL) {
        out.resize(n);
        rv = call(out.data(), &n);
    }
    if (rv == CKR_OK) out.resize(n);
    return rv;
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

    Bytes sig(sigLen);
    run("signing with", [&](p11::Session &s, CK_OBJECT_HANDLE h) {
        CK_RV rv = s.fn()->C_SignInit(s.handle(), &mech, h);
        if (rv != CKR_OK) return rv;
        return twoStep(sig, [&](unsigned char *out, CK_ULONG *n) {
            return s.fn()->C_Sign(s.handle(), data.data(), data.size(), out, n);
        });
    });
    return sig;
}

SecureBytes Pkcs11Key::derive(const Bytes &peerPoint) {
    if (!hasPrivate() || pub_.type != KeyType::EC)
        throw Error(Reason::Unsupported, "ECDH needs an EC private key; " + uri() + " is not one");
    CK_ECDH1_DERIVE_PARAMS params{};
    params.kdf = CKD_NULL;
    params.pPublicData = const_cast<unsigned char *>(peerPoint.data());
    params.ulPublicDataLen = peerPoint.size();
    CK_MECHANISM mech{CKM_ECDH1_DERIVE, &params, sizeof params};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ULONG len = (pub_.bits + 7) / 8;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    // A session object that may be read once: SoftHSM cannot run a KDF on Z inside.
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &kt, sizeof kt},
                           {CKA_TOKEN, &no, sizeof no},         {CKA_SENSITIVE, &no, sizeof no},
                           {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE_LEN, &len, sizeof len}};
    SecureBytes z(len);
    run("ECDH with", [&](p11::Session &s, CK_OBJECT_HANDLE h) {
        CK_OBJECT_HANDLE zh = CK_INVALID_HANDLE;
        CK_RV rv = s.fn()->C_DeriveKey(s.handle(), &mech, h, tmpl, 6, &zh);
        if (rv != CKR_OK) return rv;
        CK_ATTRIBUTE v{CKA_VALUE, z.data(), z.size()};
        rv = s.fn()->C_GetAttributeValue(s.handle(), zh, &v, 1);
        s.fn()->C_DestroyObject(s.handle(), zh);
        if (rv == CKR_OK) z.resize(v.ulValueLen);
        return rv;
    });
    return z;
}

SecureBytes Pkcs11Key::decrypt(const DecryptRequest &req, const Bytes &in) {
    if (!hasPrivate() || pub_.type != KeyType::RSA)
        throw Error(Reason::Unsupported, "decryption needs an RSA private key; " + uri() + " is not one");
    CK_RSA_PKCS_OAEP_PARAMS oaep{};
    CK_MECHANISM mech{CKM_RSA_PKCS, nullptr, 0};
    if (req.padding == DecryptRequest::Oaep) {
        int md = req.oaepDigestNid ? req.oaepDigestNid : NID_sha1;
        oaep.hashAlg = p11::hashMechanism(md);
        oaep.mgf = p11::mgf1Generator(req.mgf1Nid ? req.mgf1Nid : md);
        oaep.source = CKZ_DATA_SPECIFIED;
        oaep.pSourceData = req.label.empty() ? nullptr : const_cast<unsigned char *>(req.label.data());
        oaep.ulSourceDataLen = req.label.size();
        mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
    }
    SecureBytes out((pub_.bits + 7) / 8);
    bool refusedParams = false, initOk = false;
    try {
        run("decrypting with", [&](p11::Session &s, CK_OBJECT_HANDLE h) {
            CK_RV rv = s.fn()->C_DecryptInit(s.handle(), &mech, h);
            // Tokens say "bad arguments" for OAEP digests they lack (SoftHSM: SHA-1 only).
            refusedParams = rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
                            rv == CKR_MECHANISM_INVALID;
            if (rv != CKR_OK) return rv;
            initOk = true;
            CK_ULONG n = out.size();
            rv = s.fn()->C_Decrypt(s.handle(), const_cast<unsigned char *>(in.data()), in.size(),
                                   out.data(), &n);
            if (rv == CKR_OK) out.resize(n);
            return rv;
        });
    } catch (const Error &e) {
        if (initOk && e.reason() != Reason::PinRequired && e.reason() != Reason::NotFound)
            throw Error(Reason::BadInput, std::string("the ciphertext was rejected (wrong key, wrong "
                                                      "padding or tampered data): ") + e.what());
        if (!refusedParams || req.padding != DecryptRequest::Oaep) throw;
        int md = req.oaepDigestNid ? req.oaepDigestNid : NID_sha1;
        int mgf = req.mgf1Nid ? req.mgf1Nid : md;
        throw Error(Reason::Unsupported, std::string("the token does not do RSA-OAEP with ") +
                                             OBJ_nid2sn(md) + " (MGF1 " + OBJ_nid2sn(mgf) +
                                             "): " + e.what());
    }
    return out;
}

SecureBytes Pkcs11Key::hmac(int digestNid, const Bytes &data) {
    if (ref_.cls != CKO_SECRET_KEY)
        throw Error(Reason::Unsupported, "HMAC needs a secret key; " + uri() + " is not one");
    CK_MECHANISM mech{p11::hmacMechanism(digestNid), nullptr, 0};
    Bytes mac(EVP_MAX_MD_SIZE);
    run("HMAC with", [&](p11::Session &s, CK_OBJECT_HANDLE h) {
        CK_RV rv = s.fn()->C_SignInit(s.handle(), &mech, h);
        if (rv != CKR_OK) return rv;
        return twoStep(mac, [&](unsigned char *out, CK_ULONG *n) {
            return s.fn()->C_Sign(s.handle(), const_cast<unsigned char *>(data.data()),
                                  data.size(), out, n);
        });
    });
    SecureBytes out(mac.begin(), mac.end());
    OPENSSL_cleanse(mac.data(), mac.size());
    return out;
}

}  // namespace secsf
