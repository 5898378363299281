// The dispatch tables each operation file ends with, gathered for provider.cpp.
#pragma once
#include <openssl/core.h>

namespace secsf::prov {
extern const OSSL_DISPATCH kEcKeymgmt[];
extern const OSSL_DISPATCH kRsaKeymgmt[];
extern const OSSL_DISPATCH kEd25519Keymgmt[];
extern const OSSL_DISPATCH kEd25519Signature[];
extern const OSSL_DISPATCH kEd25519UriDecoder[];
extern const OSSL_DISPATCH kEd25519UriEncoder[];
extern const OSSL_DISPATCH kEcdsaSignature[];
extern const OSSL_DISPATCH kRsaSignature[];
extern const OSSL_DISPATCH kSeStore[];
extern const OSSL_DISPATCH kEcdhExchange[];
extern const OSSL_DISPATCH kRsaAsymCipher[];
extern const OSSL_DISPATCH kTokenRand[];
extern const OSSL_DISPATCH kOneM2MKdf[];
extern const OSSL_DISPATCH kUriPemDecoder[];
extern const OSSL_DISPATCH kEcUriDecoder[];
extern const OSSL_DISPATCH kRsaUriDecoder[];
extern const OSSL_DISPATCH kEcUriEncoder[];
extern const OSSL_DISPATCH kRsaUriEncoder[];
}  // namespace secsf::prov
