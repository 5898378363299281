// Decoder for the SECSF KEY PEM (see uri_pem.h): `-key node.pem` finds the key in
// its SE again. OpenSSL's own PEM decoder strips the armour; this one takes the
// body as DER-stage input and leaves everything that is not a SECSF KEY alone.
#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include <cstring>
#include <string>

#include "errors.h"
#include "object_emit.h"
#include "provider.h"
#include "uri_pem.h"
#include "../se-plugins/key_file_uri.h"

namespace secsf::prov {
namespace {

struct DecCtx {
    ProvCtx *ctx;
    const char *type;
};

void *ec_dec_newctx(void *provctx) { return new DecCtx{static_cast<ProvCtx *>(provctx), "EC"}; }
void *rsa_dec_newctx(void *provctx) { return new DecCtx{static_cast<ProvCtx *>(provctx), "RSA"}; }
void *ed_dec_newctx(void *provctx) { return new DecCtx{static_cast<ProvCtx *>(provctx), "ED25519"}; }
void dec_freectx(void *c) { delete static_cast<DecCtx *>(c); }

// The PEM stage looks the key up itself: an error there reaches the user, while
// OpenSSL's store discards the errors of the DER stage it calls ("unsupported").
// The DER stage, on the same thread right after, takes that result instead of
// asking the SE a second time.
struct Lookup {
    std::string uri;
    Found found;
};
thread_local Lookup *tLookup = nullptr;

Found lookup(ProvCtx *ctx, const std::string &uri) {
    if (tLookup && tLookup->uri == uri) {
        Found f = tLookup->found;
        delete tLookup;
        tLookup = nullptr;
        return f;
    }
    checkKeyFileUri(ctx->registry, uri);
    Found f = ctx->registry.forUri(uri).find(uri);
    if (!f.privateKey && !f.publicKey)
        throw Error(Reason::NotFound, "the key named in the SECSF KEY file is gone");
    return f;
}

int dec_does_selection(void *, int selection) {
    return selection == 0 || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR);
}

int dec_decode(void *vctx, OSSL_CORE_BIO *cin, int, OSSL_CALLBACK *cb, void *cbarg,
               OSSL_PASSPHRASE_CALLBACK *, void *) {
    auto *d = static_cast<DecCtx *>(vctx);
    return guard(d->ctx, 0, [&] {
        BIO *in = BIO_new_from_core_bio(d->ctx->libctx, cin);
        if (!in) return 0;
        // A SECSF KEY is a few hundred bytes; past 8 KiB it is something else.
        std::string data;
        char buf[1024];
        int n;
        while (data.size() < 8192 && (n = BIO_read(in, buf, sizeof buf)) > 0) data.append(buf, n);
        BIO_free(in);
        std::string type, uri;
        bool ours = parseUriBody(data, type, uri);
        // Returning 1 without an object means "not mine": the chain goes on.
        if (!ours || type != d->type) return 1;
        Found f = lookup(d->ctx, uri);
        std::shared_ptr<SeKey> key = f.privateKey ? f.privateKey : f.publicKey;
        Emitter e{d->ctx, {}};
        // The reference is only used inside the callback, while `e` lives.
        return e.key(key, cb, cbarg);
    });
}

// First stage: SECSF KEY PEM armour to its body, passed on as DER-stage data
// (OpenSSL's own PEM decoder only passes the PEM names it knows).
void *pem_dec_newctx(void *provctx) { return new DecCtx{static_cast<ProvCtx *>(provctx), ""}; }

int pem_dec_decode(void *vctx, OSSL_CORE_BIO *cin, int, OSSL_CALLBACK *cb, void *cbarg,
                   OSSL_PASSPHRASE_CALLBACK *, void *) {
    auto *d = static_cast<DecCtx *>(vctx);
    return guard(d->ctx, 0, [&] {
        BIO *in = BIO_new_from_core_bio(d->ctx->libctx, cin);
        if (!in) return 0;
        std::string body;
        bool ours = readUriPemBody(in, body);
        BIO_free(in);
        if (!ours) return 1;
        std::string type, uri;
        if (parseUriBody(body, type, uri)) {
            delete tLookup;
            tLookup = nullptr;
            Found f = lookup(d->ctx, uri);  // throws with the sentence the user needs
            tLookup = new Lookup{uri, f};
        }
        OSSL_PARAM p[] = {
            OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, body.data(), body.size()),
            OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                   const_cast<char *>(kUriStructure), strlen(kUriStructure)),
            OSSL_PARAM_END};
        return cb(p, cbarg);
    });
}

}  // namespace

const OSSL_DISPATCH kUriPemDecoder[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pem_dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))dec_does_selection},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_dec_decode},
    {0, nullptr}};

#define SECSF_URI_DECODER_TABLE(table, newctx)                        \
    const OSSL_DISPATCH table[] = {                                  \
        {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))newctx},          \
        {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},    \
        {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))dec_does_selection}, \
        {OSSL_FUNC_DECODER_DECODE, (void (*)(void))dec_decode},      \
        {0, nullptr}}

SECSF_URI_DECODER_TABLE(kEcUriDecoder, ec_dec_newctx);
SECSF_URI_DECODER_TABLE(kRsaUriDecoder, rsa_dec_newctx);
SECSF_URI_DECODER_TABLE(kEd25519UriDecoder, ed_dec_newctx);

}  // namespace secsf::prov
