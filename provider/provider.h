// The dispatch tables each operation file ends with, gathered for provider.cpp.
#pragma once
#include <openssl/core.h>

namespace secsf::prov {
extern const OSSL_DISPATCH kEcKeymgmt[];
extern const OSSL_DISPATCH kRsaKeymgmt[];
extern const OSSL_DISPATCH kEcdsaSignature[];
extern const OSSL_DISPATCH kRsaSignature[];
extern const OSSL_DISPATCH kPkcs11Store[];
extern const OSSL_DISPATCH kUriPemDecoder[];
extern const OSSL_DISPATCH kEcUriDecoder[];
extern const OSSL_DISPATCH kRsaUriDecoder[];
extern const OSSL_DISPATCH kEcUriEncoder[];
extern const OSSL_DISPATCH kRsaUriEncoder[];
}  // namespace secsf::prov
