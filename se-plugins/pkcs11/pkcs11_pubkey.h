// Reads the public half of a token key: from the object itself (RSA private keys
// carry n and e; some tokens give EC private keys CKA_EC_POINT or
// CKA_PUBLIC_KEY_INFO), else from the public-key or certificate object with its
// CKA_ID. Such a companion object is anybody's who can write the token: for a
// private key it is trusted only after a test signature by the private key verifies
// with it in software (once per key and process).
#pragma once
#include <p11-kit/pkcs11.h>

#include "../../pkcs11/token.h"
#include "../se_plugin.h"

namespace secsf {

// Fills `out` and returns true when the public key could be assembled. Throws
// Error(DeviceError) with a sentence when a companion object is not the public half
// of the private key `obj`.
bool readPublicKey(p11::Session &s, CK_OBJECT_HANDLE obj, PublicKey &out);

}  // namespace secsf
