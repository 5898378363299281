#include "piv_card.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "tlv.h"

namespace secsf::pcsc {

namespace {

const PivSlot kSlots[] = {
    {0x9A, 0x5FC105, "9a (PIV authentication)", true},
    {0x9C, 0x5FC10A, "9c (digital signature)", true},
    {0x9D, 0x5FC10B, "9d (key management)", true},
    {0x9E, 0x5FC101, "9e (card authentication)", false},
};

Bytes objectId(unsigned tag) {
    Bytes id;
    for (int shift = 16; shift >= 0; shift -= 8)
        if ((tag >> shift) || !id.empty() || shift == 0) id.push_back((unsigned char)(tag >> shift));
    return id;
}

const EVP_CIPHER *mgmtCipher(PivAlg a) {
    switch (a) {
    case PivTdes: return EVP_des_ede3_ecb();
    case PivAes128: return EVP_aes_128_ecb();
    case PivAes192: return EVP_aes_192_ecb();
    case PivAes256: return EVP_aes_256_ecb();
    default: return nullptr;
    }
}

Bytes ecb(const ManagementKey &mk, const Bytes &in, bool encrypt) {
    const EVP_CIPHER *c = mgmtCipher(mk.alg);
    Bytes out(in.size() + 32);
    int n = 0, m = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    bool ok = ctx && EVP_CipherInit_ex(ctx, c, nullptr, mk.key.data(), nullptr, encrypt) &&
              EVP_CIPHER_CTX_set_padding(ctx, 0) &&
              EVP_CipherUpdate(ctx, out.data(), &n, in.data(), (int)in.size()) &&
              EVP_CipherFinal_ex(ctx, out.data() + n, &m);
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) throw Error(Reason::Generic, "management key cipher failed");
    out.resize((size_t)(n + m));
    return out;
}

Bytes sha256(const unsigned char *p, size_t n) {
    Bytes d(32);
    unsigned len = 0;
    EVP_Digest(p, n, d.data(), &len, EVP_sha256(), nullptr);
    return d;
}

}  // namespace

const Bytes PivCard::kAid = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00};

const PivSlot &pivSlot(unsigned char ref) {
    for (const PivSlot &s : kSlots)
        if (s.ref == ref) return s;
    throw Error(Reason::BadInput, "not a PIV key slot secsf uses (9a, 9c, 9d, 9e)");
}

ManagementKey ManagementKey::fromSource(const std::string &source, const std::string &alg) {
    if (source.empty())
        throw Error(Reason::Config, "this needs the card's management key: set pcsc-management-key-source "
                                    "(file:/path or env:NAME holding the key in hex)");
    SecureString text = p11::PinSource::fromSource(source).read();
    ManagementKey mk;
    int hi = -1;
    for (char ch : text.str()) {
        if (isspace((unsigned char)ch) || ch == ':') continue;
        if (!isxdigit((unsigned char)ch))
            throw Error(Reason::Config, "the management key from " + source + " is not hex");
        int v = isdigit((unsigned char)ch) ? ch - '0' : (tolower((unsigned char)ch) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            mk.key.push_back((unsigned char)(hi << 4 | v));
            hi = -1;
        }
    }
    std::string a = alg;
    if (a.empty()) a = mk.key.size() == 16 ? "aes128" : mk.key.size() == 32 ? "aes256" : "3des";
    if (a == "3des") mk.alg = PivTdes;
    else if (a == "aes128") mk.alg = PivAes128;
    else if (a == "aes192") mk.alg = PivAes192;
    else if (a == "aes256") mk.alg = PivAes256;
    else throw Error(Reason::Config, "pcsc-management-key-alg '" + alg + "' is not 3des, aes128, aes192 or aes256");
    if (hi >= 0 || (int)mk.key.size() != EVP_CIPHER_get_key_length(mgmtCipher(mk.alg)))
        throw Error(Reason::Config, "the management key from " + source + " has the wrong length for " + a);
    return mk;
}

PivCard::PivCard(std::shared_ptr<Session> s) : session_(std::move(s)), channel_(session_->basicChannel(kAid)) {}

template <class F> auto PivCard::transaction(F fn) -> decltype(fn(std::declval<Session::Transaction &>())) {
    for (int attempt = 0;; attempt++) {
        try {
            Session::Transaction t(*session_);
            channel_.select();
            return fn(t);
        } catch (const TransportError &e) {
            // Another process reset the card mid-way: our state on it is gone, so
            // the whole operation runs again, once.
            if (e.kind() != TransportError::CardReset || attempt > 0) throw;
        }
    }
}

Response PivCard::send(const Command &c) { return channel_.transmit(c); }

void PivCard::refuse(uint16_t sw, const std::string &what) {
    std::string on = " (card in '" + reader() + "', status " + swText(sw) + ")";
    switch (sw) {
    case 0x6982: throw Error(Reason::PinRequired, what + ": the card wants authentication first" + on);
    case 0x6983: throw Error(Reason::PinLocked, what + ": the PIN is blocked; unblock it with the PUK" + on);
    case 0x6A82:
    case 0x6A88: throw Error(Reason::NotFound, what + ": not on the card" + on);
    case 0x6A80:
    case 0x6A86:
    case 0x6700: throw Error(Reason::Unsupported, what + ": the card refuses the parameters" + on);
    default: throw Error(Reason::DeviceError, what + ": the card failed" + on);
    }
}

std::optional<Bytes> PivCard::readObject(unsigned tag) {
    auto found = readObjects({tag});
    if (found.empty()) return std::nullopt;
    return found.front().second;
}

std::vector<std::pair<unsigned, Bytes>> PivCard::readObjects(const std::vector<unsigned> &tags) {
    return transaction([&](Session::Transaction &) {
        std::vector<std::pair<unsigned, Bytes>> out;
        for (unsigned tag : tags) {
            Response r = send({0x00, 0xCB, 0x3F, 0xFF, tlv(0x5C, objectId(tag)), 256});
            if (r.sw == 0x6A82) continue;
            if (!r.ok()) refuse(r.sw, "reading a data object");
            auto v = findTlv(r.data, 0x53);
            if (!v) throw Error(Reason::DeviceError, "the card's data object has no 53 template");
            out.emplace_back(tag, std::move(*v));
        }
        return out;
    });
}

void PivCard::writeObject(unsigned tag, const Bytes &value, const ManagementKey &mk) {
    transaction([&](Session::Transaction &) {
        authenticateManagement(mk);
        Bytes data = tlv(0x5C, objectId(tag));
        Bytes body = tlv(0x53, value);
        data.insert(data.end(), body.begin(), body.end());
        Response r = send({0x00, 0xDB, 0x3F, 0xFF, data, 0});
        if (!r.ok()) refuse(r.sw, "writing a data object");
        return 0;
    });
}

Bytes PivCard::generate(unsigned char slot, PivAlg alg, const ManagementKey &mk) {
    pivSlot(slot);
    return transaction([&](Session::Transaction &) {
        authenticateManagement(mk);
        Bytes spec = tlv(0xAC, tlv(0x80, {(unsigned char)alg}));
        Response r = send({0x00, 0x47, 0x00, slot, spec, 256});
        if (!r.ok()) refuse(r.sw, "generating a key in slot " + std::string(pivSlot(slot).name));
        auto pub = findTlv(r.data, 0x7F49);
        if (!pub) throw Error(Reason::DeviceError, "the card's new key comes without its public key template");
        return *pub;
    });
}

SecureBytes PivCard::authenticate(unsigned char slot, PivAlg alg, unsigned char tag, const Bytes &in,
                                  const p11::PinSource &pin) {
    const PivSlot &s = pivSlot(slot);
    return transaction([&](Session::Transaction &t) {
        if (s.needsPin) verifyPin(pin);
        Bytes dyn = tlv(0x82, {});
        Bytes arg = tlv(tag, in);
        dyn.insert(dyn.end(), arg.begin(), arg.end());
        Response r = send({0x00, 0x87, (unsigned char)alg, slot, tlv(0x7C, dyn), 256});
        if (s.needsPin) dropPin(t);
        SecureBytes out;
        std::optional<Bytes> tmpl, resp;
        if (r.ok()) tmpl = findTlv(r.data, 0x7C);
        if (tmpl) resp = findTlv(*tmpl, 0x82);
        OPENSSL_cleanse(r.data.data(), r.data.size());
        if (!r.ok()) refuse(r.sw, std::string("using the key in slot ") + s.name);
        if (!resp || resp->empty())
            throw Error(Reason::DeviceError, std::string("the card's answer for slot ") + s.name +
                                                 " holds no result (82)");
        out.assign(resp->begin(), resp->end());
        OPENSSL_cleanse(resp->data(), resp->size());
        OPENSSL_cleanse(tmpl->data(), tmpl->size());
        return out;
    });
}

void PivCard::verifyPin(const p11::PinSource &pin) {
    if (!pin.present())
        throw Error(Reason::PinRequired, "the key needs the card PIN: give pin-source in the key URI or "
                                         "pcsc-pin-source in the configuration");
    SecureString p = pin.read();
    const std::string &v = p.str();
    if (v.empty() || v.size() > 8) throw Error(Reason::PinIncorrect, "a PIV PIN has 1 to 8 characters");
    Bytes hash = sha256((const unsigned char *)v.data(), v.size());
    if (hash != goodPinHash_) {
        // A PIN not yet seen to work: look at the counter before spending a try.
        Response r = send({0x00, 0x20, 0x00, 0x80, {}, 0});
        if (r.sw == 0x6983) refuse(r.sw, "verifying the PIN");
        if ((r.sw & 0xFFF0) == 0x63C0 && (r.sw & 0x0F) <= 1)
            throw Error(Reason::PinLocked, "the card PIN has one try left; secsf will not spend it (card in '" +
                                               reader() + "'): verify it by hand or unblock it with the PUK");
    }
    Command c{0x00, 0x20, 0x00, 0x80, Bytes(8, 0xFF), 0};
    std::copy(v.begin(), v.end(), c.data.begin());
    Response r = send(c);
    OPENSSL_cleanse(c.data.data(), c.data.size());
    if (r.ok()) {
        goodPinHash_ = hash;
        return;
    }
    goodPinHash_.clear();
    if ((r.sw & 0xFFF0) == 0x63C0)
        throw Error(Reason::PinIncorrect, "wrong card PIN from " + pin.describe() + " (" +
                                              std::to_string(r.sw & 0x0F) + " tries left, card in '" + reader() +
                                              "')");
    refuse(r.sw, "verifying the PIN");
}

void PivCard::dropPin(Session::Transaction &t) {
    if (send({0x00, 0x20, 0xFF, 0x80, {}, 0}).ok()) return;
    t.resetOnEnd();  // a card before SP 800-73-4: only a reset logs it out
}

void PivCard::authenticateManagement(const ManagementKey &mk) {
    const EVP_CIPHER *c = mgmtCipher(mk.alg);
    size_t block = (size_t)EVP_CIPHER_get_block_size(c);
    auto step = [&](const Bytes &dyn) {
        Response r = send({0x00, 0x87, (unsigned char)mk.alg, 0x9B, tlv(0x7C, dyn), 256});
        if (r.sw == 0x6982)
            throw Error(Reason::PinIncorrect, "the card rejects the configured management key (card in '" +
                                                  reader() + "')");
        if (!r.ok()) refuse(r.sw, "authenticating with the management key");
        auto t = findTlv(r.data, 0x7C);
        if (!t) throw Error(Reason::DeviceError, "the card's management-key answer has no 7C template");
        return *t;
    };
    // Mutual: the card proves it knows the key too (its witness decrypts to what it
    // expects back), and we check its answer to our own challenge.
    auto witness = findTlv(step(tlv(0x80, {})), 0x80);
    if (!witness || witness->size() != block)
        throw Error(Reason::DeviceError, "the card sent no management-key witness");
    Bytes challenge(block);
    RAND_bytes(challenge.data(), (int)block);
    Bytes dyn = tlv(0x80, ecb(mk, *witness, false));
    Bytes ch = tlv(0x81, challenge);
    dyn.insert(dyn.end(), ch.begin(), ch.end());
    auto answer = findTlv(step(dyn), 0x82);
    if (!answer || *answer != ecb(mk, challenge, true))
        throw Error(Reason::PinIncorrect, "the card does not hold the configured management key (card in '" +
                                              reader() + "')");
}

}  // namespace secsf::pcsc
