// Key URIs for the TPM, in the shape of RFC 7512 so that users learn one form:
//   tpm2:handle=0x81000010;object=node-key?pin-source=file:/etc/secsf/key.auth
//   tpm2:file=%2Fvar%2Flib%2Fsecsf%2Fnode.tpm2key;object=node-key?pin-value=1234
// handle= names a persistent key, file= a key wrapped by the TPM and kept on disk
// (its public and private blob, useless without this TPM). object= is a label for
// people; pin-source / pin-value give the key's authorization value.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace secsf::tpm2 {

struct Uri {
    std::optional<uint32_t> handle;
    std::optional<std::string> file;
    std::optional<std::string> label;
    std::optional<std::string> pinSource, pinValue;

    // Throws Error(BadUri) with a sentence.
    static Uri parse(const std::string &text);
    std::string format() const;  // without pin-value
};

}  // namespace secsf::tpm2
