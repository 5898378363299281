// ECDSA signatures with SE keys: the dispatch table.
#include "provider.h"
#include "signature_common.h"

namespace secsf::prov {

SECSF_DIGEST_SIGNATURE_TABLE(kEcdsaSignature, KeyType::EC);

}  // namespace secsf::prov
