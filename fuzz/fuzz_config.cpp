// libFuzzer target for configuration values from openssl.cnf: security levels, TPM
// handles, function-levels lists, per-token PIN sources, module path lists and PIN
// sources. Each must be accepted or refused
// with secsf::Error(Config) — never crash, and a refusal never echoes control bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../pkcs11/pin.h"
#include "../se-plugins/config_values.h"
#include "secsf/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string in(reinterpret_cast<const char *>(data), size);
    auto refusedCleanly = [](const secsf::Error &e) {
        for (const char *p = e.what(); *p; ++p)
            if (*p == '\n' || *p == '\x1b') std::abort();
    };
    try {
        int l = secsf::parseSecurityLevel("k", in);
        if (l < 1 || l > 9) std::abort();
    } catch (const secsf::Error &e) {
        refusedCleanly(e);
    }
    try {
        uint32_t h = secsf::parsePersistentHandle("k", in);
        if (h < 0x81000000u || h > 0x81ffffffu) std::abort();
    } catch (const secsf::Error &e) {
        refusedCleanly(e);
    }
    try {
        for (auto &[name, level] : secsf::parseFunctionLevels("k", in))
            if (name.empty() || level < 1 || level > 9) std::abort();
    } catch (const secsf::Error &e) {
        refusedCleanly(e);
    }
    try {
        for (auto &[label, source] : secsf::parseTokenPinSources("k", in))
            if (label.empty() || source.empty() || label.size() > 32) std::abort();
    } catch (const secsf::Error &e) {
        refusedCleanly(e);
    }
    try {
        for (auto &path : secsf::parsePathList("k", in))
            if (path.empty() || path[0] != '/') std::abort();
    } catch (const secsf::Error &e) {
        refusedCleanly(e);
    }
    try {
        // Only the form is checked here: reading would touch files and variables.
        secsf::p11::PinSource s = secsf::p11::PinSource::fromSource(in);
        (void)s.describe();
    } catch (const secsf::Error &) {
    }
    return 0;
}
