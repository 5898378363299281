// What the benchmark programs share: statistics, the environment, OSSL_STORE
// lookups and the benchmark token through raw PKCS#11 (no provider in the process).
#pragma once
#include <openssl/evp.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace bench {

using Bytes = std::vector<unsigned char>;
using Clock = std::chrono::steady_clock;

inline std::string env(const char *n, const char *d) {
    const char *v = getenv(n);
    return v && *v ? v : d;
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Calls f() n times; calls per second.
template <class F> double perSecond(F f, int n) {
    auto t0 = Clock::now();
    for (int i = 0; i < n; i++) f();
    return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

// The first private (or else public) key OSSL_STORE finds at uri; null if none.
inline EVP_PKEY *loadStore(const std::string &uri) {
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri.c_str(), nullptr, nullptr, nullptr, nullptr);
    EVP_PKEY *k = nullptr;
    while (s && !k && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (!i) break;
        if (OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY) k = OSSL_STORE_INFO_get1_PKEY(i);
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    return k;
}

// A public key from a DER file (run-bench.sh writes NAME.pub.der), in the default
// provider: what results are checked with. Null if unreadable.
inline EVP_PKEY *readPublicDer(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    Bytes der((std::istreambuf_iterator<char>(f)), {});
    const unsigned char *p = der.data();
    return d2i_PUBKEY_ex(nullptr, &p, (long)der.size(), nullptr, "provider=default");
}

// Reads $OPENSSL_CONF (loading secsf) in a process that started without reading
// any configuration, so that a raw path forked from it has no provider loaded.
inline bool loadConfigNow() {
    const char *conf = getenv("OPENSSL_CONF");
    return conf && OSSL_LIB_CTX_load_config(nullptr, conf) == 1;
}

// The benchmark token (first slot, PIN 1234) through raw PKCS#11: module
// initialised, one logged-in read-write session. Exits 4 when the module fails.
struct RawToken {
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE login;
};

inline RawToken openRaw(const std::string &module) {
    RawToken t{p11_kit_module_load(module.c_str(), P11_KIT_MODULE_UNMANAGED), 0, 0};
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    if (!t.f || t.f->C_Initialize(&args) != CKR_OK) exit(4);
    CK_SLOT_ID slots[8];
    CK_ULONG n = 8;
    t.f->C_GetSlotList(CK_TRUE, slots, &n);
    t.slot = slots[0];
    t.f->C_OpenSession(t.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &t.login);
    t.f->C_Login(t.login, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4);
    return t;
}

// The one object of class cls labelled label; exits 5 unless there is exactly one.
inline CK_OBJECT_HANDLE rawFind(const RawToken &t, CK_OBJECT_CLASS cls, const std::string &label) {
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label.data(), label.size()}};
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    t.f->C_FindObjectsInit(t.login, q, 2);
    t.f->C_FindObjects(t.login, h, 2, &n);
    t.f->C_FindObjectsFinal(t.login);
    if (n != 1) exit(5);
    return h[0];
}

// A session copy of a token object (CKA_TOKEN false): SoftHSM's fast path.
inline CK_OBJECT_HANDLE rawSessionCopy(const RawToken &t, CK_OBJECT_HANDLE h) {
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE c[] = {{CKA_TOKEN, &no, sizeof no}};
    CK_OBJECT_HANDLE copy;
    if (t.f->C_CopyObject(t.login, h, c, 1, &copy) != CKR_OK) exit(6);
    return copy;
}

}  // namespace bench
