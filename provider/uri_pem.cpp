#include "uri_pem.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>

namespace secsf::prov {

namespace {
// The body is DER, SEQUENCE { UTF8String magic, UTF8String keyType, UTF8String uri },
// so that OpenSSL's DER readers pass it along intact.
constexpr const char *kMagic = "secsf-key-uri-v1";

std::string utf8At(STACK_OF(ASN1_TYPE) *seq, int i) {
    ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
    if (!t || t->type != V_ASN1_UTF8STRING) return {};
    const ASN1_STRING *s = t->value.utf8string;
    return std::string(reinterpret_cast<const char *>(ASN1_STRING_get0_data(s)),
                       ASN1_STRING_length(s));
}

bool pushUtf8(STACK_OF(ASN1_TYPE) *seq, const std::string &v) {
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
    if (!t || !s || !ASN1_STRING_set(s, v.data(), (int)v.size())) {
        ASN1_TYPE_free(t);
        ASN1_UTF8STRING_free(s);
        return false;
    }
    ASN1_TYPE_set(t, V_ASN1_UTF8STRING, s);
    return sk_ASN1_TYPE_push(seq, t) > 0;
}
}  // namespace

bool parseUriBody(const std::string &body, std::string &keyType, std::string &uri) {
    const unsigned char *p = reinterpret_cast<const unsigned char *>(body.data());
    STACK_OF(ASN1_TYPE) *seq = d2i_ASN1_SEQUENCE_ANY(nullptr, &p, (long)body.size());
    if (!seq) return false;
    bool ok = sk_ASN1_TYPE_num(seq) == 3 && utf8At(seq, 0) == kMagic;
    if (ok) {
        keyType = utf8At(seq, 1);
        uri = utf8At(seq, 2);
        ok = !keyType.empty() && !uri.empty();
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    return ok;
}

bool readUriPemBody(BIO *in, std::string &body) {
    char *name = nullptr, *header = nullptr;
    unsigned char *data = nullptr;
    long len = 0;
    bool ok = PEM_read_bio(in, &name, &header, &data, &len) > 0 &&
              std::string(name) == kUriPemName;
    if (ok) body.assign(reinterpret_cast<char *>(data), len);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    return ok;
}

bool writeUriPem(BIO *out, const std::string &keyType, const std::string &uri) {
    STACK_OF(ASN1_TYPE) *seq = sk_ASN1_TYPE_new_null();
    unsigned char *der = nullptr;
    int len = -1;
    if (seq && pushUtf8(seq, kMagic) && pushUtf8(seq, keyType) && pushUtf8(seq, uri))
        len = i2d_ASN1_SEQUENCE_ANY(seq, &der);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    bool ok = len > 0 && PEM_write_bio(out, kUriPemName, "", der, len) > 0;
    OPENSSL_free(der);
    return ok;
}

}  // namespace secsf::prov
