// OSSL_STORE for the key URIs of every SE (pkcs11: per RFC 7512, tpm2:):
// `openssl pkey -in 'pkcs11:...'`, `-key 'tpm2:...'`, OSSL_STORE_open() anywhere.
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/store.h>

#include <string>

#include "errors.h"
#include "object_emit.h"
#include "provider.h"

namespace secsf::prov {
namespace {

struct StoreCtx {
    ProvCtx *ctx;
    std::string uri;
    int expect = 0;
    bool done = false;
    Emitter emit;
};

void *store_open(void *provctx, const char *uri) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * {
        if (!ctx->configError.empty()) throw Error(Reason::Config, ctx->configError);
        ctx->registry.forUri(uri);  // fails early when no SE takes this scheme
        return new StoreCtx{ctx, uri, 0, false, {ctx, {}}};
    });
}

const OSSL_PARAM *store_settable_ctx_params(void *) {
    static const OSSL_PARAM p[] = {OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, nullptr), OSSL_PARAM_END};
    return p;
}

int store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[]) {
    auto *s = static_cast<StoreCtx *>(loaderctx);
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p && !OSSL_PARAM_get_int(p, &s->expect)) return 0;
    return 1;
}

int store_load(void *loaderctx, OSSL_CALLBACK *cb, void *cbarg, OSSL_PASSPHRASE_CALLBACK *,
               void *) {
    auto *s = static_cast<StoreCtx *>(loaderctx);
    return guard(s->ctx, 0, [&] {
        if (s->done) return 0;
        s->done = true;
        // PINs come from pin-source/pin-value or the configuration, never a prompt:
        // a CSE is a daemon, and a prompt there would hang it.
        Found f = s->ctx->registry.forUri(s->uri).find(s->uri);
        int e = s->expect;
        bool any = false;
        if (f.privateKey && (e == 0 || e == OSSL_STORE_INFO_PKEY)) {
            if (!s->emit.key(f.privateKey, cb, cbarg)) return 0;
            any = true;
        }
        if (f.publicKey && (e == 0 || e == OSSL_STORE_INFO_PUBKEY)) {
            if (!s->emit.key(f.publicKey, cb, cbarg)) return 0;
            any = true;
        }
        if (!f.certificate.empty() && (e == 0 || e == OSSL_STORE_INFO_CERT)) {
            if (!s->emit.certificate(f.certificate, cb, cbarg)) return 0;
            any = true;
        }
        if (!any) throw Error(Reason::NotFound, "the URI names no object of the kind the application asked for");
        return 1;
    });
}

int store_eof(void *loaderctx) { return static_cast<StoreCtx *>(loaderctx)->done; }

int store_close(void *loaderctx) {
    delete static_cast<StoreCtx *>(loaderctx);
    return 1;
}

}  // namespace

const OSSL_DISPATCH kSeStore[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {0, nullptr}};

}  // namespace secsf::prov
