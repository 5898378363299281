// What the token in hand can do: its mechanism list, read once per module
// generation, turned into capabilities and a description for users and the router.
#include <cstring>

#include "../../pkcs11/rv.h"
#include "pkcs11_plugin.h"
#include "secsf/device_call.h"

namespace secsf {

namespace {

// PKCS#11 3.0 value; p11-kit 0.24's header predates it.
constexpr CK_MECHANISM_TYPE kCkmHkdfDerive = 0x402aUL;

struct Known {
    CK_MECHANISM_TYPE mech;
    const char *name;
    uint32_t caps;
};

const Known kKnown[] = {
    {CKM_EC_KEY_PAIR_GEN, "EC-KEY-PAIR-GEN", CapKeyGen},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, "RSA-PKCS-KEY-PAIR-GEN", CapKeyGen},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, "EC-EDWARDS-KEY-PAIR-GEN", CapKeyGen},
    {CKM_ECDSA, "ECDSA", CapSign},
    {CKM_RSA_PKCS, "RSA-PKCS", CapSign | CapDecrypt},
    {CKM_RSA_PKCS_PSS, "RSA-PKCS-PSS", CapSign},
    {CKM_EDDSA, "EDDSA", CapSign},
    {CKM_RSA_PKCS_OAEP, "RSA-PKCS-OAEP", CapDecrypt},
    {CKM_ECDH1_DERIVE, "ECDH1-DERIVE", CapDerive},
    {CKM_SHA256_HMAC, "SHA256-HMAC", CapHmac},
    {kCkmHkdfDerive, "HKDF-DERIVE", 0},
};

}  // namespace

const Pkcs11Plugin::Probe &Pkcs11Plugin::probe() {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    std::lock_guard<std::mutex> lk(probeMu_);
    uint64_t gen = module_->generation();
    if (probe_.generation == gen) return probe_;
    Probe p;
    p.generation = gen;
    auto tok = defaultToken();
    CK_FUNCTION_LIST *f = module_->fn();
    CK_ULONG n = 0;
    p11::check(f->C_GetMechanismList(tok->slot(), nullptr, &n), "listing mechanisms of " + tok->describe());
    std::vector<CK_MECHANISM_TYPE> mechs(n);
    p11::check(f->C_GetMechanismList(tok->slot(), mechs.data(), &n), "listing mechanisms of " + tok->describe());
    mechs.resize(n);
    CK_TOKEN_INFO ti = tok->info();
    p.info.device = tok->describe() + " (" + p11::fieldString(ti.manufacturerID, sizeof ti.manufacturerID) +
                    ", " + p11::fieldString(ti.model, sizeof ti.model) + ")";
    p.caps = CapStorage;  // data objects are part of every PKCS#11 token
    if (ti.flags & CKF_RNG) p.caps |= CapRandom;
    bool hkdf = false;
    for (CK_MECHANISM_TYPE m : mechs) {
        for (const Known &k : kKnown) {
            if (k.mech != m) continue;
            p.caps |= k.caps;
            p.info.mechanisms.push_back(k.name);
            if (m == kCkmHkdfDerive) hkdf = true;
        }
        CK_MECHANISM_INFO mi{};
        if (f->C_GetMechanismInfo(tok->slot(), m, &mi) != CKR_OK) continue;
        if (m == CKM_RSA_PKCS_KEY_PAIR_GEN) {
            p.info.rsaMinBits = (int)mi.ulMinKeySize;
            p.info.rsaMaxBits = (int)mi.ulMaxKeySize;
        } else if (m == CKM_EC_KEY_PAIR_GEN) {
            for (auto [bits, name] : {std::pair{256, "P-256"}, std::pair{384, "P-384"}, std::pair{521, "P-521"}})
                if ((CK_ULONG)bits >= mi.ulMinKeySize && (CK_ULONG)bits <= mi.ulMaxKeySize)
                    p.info.curves.push_back(name);
        } else if (m == CKM_EC_EDWARDS_KEY_PAIR_GEN) {
            p.info.curves.push_back("Ed25519");
        }
    }
    // Z stays inside only where the token can run the KDF on it as an object.
    p.info.ecdhSecretStaysInside = hkdf && (p.caps & CapDerive);
    p.info.derivesIntoObject = hkdf;
    probe_ = p;
    return probe_;
}

uint32_t Pkcs11Plugin::capabilities() { return probe().caps; }

SeInfo Pkcs11Plugin::info() { return probe().info; }

}  // namespace secsf
