// libFuzzer target for the parsers that take key references from outside: RFC 7512
// PKCS#11 URIs, tpm2: and piv: URIs and the body of a SECSF KEY file. Each must either
// parse or throw secsf::Error — never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../pkcs11/uri.h"
#include "../provider/uri_pem.h"
#include "../se-plugins/pcsc/piv_uri.h"
#include "../se-plugins/tpm2/tpm2_uri.h"
#include "secsf/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string in(reinterpret_cast<const char *>(data), size);
    for (const std::string &text : {in, "pkcs11:" + in, "tpm2:" + in, "piv:" + in}) {
        try {
            secsf::p11::Uri u = secsf::p11::Uri::parse(text);
            (void)u.label();
            (void)u.id();
            (void)u.objectClass();
            (void)u.pinSource();
            (void)u.redacted();
        } catch (const secsf::Error &) {
        }
        try {
            secsf::tpm2::Uri t = secsf::tpm2::Uri::parse(text);
            secsf::tpm2::Uri again = secsf::tpm2::Uri::parse(t.format());
            (void)again;
        } catch (const secsf::Error &) {
        }
        try {
            secsf::pcsc::PivUri p = secsf::pcsc::PivUri::parse(text);
            (void)secsf::pcsc::PivUri::parse(p.format());
        } catch (const secsf::Error &) {
        }
    }
    std::string type, uri;
    (void)secsf::prov::parseUriBody(in, type, uri);
    return 0;
}
