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

// Answers that SoftHSM (and other file-backed modules) give for a present, working
// token while another process rewrites its files: worth asking again shortly.
bool transientRv(CK_RV rv);

// The waits between such repeated questions: true after sleeping the next one,
// false when they are used up (2, 10, 50, 200 ms: about a quarter of a second).
bool backoff(int &attempt);

}  // namespace secsf::p11
