// The secsf ENGINE: for programs that take hardware keys only as `engine:` keys
// (nginx 1.22's ssl_certificate_key engine:..., curl --engine, stunnel). Its key
// loaders take the provider's key URIs and return keys that the secsf provider
// holds, loaded through OSSL_STORE; the engine itself implements no cryptography.
#define OPENSSL_SUPPRESS_DEPRECATED 1  // ENGINE is deprecated in OpenSSL 3, and still what these programs use
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>

namespace {

const char *const kEngineId = "secsf";
const char *const kEngineName = "secsf: keys in Secure Environments through the secsf provider";

int gLib = 0;  // ERR library code of this engine
enum { kReasonNoProvider = 100, kReasonNoKey, kReasonBadId, kReasonNotSe };

// Not const: ERR_load_strings() writes the library code into the table.
ERR_STRING_DATA kReasons[] = {
    {0, "secsf engine"},  // set in bind()
    {ERR_PACK(0, 0, kReasonNoProvider), "the secsf provider is not loaded"},
    {ERR_PACK(0, 0, kReasonNoKey), "no such key"},
    {ERR_PACK(0, 0, kReasonBadId), "bad key id"},
    {ERR_PACK(0, 0, kReasonNotSe), "not a key in a Secure Environment"},
    {0, nullptr}};

void raise(int reason, const std::string &msg) {
    ERR_raise_data(gLib, reason, "%s", msg.c_str());
}

// Keys are loaded through the provider that the application's openssl.cnf loads; the
// engine never loads it on its own, since the provider's section holds its settings.
bool providerReady() {
    if (OSSL_PROVIDER_available(nullptr, "secsf")) return true;
    raise(kReasonNoProvider,
          "add secsf to [provider_sect] of openssl.cnf (see the secsf README); the engine "
          "only hands its key URIs to the provider");
    return false;
}

// The id as it may appear in a message: short, and with the value of any pin-value
// replaced, so that no error text, log line or --json output carries a PIN.
std::string shown(const char *id) {
    std::string s = strlen(id) > 200 ? "(long id)" : id;
    const std::string pin = "pin-value=";
    for (size_t at = s.find(pin); at != std::string::npos; at = s.find(pin, at)) {
        at += pin.size();
        size_t end = s.find_first_of("&;", at);
        s.replace(at, (end == std::string::npos ? s.size() : end) - at, "(hidden)");
    }
    return s;
}

// The first object of the kind `expect` that `take` turns into a T, from the store
// (the provider's) that `id` names: a key URI or a SECSF KEY file. Raises `missing`
// + the id when there is none.
template <class T, class Take> T *firstInStore(const char *id, int expect, Take take, const char *missing) {
    if (!id || !*id) {
        raise(kReasonBadId, "empty key id: give a pkcs11: URI or a SECSF KEY file");
        return nullptr;
    }
    if (!providerReady()) return nullptr;
    OSSL_STORE_CTX *s = OSSL_STORE_open_ex(id, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    if (!s) {
        raise(kReasonNoKey, "cannot open " + shown(id));
        return nullptr;
    }
    OSSL_STORE_expect(s, expect);
    T *out = nullptr;
    while (!out && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(s);
        if (!info) break;
        out = take(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(s);
    if (!out) raise(kReasonNoKey, missing + shown(id));
    return out;
}

EVP_PKEY *load(const char *id, int want) {
    return firstInStore<EVP_PKEY>(
        id, want,
        [want, id](OSSL_STORE_INFO *info) -> EVP_PKEY * {
            int t = OSSL_STORE_INFO_get_type(info);
            if (t == OSSL_STORE_INFO_PKEY) {
                // A software key file would be used as such, outside any SE: a
                // program given -engine secsf must not sign with it unawares.
                EVP_PKEY *k = OSSL_STORE_INFO_get1_PKEY(info);
                const OSSL_PROVIDER *p = k ? EVP_PKEY_get0_provider(k) : nullptr;
                if (k && (!p || strcmp(OSSL_PROVIDER_get0_name(p), "secsf") != 0)) {
                    EVP_PKEY_free(k);
                    raise(kReasonNotSe, shown(id) + " is a software key, not a key in a Secure Environment: the secsf "
                                                    "engine answers only for SE keys (pkcs11:, tpm2:, piv: URIs and SECSF "
                                                    "KEY files); give a software key to the program without the engine");
                    return nullptr;
                }
                return k;
            }
            if (t == OSSL_STORE_INFO_PUBKEY && want == OSSL_STORE_INFO_PUBKEY)
                return OSSL_STORE_INFO_get1_PUBKEY(info);
            return nullptr;
        },
        want == OSSL_STORE_INFO_PKEY ? "no private key at " : "no public key at ");
}

// The certificate a URI names (type=cert, or the one beside a key): stunnel and
// other libp11 users ask for it with the "LOAD_CERT_CTRL" command.
X509 *loadCert(const char *id) {
    return firstInStore<X509>(
        id, OSSL_STORE_INFO_CERT,
        [](OSSL_STORE_INFO *info) {
            return OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT ? OSSL_STORE_INFO_get1_CERT(info) : nullptr;
        },
        "no certificate at ");
}

// The command numbers and the parameter block are libp11's, which these programs expect.
constexpr int kCmdLoadCert = ENGINE_CMD_BASE;
const ENGINE_CMD_DEFN kCommands[] = {
    {kCmdLoadCert, "LOAD_CERT_CTRL", "the certificate at a key URI (struct {const char *id; X509 *cert;})",
     ENGINE_CMD_FLAG_INTERNAL},
    {0, nullptr, nullptr, 0}};

struct LoadCertParams {
    const char *id;
    X509 *cert;
};

int ctrl(ENGINE *, int cmd, long, void *p, void (*)(void)) {
    if (cmd != kCmdLoadCert) return 0;
    auto *params = static_cast<LoadCertParams *>(p);
    if (!params) return 0;
    params->cert = loadCert(params->id);
    return params->cert ? 1 : 0;
}

EVP_PKEY *loadPrivate(ENGINE *, const char *id, UI_METHOD *, void *) {
    return load(id, OSSL_STORE_INFO_PKEY);
}

EVP_PKEY *loadPublic(ENGINE *, const char *id, UI_METHOD *, void *) {
    return load(id, OSSL_STORE_INFO_PUBKEY);
}

int bind(ENGINE *e, const char *id) {
    if (id && strcmp(id, kEngineId) != 0) return 0;
    // Once per process: dynamic loading binds more than one ENGINE structure, and
    // the strings must outlive all of them.
    if (!gLib) {
        gLib = ERR_get_next_error_library();
        kReasons[0].error = ERR_PACK(gLib, 0, 0);  // the library's name; 0 would end the table
        ERR_load_strings(gLib, kReasons);
    }
    return ENGINE_set_id(e, kEngineId) && ENGINE_set_name(e, kEngineName) &&
           ENGINE_set_load_privkey_function(e, loadPrivate) &&
           ENGINE_set_load_pubkey_function(e, loadPublic) && ENGINE_set_cmd_defns(e, kCommands) &&
           ENGINE_set_ctrl_function(e, ctrl);
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) IMPLEMENT_DYNAMIC_CHECK_FN()
__attribute__((visibility("default"))) IMPLEMENT_DYNAMIC_BIND_FN(bind)
}
