// Signatures with SE keys, shared by ECDSA and RSA. The private operation runs in
// the SE; hashing, verification, parameter bookkeeping and AlgorithmIdentifiers are
// done by a software context on the key's public half (in another provider), so
// secsf answers exactly as OpenSSL's own implementation would, without re-coding it.
#pragma once
#include <openssl/core_dispatch.h>

#include "../se-plugins/se_plugin.h"

namespace secsf::prov {

void *sig_newctx(void *provctx, const char *propq, KeyType t);
void sig_freectx(void *ctx);
void *sig_dupctx(void *ctx);
int sig_sign_init(void *ctx, void *key, const OSSL_PARAM params[]);
int sig_verify_init(void *ctx, void *key, const OSSL_PARAM params[]);
int sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
             const unsigned char *tbs, size_t tbslen);
int sig_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
               size_t tbslen);
int sig_digest_sign_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]);
int sig_digest_verify_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]);
int sig_digest_update(void *ctx, const unsigned char *data, size_t len);
int sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize);
int sig_digest_verify_final(void *ctx, const unsigned char *sig, size_t siglen);
// One-shot forms, the only ones EdDSA has.
int sig_digest_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen);
int sig_digest_verify(void *ctx, const unsigned char *sig, size_t siglen,
                      const unsigned char *tbs, size_t tbslen);
int sig_get_ctx_params(void *ctx, OSSL_PARAM params[]);
int sig_set_ctx_params(void *ctx, const OSSL_PARAM params[]);
const OSSL_PARAM *sig_gettable_ctx_params(void *ctx, void *provctx);
const OSSL_PARAM *sig_settable_ctx_params(void *ctx, void *provctx);

template <KeyType T> void *sig_newctx_t(void *provctx, const char *propq) {
    return sig_newctx(provctx, propq, T);
}

// The table of a hash-then-sign scheme (ECDSA, RSA) for keys of type T.
#define SECSF_DIGEST_SIGNATURE_TABLE(table, T)                                             \
    const OSSL_DISPATCH table[] = {                                                       \
        {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx_t<T>},                    \
        {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},                       \
        {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},                         \
        {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},                   \
        {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},                             \
        {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_verify_init},               \
        {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},                         \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},     \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update},      \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},   \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init}, \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update},    \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final}, \
        {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},         \
        {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params}, \
        {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},         \
        {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params}, \
        {0, nullptr}}

}  // namespace secsf::prov
