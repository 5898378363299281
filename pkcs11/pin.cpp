#include "pin.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>

#include "secsf/error.h"

namespace secsf::p11 {

PinSource::~PinSource() {
    if (!value_.empty()) OPENSSL_cleanse(&value_[0], value_.size());
}

PinSource PinSource::fromValue(const std::string &pin) {
    PinSource p;
    p.kind_ = Kind::Value;
    p.value_ = pin;
    return p;
}

PinSource PinSource::fromSource(const std::string &src) {
    PinSource p;
    if (src.compare(0, 4, "env:") == 0) {
        p.kind_ = Kind::Env;
        p.where_ = src.substr(4);
    } else if (src.compare(0, 7, "file://") == 0) {
        p.kind_ = Kind::File;
        p.where_ = src.substr(7);
    } else if (src.compare(0, 5, "file:") == 0) {
        p.kind_ = Kind::File;
        p.where_ = src.substr(5);
    } else if (!src.empty() && src[0] == '/') {
        p.kind_ = Kind::File;
        p.where_ = src;
    } else {
        throw Error(Reason::Config, "pin-source '" + src +
                                        "' is not understood: use file:/path or env:NAME");
    }
    if (p.where_.empty())
        throw Error(Reason::Config, "pin-source '" + src + "' names no file or variable");
    return p;
}

std::string PinSource::describe() const {
    switch (kind_) {
    case Kind::Value: return "the URI's pin-value";
    case Kind::File: return "pin file " + where_;
    case Kind::Env: return "environment variable " + where_;
    default: return "no PIN source";
    }
}

SecureString PinSource::read() const {
    switch (kind_) {
    case Kind::Value:
        return SecureString(value_);
    case Kind::Env: {
        const char *v = getenv(where_.c_str());
        if (!v || !*v)
            throw Error(Reason::PinRequired, "PIN " + describe() + " is not set");
        return SecureString(v);
    }
    case Kind::File: {
        FILE *f = fopen(where_.c_str(), "re");
        if (!f) throw Error(Reason::PinRequired, "cannot read " + describe());
        char buf[256];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        // A trailing newline is how every editor and `echo` writes a file.
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        SecureString out(std::string(buf, n));
        OPENSSL_cleanse(buf, sizeof buf);
        if (out.empty()) throw Error(Reason::PinRequired, describe() + " is empty");
        return out;
    }
    default:
        throw Error(Reason::PinRequired, "no PIN source configured");
    }
}

}  // namespace secsf::p11
