#include "digests.h"

#include "secsf/error.h"

namespace secsf::prov {

const EVP_MD *digestByName(const std::string &name) {
    const EVP_MD *md = EVP_get_digestbyname(name.c_str());
    if (!md) throw Error(Reason::Unsupported, "unknown digest " + name);
    return md;
}

int digestNid(const std::string &name) {
    return name.empty() ? 0 : EVP_MD_get_type(digestByName(name));
}

}  // namespace secsf::prov
