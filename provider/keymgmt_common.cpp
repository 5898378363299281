#include "keymgmt_common.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>

#include <cstdint>
#include <cstring>

#include "errors.h"
#include "key.h"

namespace secsf::prov {

namespace {

constexpr int kPublicish = OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS;

struct GenCtx {
    ProvCtx *ctx;
    int selection;
    KeyGenRequest req;
    std::string se;
};

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Bytes parseHexId(const std::string &s) {
    Bytes out;
    std::string h;
    for (char c : s)
        if (c != ':') h += c;
    if (h.size() % 2) throw Error(Reason::BadInput, "secsf.id must be an even number of hex digits");
    for (size_t i = 0; i < h.size(); i += 2) {
        int a = hexval(h[i]), b = hexval(h[i + 1]);
        if (a < 0 || b < 0) throw Error(Reason::BadInput, "secsf.id must be hex, e.g. 0a1b");
        out.push_back((unsigned char)(a * 16 + b));
    }
    return out;
}

}  // namespace

void *km_new(void *provctx, KeyType t) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * { return new ProvKey(ctx, t); });
}

void km_free(void *keydata) { delete static_cast<ProvKey *>(keydata); }

void *km_load(const void *ref, size_t size, KeyType t) {
    ProvKey *k = keyFromReference(ref, size);
    if (!k || k->type != t) return nullptr;
    return guard(k->ctx, (void *)nullptr, [&]() -> void * { return k->clone(); });
}

int km_has(const void *keydata, int selection) {
    auto *k = static_cast<const ProvKey *>(keydata);
    if (!k) return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !k->hasPrivate()) return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && !k->hasPub) return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) && k->type == KeyType::EC &&
        !k->hasPub && !k->se)
        return 0;
    return 1;
}

int km_match(const void *a, const void *b, int selection) {
    auto *k1 = static_cast<const ProvKey *>(a);
    auto *k2 = static_cast<const ProvKey *>(b);
    if (!k1 || !k2 || k1->type != k2->type) return 0;
    // Without a public half to compare, the same SE object is the same key. With
    // one, the halves decide: a URI may name another key once the object behind it
    // was replaced.
    if (!k1->hasPub || !k2->hasPub)
        return k1->se && k2->se && k1->se->uri() == k2->se->uri() && k1->se->seName() == k2->se->seName();
    if (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)
        if (k1->pub.group != k2->pub.group) return 0;
    if (selection & (OSSL_KEYMGMT_SELECT_KEYPAIR)) {
        if (k1->type != KeyType::RSA) return k1->pub.ecPoint == k2->pub.ecPoint;
        return k1->pub.n == k2->pub.n && k1->pub.e == k2->pub.e;
    }
    return 1;
}

int km_import(void *keydata, int selection, const OSSL_PARAM params[]) {
    auto *k = static_cast<ProvKey *>(keydata);
    if (!k) return 0;
    return guard(k->ctx, 0, [&]() {
        // Only the public half of a key from outside is taken (OpenSSL hands over
        // whole key pairs, e.g. an ECDH peer given as a key pair): a software
        // private key never becomes a secsf key, and secsf's signature and
        // decryption refuse a key that is not in an SE.
        if (k->type == KeyType::ED25519) {
            const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
            const void *pv = nullptr;
            size_t pl = 0;
            if (!p || !OSSL_PARAM_get_octet_string_ptr(p, &pv, &pl) || pl != 32) return 0;
            k->pub.type = KeyType::ED25519;
            k->pub.group = "ED25519";
            k->pub.bits = 256;
            k->pub.ecPoint.assign((const unsigned char *)pv, (const unsigned char *)pv + pl);
        } else if (k->type == KeyType::EC) {
            const OSSL_PARAM *g = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
            const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
            const char *gn = nullptr;
            const void *pv = nullptr;
            size_t pl = 0;
            if (!g || !OSSL_PARAM_get_utf8_string_ptr(g, &gn)) return 0;
            if (!p || !OSSL_PARAM_get_octet_string_ptr(p, &pv, &pl)) return 0;
            k->pub.type = KeyType::EC;
            k->pub.group = gn;
            k->pub.ecPoint.assign((const unsigned char *)pv, (const unsigned char *)pv + pl);
        } else {
            const OSSL_PARAM *n = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N);
            const OSSL_PARAM *e = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E);
            BIGNUM *bn = nullptr, *be = nullptr;
            if (!n || !e || !OSSL_PARAM_get_BN(n, &bn) || !OSSL_PARAM_get_BN(e, &be)) {
                BN_free(bn);
                return 0;
            }
            k->pub.type = KeyType::RSA;
            k->pub.n.resize(BN_num_bytes(bn));
            k->pub.e.resize(BN_num_bytes(be));
            BN_bn2bin(bn, k->pub.n.data());
            BN_bn2bin(be, k->pub.e.data());
            k->pub.bits = BN_num_bits(bn);
            BN_free(bn);
            BN_free(be);
        }
        k->hasPub = true;
        k->buildSoft();
        if (k->type == KeyType::EC) k->pub.bits = EVP_PKEY_get_bits(k->soft);
        return 1;
    });
}

// Whether an export that asks for the private half too comes from OpenSSL wanting
// the key in another provider for an operation (evp_keymgmt_util_export_to_provider,
// also behind EVP_PKEY_eq): its callback argument is libcrypto's import record,
// whose first member is the target EVP_KEYMGMT, never null. The other askers —
// the legacy copy behind EVP_PKEY_get0_EC_KEY/RSA (an EVP_PKEY_CTX, whose first
// member, `operation`, is 0 with zeroed padding there) and EVP_PKEY_todata (a null
// OSSL_PARAM pointer) — start with eight zero bytes. Both records are larger than
// that, so reading them is in bounds. This relies on OpenSSL 3's internal layout,
// the same in 3.0 to 3.5; with another layout, exports are refused as before.
bool forAnotherProvidersOperation(void *cbarg) {
    if (!cbarg) return true;
    uintptr_t first = 0;
    std::memcpy(&first, cbarg, sizeof first);
    return first != 0;
}

int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg) {
    auto *k = static_cast<ProvKey *>(keydata);
    if (!k || !k->hasPub || !(selection & kPublicish)) return 0;
    // Only the public half ever leaves. Asked for the private half too when OpenSSL
    // wants to run a private operation in another provider, say no: a public-only
    // copy would be accepted, kept in the key's operation cache, and then fail with
    // "missing private key"; refusing makes OpenSSL use secsf's own implementation.
    // Anyone else asking gets the public half (Node.js reads a key's curve through
    // the legacy EC_KEY and aborts the process when there is none).
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && k->hasPrivate() && forAnotherProvidersOperation(cbarg))
        return 0;
    OSSL_PARAM params[3];
    Bytes nb, eb;
    if (k->type == KeyType::ED25519) {
        params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                      k->pub.ecPoint.data(), k->pub.ecPoint.size());
        params[1] = OSSL_PARAM_construct_end();
    } else if (k->type == KeyType::EC) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                     const_cast<char *>(k->pub.group.c_str()), 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                      k->pub.ecPoint.data(), k->pub.ecPoint.size());
        if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)) params[1] = OSSL_PARAM_construct_end();
    } else {
        // OSSL_PARAM integers are native-endian: reverse the big-endian bytes.
        nb.assign(k->pub.n.rbegin(), k->pub.n.rend());
        eb.assign(k->pub.e.rbegin(), k->pub.e.rend());
        nb.push_back(0);
        eb.push_back(0);
        params[0] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, nb.data(), nb.size());
        params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, eb.data(), eb.size());
    }
    params[2] = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

int km_get_params(void *keydata, OSSL_PARAM params[]) {
    auto *k = static_cast<ProvKey *>(keydata);
    if (!k) return 0;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) && !OSSL_PARAM_set_int(p, k->bits()))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) &&
        !OSSL_PARAM_set_int(p, k->securityBits()))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) &&
        !OSSL_PARAM_set_int(p, k->maxSignatureSize()))
        return 0;
    if (k->type == KeyType::ED25519) {
        // Ed25519 hashes inside the algorithm: no digest may be chosen.
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MANDATORY_DIGEST)) &&
            !OSSL_PARAM_set_utf8_string(p, ""))
            return 0;
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY)) &&
            !OSSL_PARAM_set_octet_string(p, k->pub.ecPoint.data(), k->pub.ecPoint.size()))
            return 0;
        return 1;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) &&
        !OSSL_PARAM_set_utf8_string(p, "SHA256"))
        return 0;
    if (k->type == KeyType::EC) {
        if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME)) &&
            !OSSL_PARAM_set_utf8_string(p, k->pub.group.c_str()))
            return 0;
        for (const char *name : {OSSL_PKEY_PARAM_PUB_KEY, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY})
            if ((p = OSSL_PARAM_locate(params, name)) &&
                !OSSL_PARAM_set_octet_string(p, k->pub.ecPoint.data(), k->pub.ecPoint.size()))
                return 0;
    } else if (k->hasPub) {
        for (auto [name, val] : {std::pair{OSSL_PKEY_PARAM_RSA_N, &k->pub.n},
                                 std::pair{OSSL_PKEY_PARAM_RSA_E, &k->pub.e}}) {
            if (!(p = OSSL_PARAM_locate(params, name))) continue;
            BIGNUM *bn = BN_bin2bn(val->data(), (int)val->size(), nullptr);
            int ok = bn && OSSL_PARAM_set_BN(p, bn);
            BN_free(bn);
            if (!ok) return 0;
        }
    }
    return 1;
}

void *km_gen_init(void *provctx, int selection, const OSSL_PARAM params[], KeyType t) {
    auto *ctx = static_cast<ProvCtx *>(provctx);
    return guard(ctx, (void *)nullptr, [&]() -> void * {
        if (!(selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)) {
            raise(ctx, Reason::Unsupported,
                  "secsf generates key pairs only; generate parameters with the default provider");
            return nullptr;
        }
        auto *g = new GenCtx{ctx, selection, {}, {}};
        g->req.type = t;
        if (t == KeyType::ED25519) g->req.group = "ED25519";
        if (params && !km_gen_set_params(g, params)) {
            delete g;
            return nullptr;
        }
        return g;
    });
}

int km_gen_set_params(void *genctx, const OSSL_PARAM params[]) {
    auto *g = static_cast<GenCtx *>(genctx);
    return guard(g->ctx, 0, [&]() {
        const OSSL_PARAM *p;
        const char *s = nullptr;
        if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            g->req.group = s;
        }
        if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS))) {
            size_t bits = 0;
            if (!OSSL_PARAM_get_size_t(p, &bits)) return 0;
            g->req.bits = (int)bits;
        }
        if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E))) {
            BIGNUM *e = nullptr;
            if (!OSSL_PARAM_get_BN(p, &e)) return 0;
            bool f4 = BN_get_word(e) == 65537;
            BN_free(e);
            if (!f4) throw Error(Reason::Unsupported, "secsf generates RSA keys with e=65537 only");
        }
        if ((p = OSSL_PARAM_locate_const(params, "secsf.label"))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            g->req.label = s;
        }
        if ((p = OSSL_PARAM_locate_const(params, "secsf.id"))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            g->req.id = parseHexId(s);
        }
        if ((p = OSSL_PARAM_locate_const(params, "secsf.uri"))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            g->req.where = s;
        }
        if ((p = OSSL_PARAM_locate_const(params, "secsf.se"))) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            g->se = s;
        }
        for (auto [name, flag] : {std::pair{"secsf.allow-duplicate-label", &g->req.allowDuplicateLabel},
                                  std::pair{"secsf.replace-certificate", &g->req.replaceCertificate}}) {
            if (!(p = OSSL_PARAM_locate_const(params, name))) continue;
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &s)) return 0;
            std::string v = s;
            if (v != "0" && v != "1" && v != "yes" && v != "no" && v != "true" && v != "false")
                throw Error(Reason::BadInput, std::string(name) + " is 1 or 0 (yes/no, true/false)");
            *flag = v == "1" || v == "yes" || v == "true";
        }
        return 1;
    });
}

const OSSL_PARAM *km_gen_settable_params(void *, void *, KeyType t) {
    static const OSSL_PARAM ed[] = {
        OSSL_PARAM_utf8_string("secsf.label", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.id", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.uri", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.se", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.allow-duplicate-label", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.replace-certificate", nullptr, 0),
        OSSL_PARAM_END};
    if (t == KeyType::ED25519) return ed;
    static const OSSL_PARAM ec[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.label", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.id", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.uri", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.se", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.allow-duplicate-label", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.replace-certificate", nullptr, 0),
        OSSL_PARAM_END};
    static const OSSL_PARAM rsa[] = {
        OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, nullptr),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.label", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.id", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.uri", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.se", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.allow-duplicate-label", nullptr, 0),
        OSSL_PARAM_utf8_string("secsf.replace-certificate", nullptr, 0),
        OSSL_PARAM_END};
    return t == KeyType::EC ? ec : rsa;
}

void *km_gen(void *genctx, OSSL_CALLBACK *, void *) {
    auto *g = static_cast<GenCtx *>(genctx);
    return guard(g->ctx, (void *)nullptr, [&]() -> void * {
        SePlugin &se = g->req.where.empty() ? g->ctx->registry.able(CapKeyGen, "generate keys", g->se)
                                            : g->ctx->registry.forUri(g->req.where);
        std::unique_ptr<ProvKey> k(new ProvKey(g->ctx, g->req.type));
        k->adopt(se.generate(g->req));
        return k.release();
    });
}

void km_gen_cleanup(void *genctx) { delete static_cast<GenCtx *>(genctx); }

}  // namespace secsf::prov
