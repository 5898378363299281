// EC keys in a Secure Environment: the keymgmt dispatch table.
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "keymgmt_common.h"
#include "provider.h"

namespace secsf::prov {
namespace {

const char *ec_operation_name(int operation_id) {
    if (operation_id == OSSL_OP_KEYEXCH) return "ECDH";
    return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : nullptr;
}

const OSSL_PARAM kEcPublic[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kEcGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM *ec_io_types(int selection) {
    return (selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS))
               ? kEcPublic
               : nullptr;
}
const OSSL_PARAM *ec_gettable_params(void *) { return kEcGettable; }


}  // namespace

SECSF_KEYMGMT_TABLE(kEcKeymgmt, KeyType::EC, ec_io_types, ec_gettable_params,
                    ec_operation_name);

}  // namespace secsf::prov
