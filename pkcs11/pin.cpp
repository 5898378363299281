#include "pin.h"

#include <openssl/crypto.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

namespace {
// root may read the service user's file (a pre-forking server's parent reads the PIN
// its workers read as that user).
bool ownerFits(const struct stat &st) {
    uid_t me = geteuid();
    return me == 0 || st.st_uid == me || st.st_uid == 0;
}

bool secretFileIsPrivate(const struct stat &st) {
    return ownerFits(st) && !(st.st_mode & (S_IRWXG | S_IRWXO));
}
}  // namespace

void checkSecretFile(const std::string &what, const struct stat &st) {
    uid_t me = geteuid();
    if (!ownerFits(st))
        throw Error(Reason::Config, what + " belongs to uid " + std::to_string(st.st_uid) +
                                        ", not to this process's user (uid " + std::to_string(me) +
                                        ") or root: a secret must be owned by who uses it");
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
        throw Error(Reason::Config, what + " is open to group or others (mode " + mode +
                                        "): a secret file must be readable by its owner only "
                                        "(chmod 600)");
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
        // O_NONBLOCK: a FIFO or a device named as the PIN file must not hang the caller.
        int fd = open(where_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) throw Error(Reason::PinRequired, "cannot read " + describe() + " (" +
                                                         std::string(strerror(errno)) + ")");
        struct stat st {};
        bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        if (!regular || !secretFileIsPrivate(st)) {
            close(fd);
            if (!regular) throw Error(Reason::Config, describe() + " is not a regular file");
            checkSecretFile(describe(), st);  // throws the sentence
        }
        char buf[256];
        ssize_t got = ::read(fd, buf, sizeof buf);
        close(fd);
        size_t n = got > 0 ? (size_t)got : 0;
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
