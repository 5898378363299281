// Hands SE keys and certificates to OpenSSL the way stores and decoders must:
// as OSSL_OBJECT parameter lists, keys by reference to a ProvKey.
#pragma once
#include <openssl/core.h>

#include <memory>
#include <vector>

#include "../se-plugins/se_plugin.h"
#include "key.h"

namespace secsf::prov {

// Keeps the ProvKeys handed out by reference alive until the store/decoder ends.
struct Emitter {
    ProvCtx *ctx;
    std::vector<std::unique_ptr<ProvKey>> owned;

    int key(std::shared_ptr<SeKey> k, OSSL_CALLBACK *cb, void *cbarg);
    int certificate(const Bytes &der, OSSL_CALLBACK *cb, void *cbarg);
};

}  // namespace secsf::prov
