// OSSL_provider_init: reads the provider's openssl.cnf section, builds the SE
// registry, and answers OpenSSL's algorithm queries. No device is touched here:
// modules are loaded on first use, because a module that initialises OpenSSL in
// C_Initialize (SoftHSM) would otherwise re-enter the configuration being loaded.
#include <dlfcn.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "../se-plugins/registry_config.h"
#include "errors.h"
#include "provctx.h"
#include "provider.h"

namespace secsf::prov {
namespace {

// Everything secsf implements carries provider=secsf, so an application can ask
// for it (or avoid it) with a property query.
#define SECSF_PROPS "provider=secsf"

const OSSL_ALGORITHM kKeymgmt[] = {
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", SECSF_PROPS, kEcKeymgmt, "secsf EC keys in an SE"},
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", SECSF_PROPS, kRsaKeymgmt, "secsf RSA keys in an SE"},
    {"ED25519:1.3.101.112", SECSF_PROPS, kEd25519Keymgmt, "secsf Ed25519 keys in an SE"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kSignature[] = {
    {"ECDSA", SECSF_PROPS, kEcdsaSignature, "ECDSA in an SE"},
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", SECSF_PROPS, kRsaSignature,
     "RSA PKCS#1 v1.5 / PSS in an SE"},
    {"ED25519:1.3.101.112", SECSF_PROPS, kEd25519Signature, "Ed25519 in an SE"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kExchange[] = {
    {"ECDH", SECSF_PROPS, kEcdhExchange, "ECDH with the private key in an SE"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kAsymCipher[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", SECSF_PROPS, kRsaAsymCipher,
     "RSA-OAEP / PKCS#1 v1.5 decryption in an SE"},
    {nullptr, nullptr, nullptr, nullptr}};

// Not a default anyone gets by accident: chosen by name in [random] or by fetch.
const OSSL_ALGORITHM kRand[] = {
    {"SECSF-RNG", SECSF_PROPS, kTokenRand, "random numbers from the SE's generator"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kKdf[] = {
    {"ONEM2M-KDF", SECSF_PROPS, kOneM2MKdf,
     "TS-0003 key derivations (Km, Kpsa, usage-constrained, Ke2e, sessionESPrimKey)"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kStore[] = {
    {"pkcs11", SECSF_PROPS, kSeStore, "RFC 7512 PKCS#11 URIs"},
    {"tpm2", SECSF_PROPS, kSeStore, "TPM 2.0 key URIs (tpm2:handle=...|file=...)"},
    {"piv", SECSF_PROPS, kSeStore, "PIV card key URIs (piv:slot=9a;reader=...)"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kDecoder[] = {
    {"DER", SECSF_PROPS ",input=pem", kUriPemDecoder, "SECSF KEY PEM armour"},
    {"EC", SECSF_PROPS ",input=der,structure=secsf-key-uri", kEcUriDecoder, "SECSF KEY PEM (EC)"},
    {"RSA", SECSF_PROPS ",input=der,structure=secsf-key-uri", kRsaUriDecoder, "SECSF KEY PEM (RSA)"},
    {"ED25519", SECSF_PROPS ",input=der,structure=secsf-key-uri", kEd25519UriDecoder,
     "SECSF KEY PEM (Ed25519)"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kEncoder[] = {
    {"EC", SECSF_PROPS ",output=pem,structure=PrivateKeyInfo", kEcUriEncoder, "SECSF KEY PEM"},
    {"RSA", SECSF_PROPS ",output=pem,structure=PrivateKeyInfo", kRsaUriEncoder, "SECSF KEY PEM"},
    {"ED25519", SECSF_PROPS ",output=pem,structure=PrivateKeyInfo", kEd25519UriEncoder,
     "SECSF KEY PEM"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM *query(void *, int operation_id, int *no_cache) {
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT: return kKeymgmt;
    case OSSL_OP_SIGNATURE: return kSignature;
    case OSSL_OP_STORE: return kStore;
    case OSSL_OP_KEYEXCH: return kExchange;
    case OSSL_OP_ASYM_CIPHER: return kAsymCipher;
    case OSSL_OP_RAND: return kRand;
    case OSSL_OP_KDF: return kKdf;
    case OSSL_OP_DECODER: return kDecoder;
    case OSSL_OP_ENCODER: return kEncoder;
    default: return nullptr;
    }
}

const OSSL_PARAM *gettable_params(void *) {
    static const OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, nullptr, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, nullptr, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, nullptr, 0),
        OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, nullptr),
        OSSL_PARAM_END};
    return p;
}

int get_params(void *, OSSL_PARAM params[]) {
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) &&
        !OSSL_PARAM_set_utf8_ptr(p, "secsf oneM2M Security CSF provider"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) &&
        !OSSL_PARAM_set_utf8_ptr(p, PACKAGE_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) &&
        !OSSL_PARAM_set_utf8_ptr(p, PACKAGE_STRING))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

const OSSL_ITEM *get_reason_strings(void *) { return reasonStrings(); }

// One secsf configuration per process. OpenSSL gives a URI scheme (tpm2:, piv:,
// pkcs11:) to whichever instance it finds first, so two instances with different
// settings would send the keys of one's devices to the other's; instances with the
// same settings (the same section loaded into several library contexts) are fine.
// Never destroyed: OpenSSL tears providers down from its own exit handler, which
// runs after this library's static destructors.
struct Instances {
    std::mutex mu;
    std::string settings;  // of the live instances
    int count = 0;
};
Instances &instances() {
    static auto *live = new Instances;
    return *live;
}

// False (and every secsf lookup in the process refuses, with the reason) when other
// settings are live already.
bool admit(const std::string &settings) {
    Instances &in = instances();
    std::lock_guard<std::mutex> g(in.mu);
    if (in.count > 0 && settings != in.settings) {
        SeRegistry::setProcessError(
            "two secsf provider instances with different settings are loaded in one process, which secsf does not "
            "support (OpenSSL would hand one instance's keys to the other's devices): keep one secsf section in "
            "openssl.cnf");
        return false;
    }
    in.settings = settings;
    in.count++;
    return true;
}

void leave(bool admitted) {
    Instances &in = instances();
    std::lock_guard<std::mutex> g(in.mu);
    if (admitted && --in.count == 0) {
        in.settings.clear();
        SeRegistry::setProcessError("");
    }
}

void teardown(void *provctx) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    leave(ctx->admitted);
    OSSL_LIB_CTX_free(ctx->libctx);
    delete ctx;
}

const OSSL_DISPATCH kProviderFunctions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings},
    {0, nullptr}};

std::string settingsText(const std::map<std::string, std::string> &read) {
    std::string s;
    for (auto &[k, v] : read) s += k + "=" + v + "\n";
    return s;
}

// Reads one flat key of our openssl.cnf section; empty when absent.
std::string confValue(OSSL_FUNC_core_get_params_fn *getParams, const OSSL_CORE_HANDLE *h,
                      const char *key) {
    char *v = nullptr;
    OSSL_PARAM p[] = {OSSL_PARAM_utf8_ptr(key, &v, 0), OSSL_PARAM_END};
    if (!getParams || !getParams(h, p) || !v) return {};
    return v;
}

void configure(ProvCtx *ctx, OSSL_FUNC_core_get_params_fn *gp) {
    std::map<std::string, std::string> read;
    try {
        configureRegistry(ctx->registry, [&](const char *k) { return read[k] = confValue(gp, ctx->handle, k); });
    } catch (...) {
        ctx->admitted = admit(settingsText(read));
        throw;
    }
    ctx->admitted = admit(settingsText(read));
}

}  // namespace
}  // namespace secsf::prov

extern "C" __attribute__((visibility("default"))) int OSSL_provider_init(
    const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
    void **provctx) {
    using namespace secsf::prov;
    auto ctx = std::make_unique<ProvCtx>();
    ctx->handle = handle;
    OSSL_FUNC_core_get_params_fn *getParams = nullptr;
    for (const OSSL_DISPATCH *d = in; d->function_id; d++) {
        switch (d->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS: getParams = OSSL_FUNC_core_get_params(d); break;
        case OSSL_FUNC_CORE_NEW_ERROR: ctx->newError = OSSL_FUNC_core_new_error(d); break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            ctx->setErrorDebug = OSSL_FUNC_core_set_error_debug(d);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR: ctx->vsetError = OSSL_FUNC_core_vset_error(d); break;
        default: break;
        }
    }
    if (!ctx->newError || !ctx->setErrorDebug || !ctx->vsetError) ctx->newError = nullptr;
    // Stay loaded after OSSL_PROVIDER_unload(): the fork handler of the PKCS#11
    // layer lives in this library, and device modules are never finalised either.
    Dl_info self{};
    if (dladdr(reinterpret_cast<void *>(&OSSL_provider_init), &self) && self.dli_fname)
        dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
    ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
    if (!ctx->libctx) return 0;
    try {
        configure(ctx.get(), getParams);
    } catch (const secsf::Error &e) {
        // Keep loading: the application still works with its other providers, and
        // every secsf operation reports this sentence.
        ctx->configError = e.what();
        ctx->registry.setConfigError(std::string("secsf configuration: ") + e.what());
        raise(ctx.get(), e.reason(), "%s", e.what());
    } catch (...) {
        return 0;
    }
    *out = kProviderFunctions;
    *provctx = ctx.release();
    return 1;
}
