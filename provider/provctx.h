// The provider instance: what OpenSSL's core gave us and the SE registry built
// from our openssl.cnf section. One per OSSL_provider_init call.
#pragma once
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/types.h>

#include <string>

#include "../se-plugins/registry.h"

namespace secsf::prov {

struct ProvCtx {
    const OSSL_CORE_HANDLE *handle = nullptr;
    // A child of the application's library context: where secsf computes digests
    // and verifies with public keys, always in another provider than itself.
    OSSL_LIB_CTX *libctx = nullptr;
    OSSL_FUNC_core_new_error_fn *newError = nullptr;
    OSSL_FUNC_core_set_error_debug_fn *setErrorDebug = nullptr;
    OSSL_FUNC_core_vset_error_fn *vsetError = nullptr;
    SeRegistry registry;
    std::string configError;  // a bad configuration, reported at first use
    bool admitted = false;    // counted among the process's instances (provider.cpp)
};

// Property query that keeps secsf's own helper calls out of secsf.
constexpr const char *kSoftwareProps = "provider!=secsf";

}  // namespace secsf::prov
