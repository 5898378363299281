#include "nfkc.h"

#include <unistr.h>
#include <uninorm.h>

#include <cstdlib>

#include "secsf/error.h"

namespace secsf::prov {

std::string nfkc(const std::string &s) {
    const auto *in = reinterpret_cast<const uint8_t *>(s.data());
    if (u8_check(in, s.size()) != nullptr)
        throw Error(Reason::BadInput, "an identifier for a key derivation is not valid UTF-8");
    size_t len = 0;
    uint8_t *out = u8_normalize(UNINORM_NFKC, in, s.size(), nullptr, &len);
    if (!out) throw Error(Reason::Generic, "Unicode normalisation failed");
    std::string r(reinterpret_cast<char *>(out), len);
    free(out);
    return r;
}

}  // namespace secsf::prov
