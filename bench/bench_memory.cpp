// Resident memory: with 10,000 security associations held by one node; with
// BENCH_KEYS (default 1,000) token keys looked up through secsf and kept as
// EVP_PKEYs, and after freeing them (each first lookup of a distinct key is a
// C_FindObjects that SoftHSM answers by walking every object: 10,000 distinct keys
// would take SoftHSM most of an hour, and what secsf holds per key does not depend
// on how many there are);
// and over a run of BENCH_OPS (default 1,000,000) secsf signatures with one key on
// two threads, sampled at 10% and at the end: a leak would show as growth. Each
// part runs in a process of its own; every signature of the long run is verified.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "sa_nodes.h"

using namespace bench;
namespace svc = secsf::svc;

namespace {

double residentMiB() {
    long pages = 0, resident = 0;
    std::ifstream f("/proc/self/statm");
    f >> pages >> resident;
    return resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

// 10,000 SAs between two nodes (software keys: the bookkeeping is measured, not
// the token); the responder's memory is reported.
int associations(int count) {
    bench::SaNodes nodes;
    svc::SecurityAssociations &A = *nodes.A, &B = *nodes.B;
    // Warm up (first fetches, JSON tables) before the baseline.
    std::string first = nodes.establish();
    double before = residentMiB();
    std::vector<std::string> ids;
    for (int i = 1; i < count; i++)
        ids.push_back(nodes.establish());
    double after = residentMiB();
    // Every SA still works: a message over the last one opens on the other side.
    bool ok = B.open(A.seal(ids.back(), "check")) == svc::Json("check") && B.open(A.seal(first, "x")) == svc::Json("x");
    printf("%-44s %10.1f %10.1f %12.2f  %s\n", ("security associations: " + std::to_string(count)).c_str(), before,
           after, (after - before) * 1024.0 / count, ok ? "" : "(an SA FAILED)");
    return ok ? 0 : 1;
}

// Imports `count` EC key pairs (one scalar, distinct labels and ids) with raw PKCS#11.
int addKeys(const std::string &module, const std::string &prefix, int count) {
    RawToken rt = openRaw(module);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIGNUM *d = nullptr;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d);
    Bytes scalar(32), point(65), der;
    BN_bn2binpad(d, scalar.data(), 32);
    BN_free(d);
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(), &n);
    der = {0x04, 0x41};
    der.insert(der.end(), point.begin(), point.end());
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY, pub = CKO_PUBLIC_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    CK_BBOOL yes = CK_TRUE;
    for (int i = 0; i < count; i++) {
        std::string label = prefix + std::to_string(i);
        unsigned char id[4] = {(unsigned char)(i >> 24), (unsigned char)(i >> 16), (unsigned char)(i >> 8), (unsigned char)i};
        CK_ATTRIBUTE pv[] = {{CKA_CLASS, &priv, sizeof priv}, {CKA_KEY_TYPE, &ec, sizeof ec}, {CKA_TOKEN, &yes, sizeof yes},
                             {CKA_PRIVATE, &yes, sizeof yes}, {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_SIGN, &yes, sizeof yes},
                             {CKA_LABEL, (void *)label.data(), label.size()}, {CKA_ID, id, sizeof id},
                             {CKA_EC_PARAMS, (void *)p256, sizeof p256}, {CKA_VALUE, scalar.data(), scalar.size()}};
        CK_ATTRIBUTE pb[] = {{CKA_CLASS, &pub, sizeof pub}, {CKA_KEY_TYPE, &ec, sizeof ec}, {CKA_TOKEN, &yes, sizeof yes},
                             {CKA_VERIFY, &yes, sizeof yes}, {CKA_LABEL, (void *)label.data(), label.size()},
                             {CKA_ID, id, sizeof id}, {CKA_EC_PARAMS, (void *)p256, sizeof p256},
                             {CKA_EC_POINT, der.data(), der.size()}};
        CK_OBJECT_HANDLE h;
        if (rt.f->C_CreateObject(rt.login, pv, 10, &h) != CKR_OK || rt.f->C_CreateObject(rt.login, pb, 8, &h) != CKR_OK)
            return 5;
    }
    return 0;
}

int keys(const std::string &prefix, int count) {
    if (!loadConfigNow()) return 3;
    EVP_PKEY *warm = loadStore("pkcs11:token=bench;object=" + prefix + "0;type=private");
    EVP_PKEY_free(warm);
    double before = residentMiB();
    std::vector<EVP_PKEY *> held;
    for (int i = 0; i < count; i++) {
        EVP_PKEY *k = loadStore("pkcs11:token=bench;object=" + prefix + std::to_string(i) + ";type=private");
        if (!k) {
            ERR_print_errors_fp(stderr);
            return 4;
        }
        held.push_back(k);
    }
    double after = residentMiB();
    for (EVP_PKEY *k : held) EVP_PKEY_free(k);
    double freed = residentMiB();
    printf("%-44s %10.1f %10.1f %12.2f\n", ("token keys looked up and held: " + std::to_string(count)).c_str(), before,
           after, (after - before) * 1024.0 / count);
    printf("%-44s %10.1f %10.1f\n", "  ... and after freeing them", before, freed);
    return 0;
}

int longRun(long ops, const std::string &work) {
    if (!loadConfigNow()) return 3;
    EVP_PKEY *k = loadStore("pkcs11:token=bench;object=bench-ec256;type=private");
    EVP_PKEY *pub = readPublicDer(work + "/ec256.pub.der");
    if (!k || !pub) return 4;
    unsigned char dg[32] = {1};
    std::atomic<long> done{0};
    std::atomic<bool> bad{false};
    double early = 0;
    auto work1 = [&] {
        Bytes sig(80);
        for (;;) {
            long i = done++;
            if (i >= ops) return;
            if (i == ops / 10) early = residentMiB();
            size_t len = sig.size();
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, k, nullptr);
            bool ok = EVP_PKEY_sign_init(c) > 0 && EVP_PKEY_sign(c, sig.data(), &len, dg, sizeof dg) > 0;
            EVP_PKEY_CTX_free(c);
            EVP_PKEY_CTX *v = EVP_PKEY_CTX_new_from_pkey(nullptr, pub, "provider=default");
            ok = ok && EVP_PKEY_verify_init(v) > 0 && EVP_PKEY_verify(v, sig.data(), len, dg, sizeof dg) == 1;
            EVP_PKEY_CTX_free(v);
            if (!ok) bad = true;
        }
    };
    double start = residentMiB();
    std::thread t1(work1), t2(work1);
    t1.join();
    t2.join();
    double end = residentMiB();
    printf("%-44s %10.1f %10.1f %12s  at 10%%: %.1f MiB, growth after it: %.1f MiB%s\n",
           (std::to_string(ops) + " signatures, 2 threads").c_str(), start, end, "-", early, end - early,
           bad ? " (a signature FAILED to verify)" : "");
    EVP_PKEY_free(k);
    EVP_PKEY_free(pub);
    return bad ? 1 : 0;
}

// Runs f in a child process; its exit status.
template <class F> int inChild(F f) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = f();
        fflush(stdout);
        _exit(rc);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

}  // namespace

int main() {
    std::string work = env("BENCH_WORK", "bench-work"), module = env("SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so");
    int count = atoi(env("BENCH_COUNT", "10000").c_str());
    int keyCount = atoi(env("BENCH_KEYS", "1000").c_str());
    long ops = atol(env("BENCH_OPS", "1000000").c_str());
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    printf("\nResident memory (MiB)\n\n%-44s %10s %10s %12s\n", "what", "before", "after", "KiB each");
    int rc = inChild([&] { return associations(count); });
    // A prefix of its own: a second run on the same token must not make the URIs ambiguous.
    std::string prefix = "mem-" + std::to_string(getpid()) + "-";
    auto t0 = Clock::now();
    if (inChild([&] { return addKeys(module, prefix, keyCount); }) != 0) return 1;
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    rc |= inChild([&] { return keys(prefix, keyCount); });
    printf("(%d key pairs imported with raw PKCS#11 in %.0f s, looked up through secsf in %.0f s)\n", keyCount, secs,
           std::chrono::duration<double>(Clock::now() - t0).count());
    rc |= inChild([&] { return longRun(ops, work); });
    return rc ? 1 : 0;
}
