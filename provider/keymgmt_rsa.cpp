// RSA keys in a Secure Environment: the keymgmt dispatch table.
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "keymgmt_common.h"
#include "provider.h"

namespace secsf::prov {
namespace {

const char *rsa_operation_name(int operation_id) {
    return operation_id == OSSL_OP_SIGNATURE || operation_id == OSSL_OP_ASYM_CIPHER ? "RSA" : nullptr;
}

const OSSL_PARAM kRsaPublic[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kRsaGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM *rsa_io_types(int selection) {
    return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ? kRsaPublic : nullptr;
}
const OSSL_PARAM *rsa_gettable_params(void *) { return kRsaGettable; }


}  // namespace

SECSF_KEYMGMT_TABLE(kRsaKeymgmt, KeyType::RSA, rsa_io_types, rsa_gettable_params,
                    rsa_operation_name);

}  // namespace secsf::prov
