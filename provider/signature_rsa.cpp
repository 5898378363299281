// RSA PKCS#1 v1.5 and RSA-PSS signatures with SE keys: the dispatch table.
#include "provider.h"
#include "signature_common.h"

namespace secsf::prov {

SECSF_DIGEST_SIGNATURE_TABLE(kRsaSignature, KeyType::RSA);

}  // namespace secsf::prov
