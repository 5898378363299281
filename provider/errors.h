// Where C++ meets the C ABI: every dispatch function runs its body through guard(),
// which turns any exception into an OpenSSL error with a sentence and a failure
// return. Nothing throws across the boundary.
#pragma once
#include <new>

#include "provctx.h"
#include "secsf/error.h"

namespace secsf::prov {

// Raises an OpenSSL error in the secsf library with a printf-style message.
void raise(const ProvCtx *ctx, Reason reason, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

const OSSL_ITEM *reasonStrings();

template <class F, class R>
R guard(const ProvCtx *ctx, R failure, F &&body) noexcept {
    try {
        return body();
    } catch (const Error &e) {
        raise(ctx, e.reason(), "%s", e.what());
    } catch (const std::bad_alloc &) {
        raise(ctx, Reason::Generic, "out of memory");
    } catch (const std::exception &e) {
        raise(ctx, Reason::Generic, "internal error: %s", e.what());
    } catch (...) {
        raise(ctx, Reason::Generic, "internal error");
    }
    return failure;
}

}  // namespace secsf::prov
