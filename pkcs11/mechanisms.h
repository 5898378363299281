// Mechanism tables: OpenSSL digest NIDs to PKCS#11 hash mechanisms and MGF1
// generators, the DigestInfo that CKM_RSA_PKCS expects, and EC curve parameters.
#pragma once
#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

namespace secsf::p11 {

using Bytes = std::vector<unsigned char>;

CK_MECHANISM_TYPE hashMechanism(int digestNid);  // throws Unsupported
CK_MECHANISM_TYPE hmacMechanism(int digestNid);  // CKM_SHA256_HMAC...
CK_RSA_PKCS_MGF_TYPE mgf1Generator(int digestNid);
// DER DigestInfo (RFC 8017 9.2) around a digest made with digestNid.
Bytes digestInfo(int digestNid, const Bytes &digest);

// DER OID for CKA_EC_PARAMS from a curve name ("P-256", "prime256v1", ...).
Bytes ecParamsForCurve(const std::string &curve);
// Curve short name and field size in bytes from CKA_EC_PARAMS; throws on unknown.
void curveFromEcParams(const Bytes &params, std::string &name, int &fieldBits);

}  // namespace secsf::p11
