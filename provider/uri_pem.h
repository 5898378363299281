// The small PEM file that stands for an SE key: "-----BEGIN SECSF KEY-----" around
// the key type and the key's URI (no secret: the key stays in the SE). `openssl
// genpkey -out` writes it, and `-key file.pem` reads it back through secsf.
#pragma once
#include <openssl/bio.h>

#include <string>

namespace secsf::prov {

constexpr const char *kUriPemName = "SECSF KEY";

// Parses the body of a SECSF KEY block (OpenSSL's PEM decoder hands decoders the
// base64-decoded body). Returns false when `body` is not one.
bool parseUriBody(const std::string &body, std::string &keyType, std::string &uri);
// The data structure name under which the PEM stage hands the body on.
constexpr const char *kUriStructure = "secsf-key-uri";

// Reads the first PEM block from `in`; true and its body when it is a SECSF KEY.
bool readUriPemBody(BIO *in, std::string &body);
bool writeUriPem(BIO *out, const std::string &keyType, const std::string &uri);

}  // namespace secsf::prov
