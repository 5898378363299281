// /keys/OWNER: GET lists the keys secsfd made for OWNER.
// /keys/OWNER/NAME: PUT makes a key in an SE (JSON body: type ec|rsa|ed25519, curve,
//   bits; se, level or where — a card slot, TPM handle — to choose), GET shows it
//   (URI, SE, public key, the certificate the SE holds for it), DELETE deletes it
//   from the SE.
// /keys/OWNER/NAME/sign: POST {"data": base64url, "digest": "SHA256", "padding":
//   "pkcs1"|"pss"} signs inside the SE; the signature comes back base64url (ECDSA as
//   DER, as OpenSSL and X.509 use it).
// /keys/OWNER/NAME/decrypt: POST {"data", "padding": "oaep"|"pkcs1", "digest": "SHA1"
//   (OAEP's, the default) or SHA256...} with an RSA key.
// /keys/OWNER/NAME/derive: POST {"peer": PEM, "kdf": "HKDF"|"X963KDF", "digest", "salt",
//   "info", "length"}: ECDH in the SE and the KDF; the shared secret is never answered.
// The caller that makes a key is its owner; the policy decides on OWNER/NAME.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/objects.h>

#include "../se-plugins/public_key.h"
#include "../services/base64url.h"
#include "../services/messages.h"
#include "api.h"
#include "api_call.h"
#include "secsf/identifier.h"

namespace secsf::daemon {

namespace {

svc::Json describe(const KeyRecord &r) {
    return {{"owner", r.owner}, {"name", r.name}, {"uri", r.uri}, {"se", r.se}, {"type", r.type}, {"created", r.created}};
}

KeyGenRequest genRequestFrom(const svc::Json &body) {
    KeyGenRequest req;
    std::string type = svc::optMember(body, "type", "ec");
    if (type == "ec") {
        req.type = KeyType::EC;
        req.group = svc::optMember(body, "curve", "P-256");
    } else if (type == "rsa") {
        req.type = KeyType::RSA;
        req.bits = body.contains("bits") ? (int)svc::intMember(body, "bits") : 2048;
        if (req.bits < 2048 || req.bits > 8192) throw Error(Reason::BadInput, "bits must be from 2048 to 8192");
    } else if (type == "ed25519") {
        req.type = KeyType::ED25519;
    } else {
        throw Error(Reason::BadInput, "type must be ec, rsa or ed25519");
    }
    return req;
}

// The SE's certificate for the key (a card slot's), DER to PEM.
std::string certificatePem(const Bytes &der) {
    const unsigned char *p = der.data();
    std::unique_ptr<X509, decltype(&X509_free)> x(d2i_X509(nullptr, &p, (long)der.size()), X509_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), BIO_free);
    if (!x || !b || PEM_write_bio_X509(b.get(), x.get()) != 1) return "";
    char *d = nullptr;
    long n = BIO_get_mem_data(b.get(), &d);
    return std::string(d, (size_t)n);
}

const EVP_MD *digestNamed(const std::string &name) {
    for (const char *ok : {"SHA256", "SHA384", "SHA512"})
        if (name == ok) return EVP_get_digestbyname(ok);
    throw Error(Reason::BadInput, "digest must be SHA256, SHA384 or SHA512");
}

svc::Json signWith(SeKey &key, const svc::Json &body) {
    svc::Bytes data = svc::unb64url(svc::member(body, "data"));
    SignRequest sr;
    KeyType type = key.keyType();
    if (type == KeyType::ED25519) {
        sr.scheme = SignScheme::EdDsa;
        sr.data.assign(data.begin(), data.end());
    } else {
        const EVP_MD *md = digestNamed(svc::optMember(body, "digest", "SHA256"));
        sr.digestNid = EVP_MD_get_type(md);
        sr.data.resize((size_t)EVP_MD_get_size(md));
        unsigned len = 0;
        if (EVP_Digest(data.data(), data.size(), sr.data.data(), &len, md, nullptr) != 1)
            throw Error(Reason::Generic, "cannot hash the data");
        if (type == KeyType::RSA) {
            std::string padding = svc::optMember(body, "padding", "pkcs1");
            if (padding == "pss") {
                sr.scheme = SignScheme::RsaPss;
                sr.saltLen = EVP_MD_get_size(md);
                sr.mgf1Nid = sr.digestNid;
            } else if (padding == "pkcs1") {
                sr.scheme = SignScheme::RsaPkcs1;
            } else {
                throw Error(Reason::BadInput, "padding must be pkcs1 or pss");
            }
        }
    }
    Bytes sig = key.sign(sr);
    if (type == KeyType::EC) sig = ecdsaSigDer(sig);
    return {{"signature", svc::b64url(sig.data(), sig.size())}};
}

// {"data": base64url, "padding": "oaep"|"pkcs1", "digest": "SHA1"|"SHA256"|...} with an RSA key.
svc::Json decryptWith(SeKey &key, const svc::Json &body) {
    if (key.keyType() != KeyType::RSA) throw Error(Reason::Unsupported, "only RSA keys decrypt");
    svc::Bytes data = svc::unb64url(svc::member(body, "data"));
    DecryptRequest req;
    std::string padding = svc::optMember(body, "padding", "oaep");
    if (padding == "oaep") {
        req.padding = DecryptRequest::Oaep;
        // OpenSSL's default, and the only one some tokens (SoftHSM) do.
        std::string digest = svc::optMember(body, "digest", "SHA1");
        req.oaepDigestNid = digest == "SHA1" ? NID_sha1 : EVP_MD_get_type(digestNamed(digest));
    } else if (padding == "pkcs1") {
        req.padding = DecryptRequest::Pkcs1;
    } else {
        throw Error(Reason::BadInput, "padding must be oaep or pkcs1");
    }
    SecureBytes plain = key.decrypt(req, Bytes(data.begin(), data.end()));
    return {{"plaintext", svc::b64url(plain.data(), plain.size())}};
}

// {"peer": public key PEM, "kdf": "HKDF"|"X963KDF", "digest", "salt", "info" (base64url),
// "length"}: ECDH in the SE, then the KDF here; the shared secret never leaves secsfd.
svc::Json deriveWith(SeKey &key, const svc::Json &body) {
    if (key.keyType() != KeyType::EC) throw Error(Reason::Unsupported, "only EC keys derive (ECDH)");
    std::string pem = svc::member(body, "peer");
    std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new_mem_buf(pem.data(), (int)pem.size()), BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> peer(
        PEM_read_bio_PUBKEY_ex(b.get(), nullptr, nullptr, nullptr, nullptr, "provider=default"), EVP_PKEY_free);
    if (!peer) throw Error(Reason::BadInput, "peer is not a PEM public key");
    PublicKey pp = publicKeyFromEvp(peer.get());
    if (pp.type != KeyType::EC || pp.group != key.publicKey().group)
        throw Error(Reason::BadInput, "the peer's key is not on the curve of " + key.uri());
    std::string kdf = svc::optMember(body, "kdf", "HKDF");
    if (kdf != "HKDF" && kdf != "X963KDF") throw Error(Reason::BadInput, "kdf must be HKDF or X963KDF");
    const EVP_MD *md = digestNamed(svc::optMember(body, "digest", "SHA256"));
    int64_t length = body.contains("length") ? svc::intMember(body, "length") : 32;
    if (length < 16 || length > 64) throw Error(Reason::BadInput, "length must be from 16 to 64 bytes");
    svc::Bytes salt = svc::unb64url(svc::optMember(body, "salt")), info = svc::unb64url(svc::optMember(body, "info"));
    SecureBytes z = key.derive(pp.ecPoint);
    std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> k(EVP_KDF_fetch(nullptr, kdf.c_str(), "provider=default"), EVP_KDF_free);
    std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> c(k ? EVP_KDF_CTX_new(k.get()) : nullptr, EVP_KDF_CTX_free);
    std::string mdName = EVP_MD_get0_name(md);
    OSSL_PARAM params[5];
    int n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, mdName.data(), 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z.data(), z.size());
    if (kdf == "HKDF") {
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size());
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size());
    } else {
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size());
    }
    params[n] = OSSL_PARAM_construct_end();
    SecureBytes out((size_t)length);
    if (!c || EVP_KDF_derive(c.get(), out.data(), out.size(), params) != 1)
        throw Error(Reason::Generic, "the key derivation failed");
    return {{"derived", svc::b64url(out.data(), out.size())}, {"kdf", kdf}};
}

}  // namespace

Found Api::keyOf(const KeyRecord &r) const {
    if (r.type == kSecretType) throw Error(Reason::BadInput, r.owner + "/" + r.name + " is a secret: see /secrets");
    {
        std::lock_guard<std::mutex> g(keyCacheMu_);
        auto it = keyCache_.find(r.uri);
        if (it != keyCache_.end()) return it->second;
    }
    Found f = registry_.forUri(r.uri).find(r.uri);
    if (!f.privateKey) throw Error(Reason::NotFound, "the SE no longer holds the private key of " + r.owner + "/" + r.name);
    std::lock_guard<std::mutex> g(keyCacheMu_);
    if (keyCache_.size() > 4096) keyCache_.clear();  // bounded; looked up again on use
    keyCache_[r.uri] = f;
    return f;
}

ApiResponse Api::keys(Call &call) const {
    const std::string &m = call.req.method;
    const auto &p = call.path;
    if (p.size() < 2 || p.size() > 4 || (p.size() == 4 && p[3] != "sign" && p[3] != "decrypt" && p[3] != "derive"))
        throw Rejected{404, 4004, "key resources are /keys/OWNER, /keys/OWNER/NAME and /keys/OWNER/NAME/sign|decrypt|derive"};
    const std::string &owner = p[1];
    checkIdentifier("owner", owner);
    if (p.size() == 2) {
        if (m != "GET") throw Rejected{405, 4005, "/keys/OWNER takes GET, not " + m};
        call.authorize("key.list", owner + "/*", owner);
        svc::Json out = svc::Json::array();
        for (const KeyRecord &r : keys_->list(owner))
            if (r.type != kSecretType) out.push_back(describe(r));
        return jsonResponse(200, 2000, {{"owner", owner}, {"keys", out}});
    }
    const std::string &name = p[2];
    checkStorageName(name);  // the same rules: no '/', no control characters
    std::string object = owner + "/" + name;
    if (p.size() == 4) {
        const std::string &op = p[3];
        if (m != "POST") throw Rejected{405, 4005, "/keys/OWNER/NAME/" + op + " takes POST, not " + m};
        call.authorize("key." + op, object, owner);
        auto rec = keys_->find(owner, name);
        if (!rec) throw Error(Reason::NotFound, "no key " + object);
        svc::Json body = svc::parseObject(Bytes(call.req.body.begin(), call.req.body.end()), "the request");
        Found f = keyOf(*rec);
        svc::Json out = op == "sign" ? signWith(*f.privateKey, body) : op == "decrypt" ? decryptWith(*f.privateKey, body)
                                                                                        : deriveWith(*f.privateKey, body);
        out["key"] = object;
        return jsonResponse(200, 2000, out);
    }
    if (m == "PUT") {
        call.authorize("key.gen", object, owner);
        svc::Json body = call.req.body.empty() ? svc::Json::object()
                                               : svc::parseObject(Bytes(call.req.body.begin(), call.req.body.end()), "the key request");
        KeyGenRequest req = genRequestFrom(body);
        std::string seName = svc::optMember(body, "se");
        // A place inside a configured SE (a card slot, a TPM handle, a token): the
        // plug-in refuses one that holds a key with a certificate, so nobody else's.
        req.where = svc::optMember(body, "where");
        SePlugin &se = !req.where.empty()        ? registry_.forUri(req.where)
                       : body.contains("level") ? registry_.byLevel((int)svc::intMember(body, "level"))
                                                : registry_.able(CapKeyGen, "make keys", seName);
        if (!seName.empty() && se.name() != seName)
            throw Error(Reason::BadInput, "where names a place in SE '" + se.name() + "', not in '" + seName + "'");
        if (!(se.capabilities() & CapKeyGen)) throw Error(Reason::Unsupported, "SE '" + se.name() + "' cannot make keys");
        req.label = "secsfd/" + object;
        std::shared_ptr<SeKey> key;
        auto rec = keys_->create(owner, name, [&] {
            key = se.generate(req);
            return KeyRecord{"", "", key->uri(), se.name(), keyTypeName(key->keyType()), 0};
        });
        if (!rec) throw Rejected{409, 4105, "there is a key " + object + " already: delete it first or choose another name"};
        svc::Json out = describe(*rec);
        out["publicKey"] = publicKeyPem(key->publicKey());
        return jsonResponse(201, 2001, out);
    }
    auto rec = keys_->find(owner, name);
    if (m == "GET") {
        call.authorize("key.show", object, owner);
        if (!rec) throw Error(Reason::NotFound, "no key " + object);
        Found f = keyOf(*rec);
        svc::Json out = describe(*rec);
        out["publicKey"] = publicKeyPem(f.privateKey->publicKey());
        if (!f.certificate.empty()) out["certificate"] = certificatePem(f.certificate);
        return jsonResponse(200, 2000, out);
    }
    if (m == "DELETE") {
        call.authorize("key.delete", object, owner);
        if (!rec) throw Error(Reason::NotFound, "no key " + object);
        registry_.forUri(rec->uri).deleteKey(rec->uri);
        {
            std::lock_guard<std::mutex> g(keyCacheMu_);
            keyCache_.erase(rec->uri);
        }
        keys_->release(owner, name);
        return jsonResponse(200, 2002, {{"deleted", object}});
    }
    throw Rejected{405, 4005, "/keys/OWNER/NAME takes PUT, GET or DELETE, not " + m};
}

}  // namespace secsf::daemon
