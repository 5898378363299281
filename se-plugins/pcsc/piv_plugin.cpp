#include "piv_plugin.h"

#include <openssl/x509.h>

#include <memory>

#include "../public_key.h"
#include "card_pool.h"
#include "piv_key.h"
#include "piv_uri.h"
#include "secsf/error.h"
#include "secsf/identifier.h"
#include "tlv.h"

namespace secsf::pcsc {

namespace {

PublicKey publicFromTemplate(const Bytes &tmpl, PivAlg alg) {
    PublicKey k;
    if (alg == PivRsa2048) {
        auto n = findTlv(tmpl, 0x81), e = findTlv(tmpl, 0x82);
        if (!n || !e || n->empty() || e->empty()) throw Error(Reason::DeviceError, "the card's RSA public key is incomplete");
        k.type = KeyType::RSA;
        k.n = *n;
        k.e = *e;
        k.bits = 2048;
        return k;
    }
    auto point = findTlv(tmpl, 0x86);
    size_t field = alg == PivEccP384 ? 48 : 32;
    if (!point || point->size() != 2 * field + 1 || (*point)[0] != 0x04)
        throw Error(Reason::DeviceError, "the card's EC public key is not an uncompressed point");
    k.type = KeyType::EC;
    k.group = alg == PivEccP384 ? "secp384r1" : "prime256v1";
    k.bits = (int)field * 8;
    k.ecPoint = *point;
    return k;
}

PivAlg algFor(const KeyGenRequest &req) {
    if (req.type == KeyType::EC) {
        if (req.group == "P-256" || req.group == "prime256v1") return PivEccP256;
        if (req.group == "P-384" || req.group == "secp384r1") return PivEccP384;
        throw Error(Reason::Unsupported, "a PIV card makes EC keys on P-256 and P-384, not " + req.group);
    }
    if (req.type == KeyType::RSA) {
        if (req.bits == 2048) return PivRsa2048;
        throw Error(Reason::Unsupported, "a PIV card makes RSA keys of 2048 bits");
    }
    throw Error(Reason::Unsupported, "a PIV card has no Ed25519 keys");
}

// Secure storage: the vendor object range real PIV tokens offer to applications,
// each object one (owner, name, data) record.
constexpr unsigned kStorageFirst = 0x5FFF00, kStorageCount = 32;

struct Record {
    unsigned tag;
    std::string owner, name;
    Bytes data;
};

using Objects = std::vector<std::pair<unsigned, Bytes>>;

Objects storageObjects(CardPool &pool) {
    std::vector<unsigned> tags;
    for (unsigned i = 0; i < kStorageCount; i++) tags.push_back(kStorageFirst + i);
    return pool.run("", [&](PivCard &c) { return c.readObjects(tags); });
}

std::vector<Record> records(const Objects &objs) {
    std::vector<Record> out;
    for (const auto &[tag, v] : objs) {
        auto o = findTlv(v, 0xC1), n = findTlv(v, 0xC2), d = findTlv(v, 0xC3);
        if (!o || !n || !d) continue;  // someone else's object: not ours to read
        out.push_back({tag, std::string(o->begin(), o->end()), std::string(n->begin(), n->end()), *d});
    }
    return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes &p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace

Plugin::Plugin(Config cfg) : cfg_(std::move(cfg)), pool_(std::make_shared<CardPool>(cfg_.reader)) {
    if (!cfg_.pinSource.empty()) p11::PinSource::fromSource(cfg_.pinSource);
    if (!cfg_.mgmtKeySource.empty()) p11::PinSource::fromSource(cfg_.mgmtKeySource);
}

p11::PinSource Plugin::pinFor(const PivUri &u) const {
    if (u.pinValue) return p11::PinSource::fromValue(*u.pinValue);
    if (u.pinSource) return p11::PinSource::fromSource(*u.pinSource);
    if (!cfg_.pinSource.empty()) return p11::PinSource::fromSource(cfg_.pinSource);
    return {};
}


SeInfo Plugin::info() {
    SeInfo i;
    try {
        i.device = "PIV card in reader '" + pool_->run("", [](PivCard &c) { return c.reader(); }) + "'";
    } catch (const Error &e) {
        i.device = "PIV card (reader '" + cfg_.reader + "'): " + e.what();
    }
    i.mechanisms = {"ECDSA", "ECDH", "RSA-RAW (PKCS#1, PSS, OAEP on the host)"};
    i.curves = {"P-256", "P-384"};
    i.rsaMinBits = i.rsaMaxBits = 2048;
    return i;
}

Found Plugin::find(const std::string &text) {
    PivUri u = PivUri::parse(text);
    const PivSlot &slot = pivSlot(u.slot);
    std::string where = u.reader.value_or("");
    auto obj = pool_->run(where, [&](PivCard &c) { return c.readObject(slot.certTag); });
    if (!obj)
        throw Error(Reason::NotFound,
                    std::string("slot ") + slot.name +
                        " holds no certificate: secsf reads a card key's public half from its slot's certificate; "
                        "generate the key with secsf (-pkeyopt secsf.uri:" + u.format() +
                        ") or load a certificate into the slot");
    auto info = findTlv(*obj, 0x71);
    if (info && !info->empty() && ((*info)[0] & 0x01))
        throw Error(Reason::Unsupported, std::string("the certificate in slot ") + slot.name + " is compressed");
    auto der = findTlv(*obj, 0x70);
    if (!der) throw Error(Reason::DeviceError, std::string("the certificate object of slot ") + slot.name + " holds no certificate");
    const unsigned char *p = der->data();
    std::unique_ptr<X509, decltype(&X509_free)> x(d2i_X509(nullptr, &p, (long)der->size()), X509_free);
    if (!x || !X509_get0_pubkey(x.get()))
        throw Error(Reason::DeviceError, std::string("the certificate in slot ") + slot.name + " cannot be parsed");
    Found f;
    f.privateKey = std::make_shared<PivKey>(cfg_.name, pool_, u, publicKeyFromEvp(X509_get0_pubkey(x.get())), pinFor(u));
    f.certificate = *der;
    return f;
}

std::shared_ptr<SeKey> Plugin::generate(const KeyGenRequest &req) {
    if (req.where.empty())
        throw Error(Reason::BadInput, "say which card slot the key goes to: secsf.uri:piv:slot=9a (9a, 9c, 9d or 9e)");
    PivUri u = PivUri::parse(req.where);
    const PivSlot &slot = pivSlot(u.slot);
    PivAlg alg = algFor(req);
    ManagementKey mk = ManagementKey::fromSource(cfg_.mgmtKeySource, cfg_.mgmtKeyAlg);
    std::string where = u.reader.value_or("");
    if (!req.replaceCertificate && pool_->run(where, [&](PivCard &c) { return c.readObject(slot.certTag); }))
        throw Error(Reason::BadInput, std::string("slot ") + slot.name +
                                          " already holds a certificate (and so, as far as secsf can tell, a key); "
                                          "secsf does not overwrite keys unless asked: to replace both, give "
                                          "secsf.replace-certificate:1 (secsf key gen --replace-certificate)");
    Bytes tmpl = pool_->run(where, [&](PivCard &c) { return c.generate(u.slot, alg, mk); });
    auto key = std::make_shared<PivKey>(cfg_.name, pool_, u, publicFromTemplate(tmpl, alg), pinFor(u));
    Bytes cert = selfSignedCertificate(*key, req.label.empty() ? "secsf card key " + u.format() : req.label);
    Bytes obj = cat({tlv(0x70, cert), tlv(0x71, {0x00}), tlv(0xFE, {})});
    pool_->run(where, [&](PivCard &c) {
        c.writeObject(slot.certTag, obj, mk);
        return 0;
    });
    return key;
}

Bytes Plugin::random(size_t) {
    throw Error(Reason::Unsupported, "the PIV card application has no random-number command");
}

std::shared_ptr<SeKey> Plugin::findSecret(const std::string &) {
    throw Error(Reason::Unsupported, "a PIV card holds no HMAC keys");
}

std::shared_ptr<SeKey> Plugin::importSecret(const SecureBytes &, const std::string &, const std::string &) {
    throw Error(Reason::Unsupported, "a PIV card holds no HMAC keys");
}

void Plugin::storagePut(const std::string &owner, const std::string &name, const Bytes &data) {
    if (owner.empty() || name.empty()) throw Error(Reason::BadInput, "secure storage needs an owner and a name");
    checkIdentifier("owner id", owner);
    checkStorageName(name);
    ManagementKey mk = ManagementKey::fromSource(cfg_.mgmtKeySource, cfg_.mgmtKeyAlg);
    Objects objs = storageObjects(*pool_);
    unsigned tag = 0;
    for (const Record &r : records(objs))
        if (r.owner == owner && r.name == name) tag = r.tag;
    if (!tag) {
        // Objects that are not our records belong to someone else: never reused.
        std::vector<bool> used(kStorageCount);
        for (const auto &o : objs) used[o.first - kStorageFirst] = true;
        for (unsigned i = 0; i < kStorageCount && !tag; i++)
            if (!used[i]) tag = kStorageFirst + i;
        if (!tag) throw Error(Reason::DeviceError, "the card has no free storage object left (32 in use)");
    }
    Bytes rec = cat({tlv(0xC1, Bytes(owner.begin(), owner.end())), tlv(0xC2, Bytes(name.begin(), name.end())),
                     tlv(0xC3, data)});
    pool_->run("", [&](PivCard &c) {
        c.writeObject(tag, rec, mk);
        return 0;
    });
}

Bytes Plugin::storageGet(const std::string &owner, const std::string &name) {
    checkIdentifier("owner id", owner);
    checkIdentifier("stored object's name", name);
    for (const Record &r : records(storageObjects(*pool_)))
        if (r.owner == owner && r.name == name) return r.data;
    throw Error(Reason::NotFound, "no stored object '" + name + "' of " + owner + " on the card");
}

bool Plugin::storageDelete(const std::string &owner, const std::string &name) {
    checkIdentifier("owner id", owner);
    checkIdentifier("stored object's name", name);
    for (const Record &r : records(storageObjects(*pool_)))
        if (r.owner == owner && r.name == name) {
            ManagementKey mk = ManagementKey::fromSource(cfg_.mgmtKeySource, cfg_.mgmtKeyAlg);
            pool_->run("", [&](PivCard &c) {
                c.writeObject(r.tag, {}, mk);
                return 0;
            });
            return true;
        }
    return false;
}

std::vector<std::string> Plugin::storageList(const std::string &owner) {
    checkIdentifier("owner id", owner);
    std::vector<std::string> out;
    for (const Record &r : records(storageObjects(*pool_)))
        if (r.owner == owner) out.push_back(r.name);
    return out;
}

}  // namespace secsf::pcsc

namespace secsf::pcsc {

void Plugin::checkAccess() {
    pool_->run("", [](PivCard &c) { return c.readObject(pivSlot(0x9A).certTag).has_value(); });
}

std::vector<KeyListing> Plugin::listKeys() {
    std::vector<KeyListing> out;
    for (unsigned char slot : {0x9A, 0x9C, 0x9D, 0x9E}) {
        PivUri u;
        u.slot = slot;
        if (!pool_->run("", [&](PivCard &c) { return c.readObject(pivSlot(slot).certTag); })) continue;
        out.push_back(listingOf(*this, u.format(), pivSlot(slot).name));
    }
    return out;
}

void Plugin::deleteKey(const std::string &text) {
    // PIV has no command that erases a key: removing the slot's certificate makes
    // the key unusable through secsf (and invisible to PIV tools) until the slot
    // gets a new key.
    PivUri u = PivUri::parse(text);
    const PivSlot &slot = pivSlot(u.slot);
    find(text);
    ManagementKey mk = ManagementKey::fromSource(cfg_.mgmtKeySource, cfg_.mgmtKeyAlg);
    pool_->run(u.reader.value_or(""), [&](PivCard &c) {
        c.writeObject(slot.certTag, {}, mk);
        return 0;
    });
}

}  // namespace secsf::pcsc
