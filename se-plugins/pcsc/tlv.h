// BER-TLV as smart cards use it (ISO 7816-4 annex D): tags of one to three bytes,
// definite lengths up to 0x83. Parsing checks every length against the buffer:
// card responses are outside input.
#pragma once
#include <optional>
#include <vector>

namespace secsf::pcsc {

using Bytes = std::vector<unsigned char>;

Bytes tlv(unsigned tag, const Bytes &value);
// The value of the first top-level TLV with this tag; nullopt if there is none.
// Throws Error(DeviceError) when the buffer is not well-formed TLV.
std::optional<Bytes> findTlv(const Bytes &in, unsigned tag);

}  // namespace secsf::pcsc
