// Key management shared by the EC and RSA tables: SE keys are loaded by reference
// (from the store and decoder), generated inside the SE, and exported public-only
// so OpenSSL's encoders, X.509 and TLS code can work with their public half.
#pragma once
#include <openssl/core_dispatch.h>

#include "../se-plugins/se_plugin.h"

namespace secsf::prov {

struct KeymgmtOps {
    KeyType type;
    const char *name;  // "EC" / "RSA"
};

void *km_new(void *provctx, KeyType t);
void km_free(void *keydata);
void *km_load(const void *ref, size_t size, KeyType t);
int km_has(const void *keydata, int selection);
int km_match(const void *k1, const void *k2, int selection);
int km_import(void *keydata, int selection, const OSSL_PARAM params[]);
int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg);
int km_get_params(void *keydata, OSSL_PARAM params[]);

void *km_gen_init(void *provctx, int selection, const OSSL_PARAM params[], KeyType t);
int km_gen_set_params(void *genctx, const OSSL_PARAM params[]);
const OSSL_PARAM *km_gen_settable_params(void *genctx, void *provctx, KeyType t);
void *km_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg);
void km_gen_cleanup(void *genctx);

}  // namespace secsf::prov
