// SECSF-RNG: random numbers drawn from the SE's generator (C_GenerateRandom on
// PKCS#11). Nobody gets it by default; a user selects it in openssl.cnf, either as
// the generator itself ([random] random = SECSF-RNG) or, cheaper, as the seed source
// of OpenSSL's own DRBGs ([random] seed = SECSF-RNG), or fetches it by name.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <mutex>

#include <sys/random.h>

#include <cerrno>

#include "errors.h"
#include "secsf/device_call.h"
#include "provider.h"

namespace secsf::prov {
namespace {

constexpr size_t kMaxRequest = 1 << 16;

struct RandCtx {
    ProvCtx *ctx;
    std::recursive_mutex mu;  // the module may come back through libcrypto
    bool locking = false;
    int state = EVP_RAND_STATE_UNINITIALISED;
};

void *rng_newctx(void *provctx, void *, const OSSL_DISPATCH *) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * { return new RandCtx{ctx}; });
}

void rng_freectx(void *c) { delete static_cast<RandCtx *>(c); }

int rng_instantiate(void *c, unsigned int, int, const unsigned char *, size_t, const OSSL_PARAM[]) {
    auto *r = static_cast<RandCtx *>(c);
    return guard(r->ctx, 0, [&] {
        // Instantiated from inside a device call (the module's own RAND_bytes): no
        // device question now; such draws are served by the kernel anyway.
        if (!insideDeviceCall()) r->ctx->registry.able(CapRandom, "generate random numbers");
        r->state = EVP_RAND_STATE_READY;
        return 1;
    });
}

int rng_uninstantiate(void *c) {
    static_cast<RandCtx *>(c)->state = EVP_RAND_STATE_UNINITIALISED;
    return 1;
}

bool fill(RandCtx *r, unsigned char *out, size_t len) {
    // The device module itself asking (through libcrypto) for random numbers: serve
    // it from the kernel, as it would be without secsf, instead of re-entering it.
    if (insideDeviceCall()) {
        while (len > 0) {
            ssize_t n = getrandom(out, len, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            out += n;
            len -= (size_t)n;
        }
        return true;
    }
    return guard(r->ctx, false, [&] {
        SePlugin &se = r->ctx->registry.able(CapRandom, "generate random numbers");
        while (len > 0) {
            size_t n = std::min(len, kMaxRequest);
            Bytes b = se.random(n);
            std::copy(b.begin(), b.end(), out);
            OPENSSL_cleanse(b.data(), b.size());
            out += n;
            len -= n;
        }
        return true;
    });
}

int rng_generate(void *c, unsigned char *out, size_t outlen, unsigned int, int,
                 const unsigned char *, size_t) {
    auto *r = static_cast<RandCtx *>(c);
    if (r->state != EVP_RAND_STATE_READY) return 0;
    if (!fill(r, out, outlen)) {
        r->state = EVP_RAND_STATE_ERROR;
        return 0;
    }
    return 1;
}

int rng_reseed(void *, int, const unsigned char *, size_t, const unsigned char *, size_t) {
    return 1;  // the SE reseeds itself
}

size_t rng_get_seed(void *c, unsigned char **pout, int, size_t min_len, size_t, int,
                    const unsigned char *, size_t) {
    auto *r = static_cast<RandCtx *>(c);
    unsigned char *buf = static_cast<unsigned char *>(OPENSSL_secure_malloc(min_len));
    if (!buf) return 0;
    if (!fill(r, buf, min_len)) {
        OPENSSL_secure_clear_free(buf, min_len);
        return 0;
    }
    *pout = buf;
    return min_len;
}

void rng_clear_seed(void *, unsigned char *out, size_t outlen) { OPENSSL_secure_clear_free(out, outlen); }

int rng_enable_locking(void *c) {
    static_cast<RandCtx *>(c)->locking = true;
    return 1;
}
int rng_lock(void *c) {
    auto *r = static_cast<RandCtx *>(c);
    if (r->locking) r->mu.lock();
    return 1;
}
void rng_unlock(void *c) {
    auto *r = static_cast<RandCtx *>(c);
    if (r->locking) r->mu.unlock();
}

int rng_get_ctx_params(void *c, OSSL_PARAM params[]) {
    auto *r = static_cast<RandCtx *>(c);
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE)) && !OSSL_PARAM_set_int(p, r->state))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH)) && !OSSL_PARAM_set_uint(p, 256))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST)) &&
        !OSSL_PARAM_set_size_t(p, kMaxRequest))
        return 0;
    return 1;
}

const OSSL_PARAM *rng_gettable_ctx_params(void *, void *) {
    static const OSSL_PARAM p[] = {OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, nullptr),
                                   OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, nullptr),
                                   OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, nullptr),
                                   OSSL_PARAM_END};
    return p;
}

}  // namespace

const OSSL_DISPATCH kTokenRand[] = {
    {OSSL_FUNC_RAND_NEWCTX, (void (*)(void))rng_newctx},
    {OSSL_FUNC_RAND_FREECTX, (void (*)(void))rng_freectx},
    {OSSL_FUNC_RAND_INSTANTIATE, (void (*)(void))rng_instantiate},
    {OSSL_FUNC_RAND_UNINSTANTIATE, (void (*)(void))rng_uninstantiate},
    {OSSL_FUNC_RAND_GENERATE, (void (*)(void))rng_generate},
    {OSSL_FUNC_RAND_RESEED, (void (*)(void))rng_reseed},
    {OSSL_FUNC_RAND_GET_SEED, (void (*)(void))rng_get_seed},
    {OSSL_FUNC_RAND_CLEAR_SEED, (void (*)(void))rng_clear_seed},
    {OSSL_FUNC_RAND_ENABLE_LOCKING, (void (*)(void))rng_enable_locking},
    {OSSL_FUNC_RAND_LOCK, (void (*)(void))rng_lock},
    {OSSL_FUNC_RAND_UNLOCK, (void (*)(void))rng_unlock},
    {OSSL_FUNC_RAND_GET_CTX_PARAMS, (void (*)(void))rng_get_ctx_params},
    {OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, (void (*)(void))rng_gettable_ctx_params},
    {0, nullptr}};

}  // namespace secsf::prov
