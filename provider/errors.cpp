#include "errors.h"

#include <openssl/err.h>

#include <cstdarg>

namespace secsf::prov {

namespace {
const OSSL_ITEM kReasons[] = {
    {(unsigned)Reason::Generic, (void *)"secsf error"},
    {(unsigned)Reason::BadUri, (void *)"bad key URI"},
    // Programs that print only the reason (Node.js does) should still say where to look.
    {(unsigned)Reason::NotFound, (void *)"not found (secsf check and secsf key list show what is there)"},
    {(unsigned)Reason::Ambiguous, (void *)"ambiguous reference"},
    {(unsigned)Reason::PinRequired, (void *)"PIN required (pkcs11-pin-source or pkcs11-token-pin-sources gives a token's PIN)"},
    {(unsigned)Reason::PinIncorrect, (void *)"PIN incorrect"},
    {(unsigned)Reason::PinLocked, (void *)"PIN locked"},
    {(unsigned)Reason::DeviceError, (void *)"secure environment failed (secsf check tests it)"},
    {(unsigned)Reason::Unsupported, (void *)"operation not supported by the secure environment"},
    {(unsigned)Reason::BadInput, (void *)"bad input"},
    {(unsigned)Reason::Config, (void *)"configuration error (secsf check names the setting)"},
    {0, nullptr},
};
}  // namespace

const OSSL_ITEM *reasonStrings() { return kReasons; }

void raise(const ProvCtx *ctx, Reason reason, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (ctx && ctx->newError) {
        ctx->newError(ctx->handle);
        ctx->setErrorDebug(ctx->handle, nullptr, 0, nullptr);
        ctx->vsetError(ctx->handle, (unsigned)reason, fmt, ap);
    } else {
        // Before the core handed us its error functions: use libcrypto's own.
        ERR_new();
        ERR_set_debug(nullptr, 0, nullptr);
        ERR_vset_error(ERR_LIB_PROV, (int)reason, fmt, ap);
    }
    va_end(ap);
}

}  // namespace secsf::prov
