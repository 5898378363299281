// Ed25519 keys in a Secure Environment (where the token offers CKM_EDDSA).
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "keymgmt_common.h"
#include "provider.h"

namespace secsf::prov {
namespace {

const char *ed_operation_name(int operation_id) {
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

SECSF_KEYMGMT_TABLE(kEd25519Keymgmt, KeyType::ED25519, ed_io_types, ed_gettable_params,
                    ed_operation_name);

}  // namespace secsf::prov
