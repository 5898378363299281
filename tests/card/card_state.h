// What the test PIV card remembers between runs: PIN and PUK with their retry
// counters, the management key, the private keys per slot and the data objects.
// Kept in one text file (one "name hex" line per item), rewritten atomically on
// every change, so killing the emulator loses nothing a card would have kept.
#pragma once
#include <openssl/evp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace card {

using Bytes = std::vector<unsigned char>;

struct PkeyFree {
    void operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct State {
    Bytes pin = {'1', '2', '3', '4', '5', '6'};
    Bytes puk = {'1', '2', '3', '4', '5', '6', '7', '8'};
    int pinTries = 3, pukTries = 3;
    static constexpr int kMaxTries = 3;
    // The well-known default 3DES management key of PIV test cards.
    Bytes mgmtKey = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    std::map<int, Pkey> keys;         // slot (0x9a...) -> private key
    std::map<int, Bytes> objects;     // object tag (0x5fc105, 0x7e...) -> contents

    // Missing file: a fresh card with the defaults. Throws on a damaged file.
    static State load(const std::string &path);
    void save(const std::string &path) const;
};

}  // namespace card
