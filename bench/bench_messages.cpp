// Secured messages over a security association (seal on one node, open on the
// other) per second and MB/s for 64 B, 1 KiB and 64 KiB, against bare OpenSSL
// AES-256-GCM on a key of the same size in the same run (encrypt + decrypt, nothing
// else). Interleaved, median of 5. Every opened message is compared with what was
// sealed. The SA is established between two software keys: the handshake is not
// what is measured here.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"
#include "sa_nodes.h"

using namespace secsf::svc;
using bench::median;
using bench::perSecond;

int main() {
    int64_t now = std::time(nullptr);
    bench::SaNodes nodes([now] { return now; });
    SecurityAssociations &A = *nodes.A, &B = *nodes.B;
    std::string id = nodes.establish();

    unsigned char key[32], iv[12], tag[16];
    RAND_bytes(key, sizeof key);
    printf("%-8s %12s %12s %10s %10s %7s\n", "payload", "bare AEAD/s", "secsf SA/s", "bare MB/s", "SA MB/s", "ratio");
    for (size_t size : {64, 1024, 65536}) {
        std::string payload(size, 'x');
        std::vector<unsigned char> ct(size + 16), pt(size + 16);
        auto bare = [&] {
            int n = 0, m = 0;
            RAND_bytes(iv, sizeof iv);
            EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
            EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key, iv);
            EVP_EncryptUpdate(c, ct.data(), &n, (const unsigned char *)payload.data(), (int)size);
            EVP_EncryptFinal_ex(c, ct.data() + n, &m);
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
            EVP_CIPHER_CTX_free(c);
            c = EVP_CIPHER_CTX_new();
            EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key, iv);
            EVP_DecryptUpdate(c, pt.data(), &n, ct.data(), (int)size);
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
            bool ok = EVP_DecryptFinal_ex(c, pt.data() + n, &m) > 0;
            EVP_CIPHER_CTX_free(c);
            if (!ok || memcmp(pt.data(), payload.data(), size) != 0) throw std::runtime_error("bare AEAD round trip failed");
        };
        auto sa = [&] {
            Json got = B.open(A.seal(id, payload));
            if (got != payload) throw std::runtime_error("secured message round trip failed");
        };
        int n = size > 4096 ? 200 : 2000;
        std::vector<double> r1, r2;
        for (int rep = 0; rep < 5; rep++) {
            r1.push_back(perSecond(bare, n));
            r2.push_back(perSecond(sa, n));
        }
        double x = median(r1), y = median(r2);
        printf("%-8zu %12.0f %12.0f %10.1f %10.1f %7.2f\n", size, x, y, x * size / 1e6, y * size / 1e6, y / x);
    }
    printf("\nsecsf per message: JSON body, freshness (128-bit random, expiry, sequence\n"
           "number), base64url, JWE header, replay checks on the way in.\n");
    return 0;
}
