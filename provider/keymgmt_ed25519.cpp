// Ed25519 keys in a Secure Environment (where the token offers CKM_EDDSA).
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "keymgmt_common.h"
#include "provider.h"

namespace secsf::prov {
namespace {

void *ed_new(void *provctx) { return km_new(provctx, KeyType::ED25519); }
void *ed_load(const void *ref, size_t size) { return km_load(ref, size, KeyType::ED25519); }
void *ed_gen_init(void *provctx, int selection, const OSSL_PARAM params[]) {
    return km_gen_init(provctx, selection, params, KeyType::ED25519);
}
const OSSL_PARAM *ed_gen_settable_params(void *genctx, void *provctx) {
    return km_gen_settable_params(genctx, provctx, KeyType::ED25519);
}
const char *ed_query_operation_name(int operation_id) {
    return operation_id == OSSL_OP_SIGNATURE ? "ED25519" : nullptr;
}

const OSSL_PARAM kEdPublic[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kEdGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM *ed_io_types(int selection) {
    return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ? kEdPublic : nullptr;
}
const OSSL_PARAM *ed_gettable_params(void *) { return kEdGettable; }

}  // namespace

const OSSL_DISPATCH kEd25519Keymgmt[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ed_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))ed_load},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ed_io_types},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ed_io_types},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ed_gettable_params},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))ed_gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))km_gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))ed_gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ed_query_operation_name},
    {0, nullptr}};

}  // namespace secsf::prov
