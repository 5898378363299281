// libFuzzer target for what a smart card sends back: BER-TLV answers (the PIV
// templates 7C/7F49/53 and what is inside them) and ATRs. A hostile or broken
// card must get a clean secsf::Error, never a crash or an out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../se-plugins/pcsc/tlv.h"
#include "../se-plugins/pcsc/transport.h"
#include "secsf/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::vector<unsigned char> in(data, data + size);
    for (unsigned tag : {0x7Cu, 0x82u, 0x7F49u, 0x53u, 0x70u, 0x5FC105u}) {
        try {
            auto v = secsf::pcsc::findTlv(in, tag);
            if (v) (void)secsf::pcsc::findTlv(*v, 0x82);
        } catch (const secsf::Error &) {
        }
    }
    (void)secsf::pcsc::atrSaysExtendedLength(in);
    return 0;
}
