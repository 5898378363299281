// Reading a file a URI, a key file or the configuration names: a regular file of a
// bounded size, opened without waiting (a FIFO or a device such as /dev/zero named
// there must not hang the caller or fill its memory).
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "secsf/error.h"

namespace secsf {

// The contents of `path`; throws Error(NotFound) when it cannot be opened and
// Error(BadInput) "<what> <path> must be a regular file of at most N bytes" otherwise.
inline std::string readBoundedFile(const std::string &path, size_t maxBytes, const std::string &what) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) throw Error(Reason::NotFound, what + " " + path + " cannot be read (" + strerror(errno) + ")");
    std::string limit = what + " " + path + " must be a regular file of at most " + std::to_string(maxBytes) + " bytes";
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > maxBytes) {
        close(fd);
        throw Error(Reason::BadInput, limit);
    }
    std::string text;
    char buf[16384];
    ssize_t n;
    while (text.size() <= maxBytes && ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0) text.append(buf, (size_t)n);
    close(fd);
    if (text.size() > maxBytes) throw Error(Reason::BadInput, limit + " (it grew while read)");
    return text;
}

}  // namespace secsf
