// ECDH and security-association key derivation with one token key, against the raw
// PKCS#11 calls the operation needs in the same run: C_DeriveKey (CKM_ECDH1_DERIVE)
// + C_GetAttributeValue (the shared secret) + C_DestroyObject, on the token object
// and on a session copy of it (SoftHSM's ceiling; secsf uses such a copy). Then
// secsf through EVP_PKEY_derive: plain ECDH, and ECDH + X9.63 KDF (the SA keys:
// 48 bytes), and the default provider with a software key. Each path runs in a
// forked process of its own (raw ones without any OpenSSL configuration),
// interleaved, median of 5. Every secret is compared with the peer's computation.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

using namespace bench;

namespace {

const char *kUkm = "SA-4711 initiator responder";
const size_t kSaKeyBytes = 48;

struct Run {
    std::string path;
    int threads = 1;
    int ms = 400;
    std::string work, module;
};

// The token key's public half (written by run-bench.sh), in the default provider.
EVP_PKEY *tokenPublic(const Run &r) {
    return readPublicDer(r.work + "/ec256.pub.der");
}

Bytes encodedPoint(EVP_PKEY *k) {
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &n);
    Bytes pt(n);
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt.data(), n, &n);
    return pt;
}

// ECDH (and, with kdfOut, X9.63 KDF over SHA-256 with kUkm) through EVP.
// checkPeer: OpenSSL's full public-key check of the peer (on the curve, n*Q = O),
// which EVP_PKEY_derive_set_peer does by default and raw PKCS#11 callers skip.
Bytes evpDerive(EVP_PKEY *mine, EVP_PKEY *peer, size_t kdfOut, bool checkPeer = false) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, mine, nullptr);
    Bytes out;
    bool ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_derive_set_peer_ex(c, peer, checkPeer ? 1 : 0) > 0;
    if (ok && kdfOut) {
        OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, (char *)"X963KDF", 0),
                          OSSL_PARAM_construct_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, (char *)"SHA256", 0),
                          OSSL_PARAM_construct_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, &kdfOut),
                          OSSL_PARAM_construct_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, (void *)kUkm, strlen(kUkm)),
                          OSSL_PARAM_construct_end()};
        ok = EVP_PKEY_CTX_set_params(c, p) > 0;
    }
    size_t len = 0;
    ok = ok && EVP_PKEY_derive(c, nullptr, &len) > 0;
    if (ok) {
        out.resize(len);
        ok = EVP_PKEY_derive(c, out.data(), &len) > 0;
        out.resize(ok ? len : 0);
    }
    EVP_PKEY_CTX_free(c);
    return out;
}

// Runs op in r.threads threads for r.ms; per second. Every result must equal want.
template <class Op> double timed(const Run &r, Op op, const Bytes &want, bool &allEqual) {
    std::atomic<bool> stop{false};
    std::atomic<long> count{0};
    std::atomic<bool> equal{true};
    std::vector<std::thread> ts;
    auto t0 = Clock::now();
    for (int t = 0; t < r.threads; t++)
        ts.emplace_back([&, t] {
            while (!stop.load(std::memory_order_relaxed)) {
                if (op(t) != want) equal = false;
                count++;
            }
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(r.ms));
    stop = true;
    for (auto &t : ts) t.join();
    allEqual = equal;
    return count / std::chrono::duration<double>(Clock::now() - t0).count();
}

double rawPath(const Run &r, bool sessionCopy, EVP_PKEY *peer, const Bytes &z, bool &ok) {
    RawToken rt = openRaw(r.module);
    CK_OBJECT_HANDLE key = rawFind(rt, CKO_PRIVATE_KEY, "bench-ec256");
    if (sessionCopy) key = rawSessionCopy(rt, key);
    Bytes point = encodedPoint(peer);
    std::vector<CK_SESSION_HANDLE> sess(r.threads);
    for (auto &s : sess) rt.f->C_OpenSession(rt.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s);
    return timed(r, [&](int th) {
        CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, (CK_ULONG)point.size(), point.data()};
        CK_MECHANISM mech{CKM_ECDH1_DERIVE, &params, sizeof params};
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
        CK_ULONG len = 32;
        CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
                               {CKA_TOKEN, &no, sizeof no},   {CKA_SENSITIVE, &no, sizeof no},
                               {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_VALUE_LEN, &len, sizeof len}};
        CK_OBJECT_HANDLE zh;
        Bytes out(32);
        if (rt.f->C_DeriveKey(sess[th], &mech, key, tmpl, 6, &zh) != CKR_OK) return Bytes();
        CK_ATTRIBUTE v{CKA_VALUE, out.data(), out.size()};
        CK_RV rv = rt.f->C_GetAttributeValue(sess[th], zh, &v, 1);
        rt.f->C_DestroyObject(sess[th], zh);
        return rv == CKR_OK ? out : Bytes();
    }, z, ok);
}

// One path in this (forked) process: prints "rate ok".
void child(const Run &r, EVP_PKEY *peer, const Bytes &z, const Bytes &saKeys) {
    bool ok = false;
    double rate = 0;
    if (r.path == "raw-token" || r.path == "raw-copy") {
        rate = rawPath(r, r.path == "raw-copy", peer, z, ok);
    } else {
        if (!loadConfigNow()) _exit(3);  // the parent did not read it
        EVP_PKEY *mine = r.path == "software" ? nullptr : loadStore("pkcs11:token=bench;object=bench-ec256;type=private");
        EVP_PKEY *soft = nullptr;
        if (r.path == "software") {
            // The same exchange in software: the peer's key with the token's public half.
            mine = peer;
            soft = tokenPublic(r);
        }
        if (!mine) {
            ERR_print_errors_fp(stderr);
            _exit(3);
        }
        EVP_PKEY *other = r.path == "software" ? soft : peer;
        size_t kdf = r.path == "secsf-sa-keys" ? kSaKeyBytes : 0;
        bool check = r.path == "secsf-ecdh-checked";
        rate = timed(r, [&](int) { return evpDerive(mine, other, kdf, check); }, kdf ? saKeys : z, ok);
    }
    printf("%.1f %d\n", rate, ok ? 1 : 0);
    fflush(stdout);
    _exit(ok ? 0 : 2);
}

}  // namespace

int main() {
    Run base;
    base.work = env("BENCH_WORK", "bench-work");
    base.module = env("SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so");
    base.ms = atoi(env("BENCH_MS", "400").c_str());
    int reps = atoi(env("BENCH_REPS", "5").c_str());
    // No configuration in this process: the expected values come from software, and
    // the raw children must not have secsf (and SoftHSM) loaded behind their back.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256");
    EVP_PKEY *tokenPub = tokenPublic(base);
    if (!peer || !tokenPub) return 1;
    Bytes z = evpDerive(peer, tokenPub, 0), saKeys = evpDerive(peer, tokenPub, kSaKeyBytes);

    const char *paths[] = {"raw-token", "raw-copy", "secsf-ecdh", "secsf-sa-keys", "secsf-ecdh-checked", "software"};
    printf("\nECDH P-256 and SA key derivation, per second (median of %d, %d ms each)\n\n", reps, base.ms);
    printf("%-7s | %10s %10s | %11s %13s %14s | %9s | %12s %14s\n", "threads", "raw token", "raw copy",
           "secsf ECDH", "secsf SA keys", "ECDH, checked", "software", "ECDH / copy", "SA keys / copy");
    bool allOk = true;
    for (int threads : {1, 2}) {
        std::map<std::string, std::vector<double>> rates;
        for (int rep = 0; rep < reps; rep++)
            for (const char *p : paths) {
                // BENCH_PATHS="secsf-ecdh": only those (e.g. under perf); the others print 0.
                std::string only = env("BENCH_PATHS", "");
                if (!only.empty() && (" " + only + " ").find(std::string(" ") + p + " ") == std::string::npos) continue;
                Run r = base;
                r.path = p;
                r.threads = threads;
                int fd[2];
                if (pipe(fd) != 0) return 1;
                fflush(stdout);
                pid_t pid = fork();
                if (pid == 0) {
                    dup2(fd[1], 1);
                    close(fd[0]);
                    child(r, peer, z, saKeys);
                }
                close(fd[1]);
                FILE *in = fdopen(fd[0], "r");
                double rate = 0;
                int ok = 0;
                if (fscanf(in, "%lf %d", &rate, &ok) != 2) ok = 0;
                fclose(in);
                int st = 0;
                waitpid(pid, &st, 0);
                if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                    fprintf(stderr, "%s: failed or a secret differed from the peer's\n", p);
                    allOk = false;
                }
                rates[p].push_back(rate);
            }
        double copy = median(rates["raw-copy"]);
        printf("%-7d | %10.0f %10.0f | %11.0f %13.0f %14.0f | %9.0f | %12.2f %14.2f\n", threads,
               median(rates["raw-token"]), copy, median(rates["secsf-ecdh"]), median(rates["secsf-sa-keys"]),
               median(rates["secsf-ecdh-checked"]), median(rates["software"]), median(rates["secsf-ecdh"]) / copy,
               median(rates["secsf-sa-keys"]) / copy);
        fflush(stdout);
    }
    printf("\nevery secret equal to the peer's: %s\n", allOk ? "yes" : "NO");
    return allOk ? 0 : 1;
}
