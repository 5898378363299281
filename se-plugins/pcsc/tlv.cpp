#include "tlv.h"

#include "secsf/error.h"

namespace secsf::pcsc {

Bytes tlv(unsigned tag, const Bytes &value) {
    Bytes out;
    if (tag > 0xFFFF) out.push_back((unsigned char)(tag >> 16));
    if (tag > 0xFF) out.push_back((unsigned char)(tag >> 8));
    out.push_back((unsigned char)tag);
    size_t n = value.size();
    if (n >= 0x10000) out.insert(out.end(), {0x83, (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n});
    else if (n >= 0x100) out.insert(out.end(), {0x82, (unsigned char)(n >> 8), (unsigned char)n});
    else if (n >= 0x80) out.insert(out.end(), {0x81, (unsigned char)n});
    else out.push_back((unsigned char)n);
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

std::optional<Bytes> findTlv(const Bytes &in, unsigned want) {
    auto bad = [] { return Error(Reason::DeviceError, "the card's answer is not well-formed TLV"); };
    size_t i = 0;
    while (i < in.size()) {
        if (in[i] == 0x00 || in[i] == 0xFF) {  // padding between objects
            i++;
            continue;
        }
        unsigned tag = in[i++];
        if ((tag & 0x1F) == 0x1F) {  // multi-byte tag
            for (int k = 0; k < 2; k++) {
                if (i >= in.size()) throw bad();
                tag = tag << 8 | in[i];
                if (!(in[i++] & 0x80)) break;
            }
        }
        if (i >= in.size()) throw bad();
        size_t len = in[i++];
        if (len & 0x80) {
            size_t k = len & 0x7F;
            if (k == 0 || k > 3 || i + k > in.size()) throw bad();
            len = 0;
            while (k--) len = len << 8 | in[i++];
        }
        if (len > in.size() - i) throw bad();
        if (tag == want) return Bytes(in.begin() + (long)i, in.begin() + (long)(i + len));
        i += len;
    }
    return std::nullopt;
}

}  // namespace secsf::pcsc
