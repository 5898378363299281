// Reads the public half of a token key: from the object itself (RSA private keys
// carry n and e), else from the public-key or certificate object with its CKA_ID.
#pragma once
#include <p11-kit/pkcs11.h>

#include "../../pkcs11/token.h"
#include "../se_plugin.h"

namespace secsf {

// Fills `out` and returns true when the public key could be assembled.
bool readPublicKey(p11::Session &s, CK_OBJECT_HANDLE obj, PublicKey &out);

}  // namespace secsf
