#include "base64url.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

#include "secsf/error.h"

namespace secsf::svc {

namespace {
const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

std::string b64url(const unsigned char *p, size_t n) {
    // OpenSSL's block encoder, then the URL alphabet and no padding (RFC 7515 §2).
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(&out[0]), p, (int)n);
    out.resize(len);
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char &c : out) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return out;
}

Bytes unb64url(const std::string &s) {
    // A table instead of branches: this sits on the path of every JOSE message.
    static const auto table = [] {
        std::array<signed char, 256> t{};
        t.fill(-1);
        for (int i = 0; i < 64; i++) t[(unsigned char)kAlphabet[i]] = (signed char)i;
        return t;
    }();
    size_t n = s.size();
    if (n % 4 == 1) throw Error(Reason::BadInput, "base64url text of impossible length");
    const unsigned char *p = reinterpret_cast<const unsigned char *>(s.data());
    Bytes out(n / 4 * 3 + 2);
    size_t o = 0, i = 0;
    auto bad = [] { return Error(Reason::BadInput, "not base64url text"); };
    for (; i + 4 <= n; i += 4) {
        int a = table[p[i]], b = table[p[i + 1]], c = table[p[i + 2]], d = table[p[i + 3]];
        if ((a | b | c | d) < 0) throw bad();
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (n - i == 2) {
        int a = table[p[i]], b = table[p[i + 1]];
        if ((a | b) < 0) throw bad();
        if (b & 0x0F) throw Error(Reason::BadInput, "base64url text with stray bits");
        out[o++] = (unsigned char)(a << 2 | b >> 4);
    } else if (n - i == 3) {
        int a = table[p[i]], b = table[p[i + 1]], c = table[p[i + 2]];
        if ((a | b | c) < 0) throw bad();
        if (c & 0x03) throw Error(Reason::BadInput, "base64url text with stray bits");
        uint32_t v = (uint32_t)a << 10 | (uint32_t)b << 4 | (uint32_t)c >> 2;
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    out.resize(o);
    return out;
}

}  // namespace secsf::svc
