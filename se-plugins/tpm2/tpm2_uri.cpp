#include "tpm2_uri.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "secsf/error.h"

namespace secsf::tpm2 {

namespace {

constexpr size_t kMaxUri = 4096;

std::string decode(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        auto hex = [](char c) {
            return c >= '0' && c <= '9' ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        };
        if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
            throw Error(Reason::BadUri, "bad percent-encoding in TPM key URI");
        out += (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
    }
    if (out.find('\0') != std::string::npos) throw Error(Reason::BadUri, "TPM key URI contains a NUL byte");
    return out;
}

std::string encode(const std::string &s) {
    static const char *d = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out += (char)c;
        else {
            out += '%';
            out += d[c >> 4];
            out += d[c & 15];
        }
    }
    return out;
}

template <class F> void eachPair(const std::string &part, char sep, F f) {
    size_t start = 0;
    while (start <= part.size()) {
        size_t end = part.find(sep, start);
        if (end == std::string::npos) end = part.size();
        std::string item = part.substr(start, end - start);
        if (!item.empty()) {
            size_t eq = item.find('=');
            if (eq == std::string::npos || eq == 0)
                throw Error(Reason::BadUri, "TPM key URI attribute '" + item + "' has no value");
            f(item.substr(0, eq), decode(item.substr(eq + 1)));
        }
        start = end + 1;
    }
}

}  // namespace

Uri Uri::parse(const std::string &text) {
    if (text.size() > kMaxUri) throw Error(Reason::BadUri, "TPM key URI is too long");
    if (text.compare(0, 5, "tpm2:") != 0) throw Error(Reason::BadUri, "not a TPM key URI (tpm2:...)");
    std::string rest = text.substr(5);
    std::string path = rest, query;
    auto q = rest.find('?');
    if (q != std::string::npos) {
        path = rest.substr(0, q);
        query = rest.substr(q + 1);
    }
    Uri u;
    eachPair(path, ';', [&](const std::string &k, const std::string &v) {
        if (k == "handle") {
            char *end = nullptr;
            unsigned long h = strtoul(v.c_str(), &end, 0);
            if (!end || *end || v.empty() || h < 0x81000000ul || h > 0x81ffffff)
                throw Error(Reason::BadUri, "handle=" + v + " is not a persistent handle (0x81000000-0x81FFFFFF)");
            u.handle = (uint32_t)h;
        } else if (k == "file") {
            u.file = v;
        } else if (k == "object") {
            u.label = v;
        } else {
            throw Error(Reason::BadUri, "TPM key URI attribute '" + k + "' is unknown (handle, file, object)");
        }
    });
    eachPair(query, '&', [&](const std::string &k, const std::string &v) {
        if (k == "pin-source") u.pinSource = v;
        else if (k == "pin-value") u.pinValue = v;
        else throw Error(Reason::BadUri, "TPM key URI query '" + k + "' is unknown (pin-source, pin-value)");
    });
    if (u.handle && u.file) throw Error(Reason::BadUri, "a TPM key URI names a handle or a file, not both");
    return u;
}

std::string Uri::format() const {
    std::string s = "tpm2:";
    std::string sep;
    if (handle) {
        char buf[16];
        snprintf(buf, sizeof buf, "0x%08x", *handle);
        s += "handle=" + std::string(buf);
        sep = ";";
    }
    if (file) {
        s += sep + "file=" + encode(*file);
        sep = ";";
    }
    if (label) s += sep + "object=" + encode(*label);
    if (pinSource) s += "?pin-source=" + encode(*pinSource);
    return s;
}

}  // namespace secsf::tpm2
