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

// The per-type entry points OpenSSL calls without saying the type.
template <KeyType T> void *km_new_t(void *provctx) { return km_new(provctx, T); }
template <KeyType T> void *km_load_t(const void *ref, size_t size) { return km_load(ref, size, T); }
template <KeyType T> void *km_gen_init_t(void *provctx, int selection, const OSSL_PARAM p[]) {
    return km_gen_init(provctx, selection, p, T);
}
template <KeyType T> const OSSL_PARAM *km_gen_settable_t(void *genctx, void *provctx) {
    return km_gen_settable_params(genctx, provctx, T);
}

// One key type's keymgmt dispatch table: what differs per type is its parameter
// lists and the name of its signature algorithm.
#define SECSF_KEYMGMT_TABLE(table, T, io_types, gettable, operation_name)                 \
    const OSSL_DISPATCH table[] = {                                                      \
        {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_t<T>},                            \
        {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                               \
        {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load_t<T>},                          \
        {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                                 \
        {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                             \
        {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},                           \
        {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))io_types},                      \
        {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},                           \
        {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))io_types},                      \
        {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},                   \
        {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))gettable},                   \
        {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))km_gen_init_t<T>},                  \
        {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))km_gen_set_params},           \
        {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))km_gen_settable_t<T>},   \
        {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen},                                 \
        {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup},                 \
        {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))operation_name},        \
        {0, nullptr}}

}  // namespace secsf::prov
