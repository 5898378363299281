#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cstring>

#include "openssl_error.h"
#include "jose.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

const char kAltered[] = "the message was altered or is not for this key";

size_t encKeySize(const std::string &enc) {
    if (enc == "A128GCM") return 16;
    if (enc == "A192GCM") return 24;
    if (enc == "A256GCM") return 32;
    throw Error(Reason::Unsupported, "JWE enc '" + enc + "' is not supported (A128GCM, A192GCM, A256GCM)");
}

const EVP_CIPHER *gcm(size_t keyLen) {
    return keyLen == 16 ? EVP_aes_128_gcm() : keyLen == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
}

// The key-wrap size of A128KW / ECDH-ES+A128KW and friends; 0 for other algs.
size_t kwSize(const std::string &alg) {
    for (auto [name, n] : {std::pair{"128KW", 16}, std::pair{"192KW", 24}, std::pair{"256KW", 32}})
        if (alg.size() >= 5 && alg.compare(alg.size() - 5, 5, name) == 0) return (size_t)n;
    return 0;
}

Bytes random(size_t n) {
    Bytes b(n);
    if (RAND_bytes(b.data(), (int)n) != 1) throw Error(Reason::Generic, "no random numbers");
    return b;
}

// RFC 3394 AES key wrap.
Bytes keyWrap(const SecureBytes &kek, const SecureBytes &in, bool wrap) {
    const EVP_CIPHER *c = kek.size() == 16 ? EVP_aes_128_wrap() : kek.size() == 24 ? EVP_aes_192_wrap() : EVP_aes_256_wrap();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    Bytes out(in.size() + 16);
    int n = 0, m = 0;
    bool ok = EVP_CipherInit_ex(ctx, c, nullptr, kek.data(), nullptr, wrap) > 0 &&
              EVP_CipherUpdate(ctx, out.data(), &n, in.data(), (int)in.size()) > 0 &&
              EVP_CipherFinal_ex(ctx, out.data() + n, &m) > 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        throw Error(Reason::BadInput, wrap ? "AES key wrap failed" : kAltered);
    }
    out.resize((size_t)(n + m));
    return out;
}

void put32(Bytes &b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back((unsigned char)(v >> s));
}

// RFC 7518 4.6.2: the Concat KDF (NIST SP 800-56A) with SHA-256, one round for
// keys up to 256 bits.
SecureBytes concatKdf(const SecureBytes &z, const std::string &alg, size_t keyLen, const Json &h) {
    Bytes info;
    put32(info, (uint32_t)alg.size());
    info.insert(info.end(), alg.begin(), alg.end());
    for (const char *party : {"apu", "apv"}) {
        if (h.contains(party) && !h[party].is_string())
            throw Error(Reason::BadInput, std::string("the JWE header's \"") + party + "\" is not a string");
        Bytes v = h.contains(party) ? unb64url(h[party].get<std::string>()) : Bytes{};
        put32(info, (uint32_t)v.size());
        info.insert(info.end(), v.begin(), v.end());
    }
    put32(info, (uint32_t)(keyLen * 8));
    SecureBytes buf = {0, 0, 0, 1};
    buf.insert(buf.end(), z.begin(), z.end());
    buf.insert(buf.end(), info.begin(), info.end());
    SecureBytes out(32);
    unsigned n = 0;
    if (!EVP_Digest(buf.data(), buf.size(), out.data(), &n, EVP_sha256(), nullptr))
        throw Error(Reason::Generic, "SHA-256 failed");
    out.resize(keyLen);
    return out;
}

SecureBytes ecdh(EVP_PKEY *mine, EVP_PKEY *peer) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr);
    size_t n = 0;
    bool ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_derive_set_peer(c, peer) > 0 &&
              EVP_PKEY_derive(c, nullptr, &n) > 0;
    SecureBytes z(n);
    ok = ok && EVP_PKEY_derive(c, z.data(), &n) > 0;
    EVP_PKEY_CTX_free(c);
    if (!ok) {
        throw Error(Reason::BadInput, "ECDH failed: " + takeOpensslError());
    }
    z.resize(n);
    return z;
}

bool rsaOaep256(EVP_PKEY *k, bool encrypt, const unsigned char *in, size_t inLen, SecureBytes &out) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, k, encrypt ? "provider=default" : nullptr);
    size_t n = 0;
    bool ok = c && (encrypt ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
              EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", nullptr) > 0 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", nullptr) > 0 &&
              (encrypt ? EVP_PKEY_encrypt(c, nullptr, &n, in, inLen) : EVP_PKEY_decrypt(c, nullptr, &n, in, inLen)) > 0;
    out.resize(n);
    ok = ok && (encrypt ? EVP_PKEY_encrypt(c, out.data(), &n, in, inLen) : EVP_PKEY_decrypt(c, out.data(), &n, in, inLen)) > 0;
    EVP_PKEY_CTX_free(c);
    ERR_clear_error();
    out.resize(ok ? n : 0);
    return ok;
}

}  // namespace

SecureBytes ecdhSecret(const JoseKey &mine, const JoseKey &peer) { return ecdh(mine.pkey(), peer.publicKey().pkey()); }

std::string jweEncrypt(const JoseKey &recipient, const Bytes &plaintext, const std::string &alg, const std::string &enc,
                       Json header) {
    size_t cekLen = encKeySize(enc);
    header["alg"] = alg;
    header["enc"] = enc;
    SecureBytes cek;
    const SecureBytes *cekp = &cek;  // dir: the recipient's key itself, not a copy
    Bytes encryptedKey;
    if (alg == "dir") {
        if (recipient.secret().size() != cekLen)
            throw Error(Reason::BadInput, "dir needs a symmetric key of the size " + enc + " uses");
        cekp = &recipient.secret();
    } else {
        Bytes r = random(cekLen);
        cek.assign(r.begin(), r.end());
        OPENSSL_cleanse(r.data(), r.size());
        if (alg == "RSA-OAEP-256") {
            if (!recipient.isRsa()) throw Error(Reason::BadInput, "RSA-OAEP-256 needs an RSA key");
            SecureBytes out;
            if (!rsaOaep256(recipient.publicKey().pkey(), true, cek.data(), cek.size(), out))
                throw Error(Reason::Generic, "RSA-OAEP-256 encryption failed");
            encryptedKey.assign(out.begin(), out.end());
        } else if (alg.compare(0, 8, "ECDH-ES+") == 0 && kwSize(alg)) {
            if (!recipient.isEc()) throw Error(Reason::BadInput, alg + " needs an EC key");
            char group[64] = {};
            EVP_PKEY_get_utf8_string_param(recipient.pkey(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr);
            EVP_PKEY *eph = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", group);
            if (!eph) throw Error(Reason::Generic, "cannot make an ephemeral EC key");
            JoseKey ephKey = JoseKey::fromPkey(eph);
            EVP_PKEY_free(eph);
            header["epk"] = ephKey.publicJwk();
            SecureBytes z = ecdh(ephKey.pkey(), recipient.publicKey().pkey());
            encryptedKey = keyWrap(concatKdf(z, alg, kwSize(alg), header), cek, true);
        } else if (alg.size() == 6 && alg[0] == 'A' && kwSize(alg)) {
            if (recipient.secret().size() != kwSize(alg)) throw Error(Reason::BadInput, alg + " needs a key of its size");
            encryptedKey = keyWrap(recipient.secret(), cek, true);
        } else {
            throw Error(Reason::Unsupported, "JWE alg '" + alg + "' is not supported");
        }
    }
    std::string protectedB64 = b64url(header.dump());
    Bytes iv = random(12), ct(plaintext.size() + 16), tag(16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = EVP_EncryptInit_ex(c, gcm(cekLen), nullptr, cekp->data(), iv.data()) > 0 &&
              EVP_EncryptUpdate(c, nullptr, &n, (const unsigned char *)protectedB64.data(), (int)protectedB64.size()) > 0 &&
              EVP_EncryptUpdate(c, ct.data(), &n, plaintext.data(), (int)plaintext.size()) > 0 &&
              EVP_EncryptFinal_ex(c, ct.data() + n, &m) > 0 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag.data()) > 0;
    EVP_CIPHER_CTX_free(c);
    if (!ok) throw Error(Reason::Generic, "AES-GCM encryption failed");
    ct.resize((size_t)(n + m));
    std::string out = std::move(protectedB64);
    out.reserve(out.size() + (encryptedKey.size() + ct.size()) * 4 / 3 + 48);
    for (const Bytes *part : {&encryptedKey, &iv, &ct, &tag}) {
        out += '.';
        out += b64url(*part);
    }
    return out;
}

SecureBytes jweDecrypt(const std::string &compact, const JoseKey &key, Json *headerOut) {
    std::vector<std::string> p = compactParts(compact, 5);
    Bytes hb = unb64url(p[0]);
    Json h = parseJson(hb);
    if (!h.is_object() || !h.contains("alg") || !h.contains("enc") || !h["alg"].is_string() || !h["enc"].is_string())
        throw Error(Reason::BadInput, "the JWE header is not a JSON object with \"alg\" and \"enc\"");
    if (h.contains("crit")) throw Error(Reason::Unsupported, "JOSE \"crit\" extensions are not supported");
    std::string alg = h["alg"].get<std::string>(), enc = h["enc"].get<std::string>();
    size_t cekLen = encKeySize(enc);
    Bytes encryptedKey = unb64url(p[1]), iv = unb64url(p[2]), ct = unb64url(p[3]), tag = unb64url(p[4]);
    if (iv.size() != 12 || tag.size() != 16) throw Error(Reason::BadInput, "JWE IV or tag of the wrong size");
    SecureBytes cek;
    if (alg == "dir") {
        if (!encryptedKey.empty()) throw Error(Reason::BadInput, "a dir JWE carries no encrypted key");
        cek = key.secret();
    } else if (alg == "RSA-OAEP-256") {
        if (!key.isRsa()) throw Error(Reason::BadInput, "RSA-OAEP-256 needs an RSA key");
        if (!rsaOaep256(key.pkey(), false, encryptedKey.data(), encryptedKey.size(), cek)) cek.clear();
    } else if (alg.compare(0, 8, "ECDH-ES+") == 0 && kwSize(alg)) {
        if (!key.isEc() || !h.contains("epk")) throw Error(Reason::BadInput, alg + " needs an EC key and an epk");
        JoseKey epk = JoseKey::fromJwk(h["epk"]);
        if (EVP_PKEY_get_bits(epk.pkey()) != key.bits()) throw Error(Reason::BadInput, "epk is on another curve");
        SecureBytes z = ecdh(key.pkey(), epk.pkey());
        cek = SecureBytes();
        try {
            Bytes k = keyWrap(concatKdf(z, alg, kwSize(alg), h), SecureBytes(encryptedKey.begin(), encryptedKey.end()), false);
            cek.assign(k.begin(), k.end());
            OPENSSL_cleanse(k.data(), k.size());
        } catch (const Error &) {
        }
    } else if (alg.size() == 6 && alg[0] == 'A' && kwSize(alg)) {
        if (key.secret().size() != kwSize(alg)) throw Error(Reason::BadInput, alg + " needs a key of its size");
        try {
            Bytes k = keyWrap(key.secret(), SecureBytes(encryptedKey.begin(), encryptedKey.end()), false);
            cek.assign(k.begin(), k.end());
            OPENSSL_cleanse(k.data(), k.size());
        } catch (const Error &) {
        }
    } else {
        throw Error(Reason::Unsupported, "JWE alg '" + alg + "' is not supported");
    }
    // One answer for every failure from here on: no oracle on which step failed.
    if (cek.size() != cekLen) throw Error(Reason::BadInput, kAltered);
    SecureBytes out(ct.size() + 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = EVP_DecryptInit_ex(c, gcm(cekLen), nullptr, cek.data(), iv.data()) > 0 &&
              EVP_DecryptUpdate(c, nullptr, &n, (const unsigned char *)p[0].data(), (int)p[0].size()) > 0 &&
              EVP_DecryptUpdate(c, out.data(), &n, ct.data(), (int)ct.size()) > 0 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) > 0 &&
              EVP_DecryptFinal_ex(c, out.data() + n, &m) > 0;
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    if (!ok) throw Error(Reason::BadInput, kAltered);
    out.resize((size_t)(n + m));
    if (headerOut) *headerOut = h;
    return out;
}

}  // namespace secsf::svc
