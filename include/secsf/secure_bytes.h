// Bytes for secrets that must cross host memory (an ECDH Z, a derived key on a token
// that cannot derive into an object): kept in locked pages where the system allows
// it, and wiped before the memory is returned.
#pragma once
#include <openssl/crypto.h>
#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <vector>

namespace secsf {

template <class T> struct WipingAllocator {
    using value_type = T;
    WipingAllocator() = default;
    template <class U> WipingAllocator(const WipingAllocator<U> &) {}
    T *allocate(size_t n) {
        void *p = std::malloc(n * sizeof(T));
        if (!p) throw std::bad_alloc();
        // Best effort: RLIMIT_MEMLOCK may say no. (GCC takes mlock's pointer for a
        // read of the new, uninitialised block and warns.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
        mlock(p, n * sizeof(T));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
        return static_cast<T *>(p);
    }
    void deallocate(T *p, size_t n) {
        OPENSSL_cleanse(p, n * sizeof(T));
        munlock(p, n * sizeof(T));
        std::free(p);
    }
    template <class U> bool operator==(const WipingAllocator<U> &) const { return true; }
    template <class U> bool operator!=(const WipingAllocator<U> &) const { return false; }
};

using SecureBytes = std::vector<unsigned char, WipingAllocator<unsigned char>>;

}  // namespace secsf
