#include "piv_applet.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>

namespace card {

namespace {

const Bytes kPivAid = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00};

enum : unsigned {
    SW_OK = 0x9000,
    SW_WRONG_LENGTH = 0x6700,
    SW_SECURITY = 0x6982,
    SW_BLOCKED = 0x6983,
    SW_CONDITIONS = 0x6985,
    SW_WRONG_DATA = 0x6A80,
    SW_NOT_FOUND = 0x6A82,
    SW_WRONG_P1P2 = 0x6A86,
    SW_REF_NOT_FOUND = 0x6A88,
    SW_INS = 0x6D00,
    SW_CLA = 0x6E00,
    SW_UNKNOWN = 0x6F00,
};

void putLen(Bytes &out, size_t n) {
    if (n < 0x80) {
        out.push_back((unsigned char)n);
    } else if (n < 0x100) {
        out.push_back(0x81);
        out.push_back((unsigned char)n);
    } else {
        out.push_back(0x82);
        out.push_back((unsigned char)(n >> 8));
        out.push_back((unsigned char)n);
    }
}

Bytes tlv(unsigned tag, const Bytes &value) {
    Bytes out;
    if (tag > 0xFFFF) out.push_back((unsigned char)(tag >> 16));
    if (tag > 0xFF) out.push_back((unsigned char)(tag >> 8));
    out.push_back((unsigned char)tag);
    putLen(out, value.size());
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes &p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// One-byte-tag TLVs (the dynamic authentication template and friends); false when
// a length runs past the end.
bool parseTlvs(const Bytes &in, std::map<int, Bytes> &out) {
    size_t i = 0;
    while (i < in.size()) {
        int tag = in[i++];
        if (i >= in.size()) return false;
        size_t len = in[i++];
        if (len == 0x81 || len == 0x82) {
            size_t k = len & 0x7F;
            if (i + k > in.size()) return false;
            len = 0;
            for (size_t j = 0; j < k; j++) len = (len << 8) | in[i++];
        } else if (len > 0x82) {
            return false;
        }
        if (i + len > in.size()) return false;
        out[tag] = Bytes(in.begin() + (long)i, in.begin() + (long)(i + len));
        i += len;
    }
    return true;
}

// The value of the one outer TLV with this one-byte tag.
bool unwrap(const Bytes &in, int tag, Bytes &value) {
    std::map<int, Bytes> m;
    if (!parseTlvs(in, m) || m.size() != 1 || !m.count(tag)) return false;
    value = m[tag];
    return true;
}

Bytes sw(unsigned s) { return {(unsigned char)(s >> 8), (unsigned char)s}; }

int pivAlgOf(EVP_PKEY *k) {
    if (EVP_PKEY_is_a(k, "RSA")) return EVP_PKEY_get_bits(k) == 2048 ? 0x07 : 0x06;
    return EVP_PKEY_get_bits(k) == 384 ? 0x14 : 0x11;
}

bool isKeySlot(int s) { return s == 0x9A || s == 0x9C || s == 0x9D || s == 0x9E; }

// Data objects: the SP 800-73-4 containers, the discovery object and the
// vendor range 5FFF00-5FFF1F real tokens offer for applications.
bool isObject(unsigned tag) {
    return tag == 0x7E || (tag >= 0x5FC101 && tag <= 0x5FC123) || (tag >= 0x5FFF00 && tag <= 0x5FFF1F);
}

const EVP_CIPHER *mgmtCipher(int alg) {
    switch (alg) {
    case 0x03: return EVP_des_ede3_ecb();
    case 0x08: return EVP_aes_128_ecb();
    case 0x0A: return EVP_aes_192_ecb();
    case 0x0C: return EVP_aes_256_ecb();
    default: return nullptr;
    }
}

Bytes ecb(const EVP_CIPHER *c, const Bytes &key, const Bytes &in, bool enc) {
    Bytes out(in.size() + 32);
    int n = 0, m = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_CipherInit_ex(ctx, c, nullptr, key.data(), nullptr, enc);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    EVP_CipherUpdate(ctx, out.data(), &n, in.data(), (int)in.size());
    EVP_CipherFinal_ex(ctx, out.data() + n, &m);
    EVP_CIPHER_CTX_free(ctx);
    out.resize((size_t)(n + m));
    return out;
}

Bytes publicTemplate(EVP_PKEY *k) {
    if (EVP_PKEY_is_a(k, "RSA")) {
        BIGNUM *n = nullptr, *e = nullptr;
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
        Bytes nb((size_t)BN_num_bytes(n)), eb((size_t)BN_num_bytes(e));
        BN_bn2bin(n, nb.data());
        BN_bn2bin(e, eb.data());
        BN_free(n);
        BN_free(e);
        return tlv(0x7F49, cat({tlv(0x81, nb), tlv(0x82, eb)}));
    }
    Bytes point(200);
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len);
    point.resize(len);
    return tlv(0x7F49, tlv(0x86, point));
}

}  // namespace

PivApplet::PivApplet(std::string statePath, Options opt)
    : statePath_(std::move(statePath)), opt_(opt), st_(State::load(statePath_)) {}

Bytes PivApplet::atr() const {
    // T=1 only; historical bytes: category 80, card capabilities (73) saying
    // "command chaining" and, on request, "extended Lc and Le".
    Bytes hist = {0x80, 0x73, 0x00, 0x00, (unsigned char)(opt_.extended ? 0xC0 : 0x80)};
    Bytes a = {0x3B, (unsigned char)(0x80 | hist.size()), 0x80, 0x01};
    a.insert(a.end(), hist.begin(), hist.end());
    unsigned char tck = 0;
    for (size_t i = 1; i < a.size(); i++) tck ^= a[i];
    a.push_back(tck);
    return a;
}

void PivApplet::powerCycle() {
    std::fill(std::begin(selected_), std::end(selected_), false);
    std::fill(std::begin(channelOpen_), std::end(channelOpen_), false);
    channelOpen_[0] = true;
    pinVerified_ = mgmtAuthenticated_ = false;
    challenge_.clear();
    chain_.clear();
    pending_.clear();
}

bool PivApplet::parse(const Bytes &r, Apdu &a) {
    if (r.size() < 4) return false;
    a.cla = r[0], a.ins = r[1], a.p1 = r[2], a.p2 = r[3];
    size_t n = r.size() - 4;
    const unsigned char *b = r.data() + 4;
    if (n == 0) return true;
    if (n == 1) {
        a.hasLe = true;
        a.le = b[0] ? b[0] : 256;
        return true;
    }
    if (b[0] != 0) {  // short Lc
        size_t lc = b[0];
        if (n == 1 + lc) {
            a.data.assign(b + 1, b + 1 + lc);
            return true;
        }
        if (n == 2 + lc) {
            a.data.assign(b + 1, b + 1 + lc);
            a.hasLe = true;
            a.le = b[1 + lc] ? b[1 + lc] : 256;
            return true;
        }
        return false;
    }
    a.extended = true;
    if (n == 3) {
        a.hasLe = true;
        a.le = ((size_t)b[1] << 8 | b[2]) ? ((size_t)b[1] << 8 | b[2]) : 65536;
        return true;
    }
    size_t lc = (size_t)b[1] << 8 | b[2];
    if (lc == 0 || n < 3 + lc) return false;
    a.data.assign(b + 3, b + 3 + lc);
    if (n == 3 + lc) return true;
    if (n != 5 + lc) return false;
    a.hasLe = true;
    size_t le = (size_t)b[3 + lc] << 8 | b[4 + lc];
    a.le = le ? le : 65536;
    return true;
}

Bytes PivApplet::respond(const Apdu &a, Bytes data, unsigned status) {
    if (opt_.strictLe && a.hasLe && !data.empty() && data.size() < 256 && a.le != data.size()) {
        if (a.ins == 0xC0) pending_ = data;  // the host asks again with the right Le
        return sw(0x6C00 | (unsigned)data.size());
    }
    size_t room = a.extended ? 65536 : 256;
    if (data.size() > room) {
        pending_.assign(data.begin() + (long)room, data.end());
        data.resize(room);
        status = 0x6100 | (pending_.size() >= 256 ? 0u : (unsigned)pending_.size());
    }
    Bytes out = std::move(data);
    Bytes s = sw(status);
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

Bytes PivApplet::process(const Bytes &raw) {
    Apdu a;
    if (!parse(raw, a)) return sw(SW_WRONG_LENGTH);
    if ((a.cla & 0xE0) != 0) return sw(SW_CLA);
    if (a.ins != 0xC0) pending_.clear();
    // Chaining: collect until the last command, which must be the same instruction.
    if (a.cla & 0x10) {
        if (!chain_.empty() && chainIns_ != a.ins) {
            chain_.clear();
            return sw(SW_CONDITIONS);
        }
        chainIns_ = a.ins;
        chain_.insert(chain_.end(), a.data.begin(), a.data.end());
        return sw(SW_OK);
    }
    if (!chain_.empty()) {
        if (chainIns_ != a.ins) {
            chain_.clear();
            return sw(SW_CONDITIONS);
        }
        a.data.insert(a.data.begin(), chain_.begin(), chain_.end());
        chain_.clear();
    }
    return dispatch(a);
}

Bytes PivApplet::dispatch(const Apdu &a) {
    int channel = a.cla & 0x03;
    if (!channelOpen_[channel]) return sw(0x6881);
    if (a.ins == 0xA4) return select(a, channel);
    if (a.ins == 0x70) return manageChannel(a);
    if (a.ins == 0xC0) {
        if (pending_.empty()) return sw(SW_CONDITIONS);
        Bytes rest = std::move(pending_);
        pending_.clear();
        return respond(a, rest);
    }
    if (!selected_[channel]) return sw(SW_INS);
    switch (a.ins) {
    case 0xCB: return getData(a);
    case 0xDB: return putData(a);
    case 0x20: return verify(a);
    case 0x24: return changePin(a);
    case 0x2C: return resetRetry(a);
    case 0x47: return generate(a);
    case 0x87: return generalAuthenticate(a);
    default: return sw(SW_INS);
    }
}

Bytes PivApplet::select(const Apdu &a, int channel) {
    if (a.p1 != 0x04) return sw(SW_WRONG_P1P2);
    // Right-truncated AIDs select too (SP 800-73-4 part 2, 3.1.1).
    if (a.data.empty() || a.data.size() > kPivAid.size() ||
        !std::equal(a.data.begin(), a.data.end(), kPivAid.begin())) {
        selected_[channel] = false;
        return sw(SW_NOT_FOUND);
    }
    selected_[channel] = true;
    Bytes alg;
    for (int id : {0x03, 0x07, 0x11, 0x14}) alg = cat({alg, tlv(0x80, {(unsigned char)id})});
    Bytes apt = tlv(0x61, cat({tlv(0x4F, {0x00, 0x00, 0x10, 0x00, 0x01, 0x00}),
                               tlv(0x79, tlv(0x4F, Bytes(kPivAid.begin(), kPivAid.begin() + 5))),
                               tlv(0x50, Bytes{'s', 'e', 'c', 's', 'f', ' ', 't', 'e', 's', 't', ' ', 'P', 'I', 'V'}),
                               tlv(0xAC, cat({alg, tlv(0x06, {0x00})}))}));
    return respond(a, apt);
}

Bytes PivApplet::manageChannel(const Apdu &a) {
    if (a.p1 == 0x00) {  // open the first free one
        for (int c = 1; c < 4; c++)
            if (!channelOpen_[c]) {
                channelOpen_[c] = true;
                selected_[c] = false;
                return respond(a, {(unsigned char)c});
            }
        return sw(0x6A81);
    }
    if (a.p1 == 0x80 && a.p2 >= 1 && a.p2 < 4) {
        channelOpen_[a.p2] = false;
        selected_[a.p2] = false;
        return sw(SW_OK);
    }
    return sw(SW_WRONG_P1P2);
}

Bytes PivApplet::getData(const Apdu &a) {
    if (a.p1 != 0x3F || a.p2 != 0xFF) return sw(SW_WRONG_P1P2);
    Bytes id;
    if (!unwrap(a.data, 0x5C, id) || id.empty() || id.size() > 3) return sw(SW_WRONG_DATA);
    unsigned tag = 0;
    for (unsigned char c : id) tag = tag << 8 | c;
    if (tag == 0x7E) {
        // Discovery: the PIV AID and a PIN usage policy of "PIV PIN only".
        return respond(a, tlv(0x7E, cat({tlv(0x4F, kPivAid), tlv(0x5F2F, {0x40, 0x00})})));
    }
    auto it = st_.objects.find((int)tag);
    if (!isObject(tag) || it == st_.objects.end()) return sw(SW_NOT_FOUND);
    return respond(a, tlv(0x53, it->second));
}

Bytes PivApplet::putData(const Apdu &a) {
    if (a.p1 != 0x3F || a.p2 != 0xFF) return sw(SW_WRONG_P1P2);
    if (!mgmtAuthenticated_) return sw(SW_SECURITY);
    // 5C LL tag, then 53 LL contents
    if (a.data.size() < 2 || a.data[0] != 0x5C || a.data[1] > 3 || a.data.size() < 2u + a.data[1])
        return sw(SW_WRONG_DATA);
    unsigned tag = 0;
    for (size_t i = 0; i < a.data[1]; i++) tag = tag << 8 | a.data[2 + i];
    Bytes rest(a.data.begin() + 2 + a.data[1], a.data.end()), value;
    if (!isObject(tag) || tag == 0x7E) return sw(SW_NOT_FOUND);
    if (!unwrap(rest, 0x53, value)) return sw(SW_WRONG_DATA);
    if (value.empty()) st_.objects.erase((int)tag);
    else st_.objects[(int)tag] = value;
    save();
    return sw(SW_OK);
}

Bytes PivApplet::verify(const Apdu &a) {
    if (a.p2 != 0x80) return sw(SW_REF_NOT_FOUND);
    if (a.p1 == 0xFF) {  // reset the security status of the PIN
        if (!a.data.empty()) return sw(SW_WRONG_DATA);
        pinVerified_ = false;
        return sw(SW_OK);
    }
    if (a.p1 != 0x00) return sw(SW_WRONG_P1P2);
    if (a.data.empty()) {
        if (pinVerified_) return sw(SW_OK);
        return sw(st_.pinTries ? 0x63C0u | (unsigned)st_.pinTries : SW_BLOCKED);
    }
    if (a.data.size() != 8) return sw(SW_WRONG_DATA);
    if (st_.pinTries == 0) return sw(SW_BLOCKED);
    Bytes given(a.data.begin(), std::find(a.data.begin(), a.data.end(), 0xFF));
    if (given != st_.pin) {
        pinVerified_ = false;
        st_.pinTries--;
        save();
        return sw(st_.pinTries ? 0x63C0u | (unsigned)st_.pinTries : SW_BLOCKED);
    }
    pinVerified_ = true;
    if (st_.pinTries != State::kMaxTries) {
        st_.pinTries = State::kMaxTries;
        save();
    }
    return sw(SW_OK);
}

Bytes PivApplet::changePin(const Apdu &a) {
    if (a.p1 != 0x00 || (a.p2 != 0x80 && a.p2 != 0x81)) return sw(SW_REF_NOT_FOUND);
    if (a.data.size() != 16) return sw(SW_WRONG_DATA);
    Bytes &ref = a.p2 == 0x80 ? st_.pin : st_.puk;
    int &tries = a.p2 == 0x80 ? st_.pinTries : st_.pukTries;
    if (tries == 0) return sw(SW_BLOCKED);
    Bytes oldv(a.data.begin(), std::find(a.data.begin(), a.data.begin() + 8, 0xFF));
    Bytes newv(a.data.begin() + 8, std::find(a.data.begin() + 8, a.data.end(), 0xFF));
    if (oldv != ref) {
        tries--;
        save();
        return sw(tries ? 0x63C0u | (unsigned)tries : SW_BLOCKED);
    }
    if (newv.size() < 6) return sw(SW_WRONG_DATA);
    ref = newv;
    tries = State::kMaxTries;
    save();
    return sw(SW_OK);
}

Bytes PivApplet::resetRetry(const Apdu &a) {
    if (a.p1 != 0x00 || a.p2 != 0x80) return sw(SW_REF_NOT_FOUND);
    if (a.data.size() != 16) return sw(SW_WRONG_DATA);
    if (st_.pukTries == 0) return sw(SW_BLOCKED);
    Bytes puk(a.data.begin(), std::find(a.data.begin(), a.data.begin() + 8, 0xFF));
    Bytes newPin(a.data.begin() + 8, std::find(a.data.begin() + 8, a.data.end(), 0xFF));
    if (puk != st_.puk) {
        st_.pukTries--;
        save();
        return sw(st_.pukTries ? 0x63C0u | (unsigned)st_.pukTries : SW_BLOCKED);
    }
    st_.pin = newPin;
    st_.pinTries = State::kMaxTries;
    st_.pukTries = State::kMaxTries;
    save();
    return sw(SW_OK);
}

Bytes PivApplet::generate(const Apdu &a) {
    if (a.p1 != 0x00 || !isKeySlot(a.p2)) return sw(SW_REF_NOT_FOUND);
    if (!mgmtAuthenticated_) return sw(SW_SECURITY);
    Bytes ac, alg;
    std::map<int, Bytes> m;
    if (!unwrap(a.data, 0xAC, ac) || !parseTlvs(ac, m) || m[0x80].size() != 1) return sw(SW_WRONG_DATA);
    EVP_PKEY *k = nullptr;
    switch (m[0x80][0]) {
    case 0x07: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", (size_t)2048); break;
    case 0x11: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case 0x14: k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    default: return sw(SW_WRONG_DATA);
    }
    if (!k) return sw(SW_UNKNOWN);
    st_.keys[a.p2].reset(k);
    save();
    return respond(a, publicTemplate(k));
}

Bytes PivApplet::generalAuthenticate(const Apdu &a) {
    Bytes tmpl;
    if (!unwrap(a.data, 0x7C, tmpl)) return sw(SW_WRONG_DATA);
    if (a.p2 == 0x9B) return managementAuth(a, tmpl);
    return privateKeyOp(a, tmpl);
}

Bytes PivApplet::managementAuth(const Apdu &a, const Bytes &tmpl) {
    const EVP_CIPHER *c = mgmtCipher(a.p1);
    if (!c || (size_t)EVP_CIPHER_get_key_length(c) != st_.mgmtKey.size()) return sw(SW_WRONG_P1P2);
    size_t block = (size_t)EVP_CIPHER_get_block_size(c);
    std::map<int, Bytes> m;
    if (!parseTlvs(tmpl, m)) return sw(SW_WRONG_DATA);
    mgmtAuthenticated_ = false;
    if (m.count(0x81) && m[0x81].empty()) {  // external: host asks for a challenge
        challenge_.resize(block);
        RAND_bytes(challenge_.data(), (int)block);
        return respond(a, tlv(0x7C, tlv(0x81, challenge_)));
    }
    if (m.count(0x80) && m[0x80].empty()) {  // mutual, step 1: an encrypted witness
        challenge_.resize(block);
        RAND_bytes(challenge_.data(), (int)block);
        return respond(a, tlv(0x7C, tlv(0x80, ecb(c, st_.mgmtKey, challenge_, true))));
    }
    if (m.count(0x82) && !challenge_.empty() && !m.count(0x80)) {  // external, step 2
        bool ok = ecb(c, st_.mgmtKey, challenge_, true) == m[0x82];
        challenge_.clear();
        if (!ok) return sw(SW_SECURITY);
        mgmtAuthenticated_ = true;
        return sw(SW_OK);
    }
    if (m.count(0x80) && m.count(0x81) && !challenge_.empty()) {  // mutual, step 2
        bool ok = m[0x80] == challenge_;
        challenge_.clear();
        if (!ok || m[0x81].size() != block) return sw(SW_SECURITY);
        mgmtAuthenticated_ = true;
        return respond(a, tlv(0x7C, tlv(0x82, ecb(c, st_.mgmtKey, m[0x81], true))));
    }
    return sw(SW_WRONG_DATA);
}

std::string PivApplet::fault() {
    std::ifstream f(statePath_ + ".fault");
    std::string what;
    if (f) f >> what;
    return what;
}

Bytes PivApplet::privateKeyOp(const Apdu &a, const Bytes &tmpl) {
    if (!isKeySlot(a.p2)) return sw(SW_REF_NOT_FOUND);
    auto it = st_.keys.find(a.p2);
    if (it == st_.keys.end()) return sw(SW_REF_NOT_FOUND);
    EVP_PKEY *k = it->second.get();
    if (a.p1 != pivAlgOf(k)) return sw(SW_WRONG_P1P2);
    if (a.p2 != 0x9E && !pinVerified_) return sw(SW_SECURITY);
    std::map<int, Bytes> m;
    if (!parseTlvs(tmpl, m) || !m.count(0x82) || !m[0x82].empty()) return sw(SW_WRONG_DATA);
    std::string f = fault();
    if (f == "die") _exit(0);  // the card is pulled while it works
    if (f == "badsw") return sw(SW_UNKNOWN);
    Bytes out;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, k, nullptr);
    bool ok = false;
    if (m.count(0x81) && EVP_PKEY_is_a(k, "RSA")) {
        // The raw RSA private operation; padding is the host's business.
        size_t len = (size_t)EVP_PKEY_get_size(k);
        if (m[0x81].size() == len && EVP_PKEY_decrypt_init(ctx) > 0 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0) {
            out.resize(len);
            ok = EVP_PKEY_decrypt(ctx, out.data(), &len, m[0x81].data(), m[0x81].size()) > 0;
            out.resize(len);
        }
    } else if (m.count(0x81)) {
        // ECDSA over a hash the host cut to the field size.
        size_t field = (size_t)(EVP_PKEY_get_bits(k) + 7) / 8, len = 0;
        if (m[0x81].size() == field && EVP_PKEY_sign_init(ctx) > 0 &&
            EVP_PKEY_sign(ctx, nullptr, &len, m[0x81].data(), field) > 0) {
            out.resize(len);
            ok = EVP_PKEY_sign(ctx, out.data(), &len, m[0x81].data(), field) > 0;
            out.resize(len);
        }
    } else if (m.count(0x85) && !EVP_PKEY_is_a(k, "RSA")) {
        char group[64] = {};
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr);
        OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
        OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, m[0x85].data(), m[0x85].size());
        OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
        EVP_PKEY *peer = nullptr;
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
        size_t len = 0;
        if (EVP_PKEY_fromdata_init(pc) > 0 && EVP_PKEY_fromdata(pc, &peer, EVP_PKEY_PUBLIC_KEY, params) > 0 &&
            EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_derive_set_peer(ctx, peer) > 0 &&
            EVP_PKEY_derive(ctx, nullptr, &len) > 0) {
            out.resize(len);
            ok = EVP_PKEY_derive(ctx, out.data(), &len) > 0;
            out.resize(len);
        }
        EVP_PKEY_free(peer);
        EVP_PKEY_CTX_free(pc);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(b);
    }
    EVP_PKEY_CTX_free(ctx);
    if (a.p2 == 0x9C) pinVerified_ = false;  // the signature key's PIN is "always"
    if (!ok) return sw(SW_WRONG_DATA);
    Bytes resp = tlv(0x7C, tlv(0x82, out));
    if (f == "truncate") resp.resize(resp.size() / 2);
    if (f == "oversize") resp = tlv(0x7C, tlv(0x82, Bytes(5000, 0xAB)));
    if (f == "garbage") resp = Bytes(resp.size(), 0x5A);
    return respond(a, resp);
}

}  // namespace card
