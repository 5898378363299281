// A string for PINs: wiped when it goes away, never copied by accident.
#pragma once
#include <openssl/crypto.h>
#include <string>
#include <utility>

namespace secsf {

class SecureString {
public:
    SecureString() = default;
    explicit SecureString(std::string s) : s_(std::move(s)) {}
    SecureString(const SecureString &) = delete;
    SecureString &operator=(const SecureString &) = delete;
    // Copy then wipe: a moved-from short string would keep its bytes in the SSO buffer.
    SecureString(SecureString &&o) : s_(o.s_) { o.wipe(); }
    SecureString &operator=(SecureString &&o) {
        if (this != &o) {
            wipe();
            s_ = o.s_;
            o.wipe();
        }
        return *this;
    }
    ~SecureString() { wipe(); }

    const std::string &str() const { return s_; }
    bool empty() const { return s_.empty(); }
    void wipe() {
        if (!s_.empty()) OPENSSL_cleanse(&s_[0], s_.size());
        s_.clear();
    }

private:
    std::string s_;
};

}  // namespace secsf
