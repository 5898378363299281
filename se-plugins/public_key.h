// PublicKey <-> EVP_PKEY. The numbers an SE reports become a software key (for
// verification, certificates, key matching), and a software key (from a
// certificate, a card's answer) becomes the numbers.
#pragma once
#include <openssl/evp.h>

#include "se_plugin.h"

namespace secsf {

// A new EVP_PKEY in libctx (null: the default) fetched with props. Throws
// Error(DeviceError) when the numbers are not a valid key.
EVP_PKEY *publicKeyToEvp(const PublicKey &pub, OSSL_LIB_CTX *libctx = nullptr, const char *props = nullptr);
// Throws Error(Unsupported) for key types secsf does not handle.
PublicKey publicKeyFromEvp(EVP_PKEY *pk);

// SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
std::string publicKeyPem(const PublicKey &pub);

// An SE's ECDSA signature (r||s, as SeKey::sign returns it) as the DER ECDSA-Sig-Value
// OpenSSL and X.509 use. Throws Error(Generic) when it cannot be encoded.
Bytes ecdsaSigDer(const Bytes &rs);

}  // namespace secsf
