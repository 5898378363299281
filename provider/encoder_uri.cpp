// Encoder that writes an SE key as a SECSF KEY PEM (its URI, never key material):
// what `openssl genpkey -out` and PEM_write_PrivateKey() produce for secsf keys.
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>

#include "errors.h"
#include "key.h"
#include "provider.h"
#include "uri_pem.h"

namespace secsf::prov {
namespace {

void *enc_newctx(void *provctx) { return provctx; }
void enc_freectx(void *) {}

int enc_does_selection(void *, int selection) {
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

int enc_encode(void *vctx, OSSL_CORE_BIO *cout, const void *obj_raw, const OSSL_PARAM[],
               int selection, OSSL_PASSPHRASE_CALLBACK *, void *) {
    auto *ctx = static_cast<ProvCtx *>(vctx);
    return guard(ctx, 0, [&] {
        auto *k = static_cast<const ProvKey *>(obj_raw);
        if (!k || k->magic != ProvKey::kMagic || !k->hasPrivate() ||
            !(selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
            return 0;
        BIO *out = BIO_new_from_core_bio(ctx->libctx, cout);
        if (!out) return 0;
        bool ok = writeUriPem(out, keyTypeName(k->type), k->se->uri());
        BIO_free(out);
        return ok ? 1 : 0;
    });
}

}  // namespace

// The encoder is the same for every key type; OpenSSL wants one table per name.
#define SECSF_URI_ENCODER_TABLE(table)                                        \
    const OSSL_DISPATCH table[] = {                                          \
        {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))enc_newctx},              \
        {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))enc_freectx},            \
        {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))enc_does_selection}, \
        {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))enc_encode},              \
        {0, nullptr}}

SECSF_URI_ENCODER_TABLE(kEcUriEncoder);
SECSF_URI_ENCODER_TABLE(kRsaUriEncoder);
SECSF_URI_ENCODER_TABLE(kEd25519UriEncoder);

}  // namespace secsf::prov
