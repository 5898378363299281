// The process-wide fixture of the CppUnit programs: a private SoftHSM2 store with
// two tokens (node1/1234, node2/5678) and an openssl.cnf that loads secsf, set up
// before the first OpenSSL call. Plus helpers that sign through whatever provider
// holds a key and verify under the default provider only.
#pragma once
#include <openssl/evp.h>

#include <string>
#include <vector>

namespace testfix {

using Bytes = std::vector<unsigned char>;

void globalSetUp();
void globalTearDown(bool success);
const std::string &workDir();
// The SoftHSM PKCS#11 module under test ($SOFTHSM_MODULE, else Debian's path).
std::string softhsmModule();
std::string pinFile(const std::string &token);

// Everything on the OpenSSL error queue, as text (and the queue cleared).
std::string errors();

// A key by URI or file name through OSSL_STORE; null (and errors queued) if none.
EVP_PKEY *loadKey(const std::string &uri);
// EC key generated in the token by genpkey's path (EVP_PKEY_keygen, provider=secsf).
EVP_PKEY *genEcKey(const std::string &label, const std::string &where = "");

Bytes sign(EVP_PKEY *key, const char *md, const std::string &data);
// The public half of any key, as a default-provider key (null if it has none).
EVP_PKEY *publicOnly(EVP_PKEY *key);
// Verifies with the public half re-imported into the default provider.
bool verifyWithDefault(EVP_PKEY *key, const char *md, const std::string &data, const Bytes &sig);
// Name of the provider that holds a key.
std::string providerOf(EVP_PKEY *key);

// A test program that defines this as true gets a private swtpm, and the
// configuration names it (tpm2-tcti).
extern "C" const bool secsf_test_needs_swtpm __attribute__((weak));
void startSwtpm();
void stopSwtpm();

// A test program that defines this as true gets a private pcscd with vsmartcard's
// reader and the test PIV card in it (PCSCLITE_CSOCK_NAME points at it).
extern "C" const bool secsf_test_needs_card __attribute__((weak));
void startCardReader();
void stopCardReader();
std::string cardDir();
// Runs a script with tests/lib/pcsc.sh loaded and this pcscd's socket; its exit code.
int pcscShell(const std::string &script);

// Runs fn in a forked child; returns true when it returned true and exited 0.
template <class F> bool inChild(F fn);
// The same, but a child still running after `seconds` is killed (SIGALRM) and counts
// as failed: a hang in the child must fail the test, not stall the suite.
template <class F> bool inChildWithin(unsigned seconds, F fn);
// The pre-forking server pattern: `workers` children forked at once run
// worker(index) side by side with parent() in this process; each child is killed
// after `seconds`. The number of children whose worker() returned true, or -1 if
// parent() returned false.
template <class W, class P> int preforkedWorkers(int workers, unsigned seconds, W worker, P parent);
// fork() `forks` times while another thread runs busy() in a loop (so that it is
// inside the Secure Environment at nearly every fork); each child runs child() and is
// killed after `seconds`. The number of children that succeeded; *busyOk counts the
// busy thread's successful runs.
template <class B, class C> int forksWhileBusy(int forks, unsigned seconds, B busy, C child, int *busyOk);

}  // namespace testfix

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

template <class F> bool testfix::inChild(F fn) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) _exit(fn() ? 0 : 1);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

template <class F> bool testfix::inChildWithin(unsigned seconds, F fn) {
    return inChild([&] {
        alarm(seconds);
        return fn();
    });
}

template <class W, class P> int testfix::preforkedWorkers(int workers, unsigned seconds, W worker, P parent) {
    fflush(stdout);
    std::vector<pid_t> pids;
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(seconds);
            _exit(worker(w) ? 0 : 1);
        }
        if (pid > 0) pids.push_back(pid);
    }
    bool parentOk = parent();
    int good = 0;
    for (pid_t pid : pids) {
        int st = 0;
        if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) good++;
    }
    return parentOk ? good : -1;
}

template <class B, class C> int testfix::forksWhileBusy(int forks, unsigned seconds, B busy, C child, int *busyOk) {
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::thread t([&] {
        while (!stop) ok += busy() ? 1 : 0;
    });
    int children = 0;
    for (int i = 0; i < forks; i++) {
        usleep(30000);
        children += inChildWithin(seconds, child);
    }
    stop = true;
    t.join();
    *busyOk = ok;
    return children;
}
