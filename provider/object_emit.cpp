#include "object_emit.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include <cstring>

namespace secsf::prov {

int Emitter::key(std::shared_ptr<SeKey> k, OSSL_CALLBACK *cb, void *cbarg) {
    KeyType t = k->keyType();
    auto pk = std::make_unique<ProvKey>(ctx, t);
    pk->adopt(std::move(k));
    ProvKey *raw = pk.get();
    owned.push_back(std::move(pk));
    int objtype = OSSL_OBJECT_PKEY;
    // The length matters: OpenSSL copies data_size bytes of the type name.
    char *name = const_cast<char *>(keyTypeName(t));
    OSSL_PARAM p[] = {
        OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &objtype),
        OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, name, strlen(name)),
        OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &raw, sizeof raw),
        OSSL_PARAM_END};
    return cb(p, cbarg);
}

int Emitter::certificate(const Bytes &der, OSSL_CALLBACK *cb, void *cbarg) {
    int objtype = OSSL_OBJECT_CERT;
    OSSL_PARAM p[] = {
        OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &objtype),
        OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, const_cast<unsigned char *>(der.data()),
                                der.size()),
        OSSL_PARAM_END};
    return cb(p, cbarg);
}

}  // namespace secsf::prov
