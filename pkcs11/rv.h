// Names of PKCS#11 return values, so every error message carries the token's own word.
#pragma once
#include <p11-kit/pkcs11.h>
#include <string>

#include "secsf/error.h"

namespace secsf::p11 {

const char *rvName(CK_RV rv);

// Maps a failing CK_RV to the Reason a user can act on.
Reason rvReason(CK_RV rv);

// Throws Error("<what> (CKR_...)") when rv != CKR_OK.
void check(CK_RV rv, const std::string &what);

}  // namespace secsf::p11
