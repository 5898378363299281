#include "registry_config.h"

#include "config_values.h"
#include "pcsc/piv_plugin.h"
#include "pkcs11/pkcs11_plugin.h"
#include "tpm2/tpm2_plugin.h"

namespace secsf {

const std::vector<std::string> &configKeys() {
    static const std::vector<std::string> keys = {
        "pkcs11-module-path", "pkcs11-token", "pkcs11-pin-source", "pkcs11-token-pin-sources",
        "pkcs11-allowed-modules", "pkcs11-se-name", "pkcs11-security-level",
        "tpm2-tcti", "tpm2-se-name", "tpm2-parent-handle", "tpm2-owner-auth-source", "tpm2-lock-file", "tpm2-lock-timeout",
        "tpm2-storage-dir", "tpm2-auth-sources", "tpm2-security-level", "pcsc-reader", "pcsc-pin-source", "pcsc-management-key-source",
        "pcsc-management-key-alg", "pcsc-se-name", "pcsc-security-level", "default-se", "access-policy",
        "access-policy-signer", "function-levels",
        // secsfd's own (daemon/secsfd.cpp)
        "secsfd-socket", "secsfd-socket-mode", "secsfd-callers", "secsfd-max-connections", "secsfd-max-header-bytes",
        "secsfd-max-body-bytes", "secsfd-request-timeout", "secsfd-threads", "secsfd-state-dir", "secsfd-audit-log", "secsfd-audit-key",
        "secsfd-tls-listen", "secsfd-tls-key", "secsfd-tls-certificate", "secsfd-tls-client-ca"};
    return keys;
}

void configureRegistry(SeRegistry &registry, const ConfigGetter &get) {
    auto levelOf = [&](const char *key) { return parseSecurityLevel(key, get(key)); };
    Pkcs11Config pc;
    pc.modulePath = get("pkcs11-module-path");
    pc.token = get("pkcs11-token");
    pc.pinSource = get("pkcs11-pin-source");
    pc.tokenPinSources = parseTokenPinSources("pkcs11-token-pin-sources", get("pkcs11-token-pin-sources"));
    pc.allowedModules = parsePathList("pkcs11-allowed-modules", get("pkcs11-allowed-modules"));
    if (!get("pkcs11-se-name").empty()) pc.name = get("pkcs11-se-name");
    if (!get("pkcs11-security-level").empty()) pc.securityLevel = levelOf("pkcs11-security-level");
    if (!pc.modulePath.empty()) registry.add(std::make_shared<Pkcs11Plugin>(pc));

    tpm2::Config tc;
    tc.tcti = get("tpm2-tcti");
    if (!get("tpm2-se-name").empty()) tc.name = get("tpm2-se-name");
    if (!get("tpm2-parent-handle").empty())
        tc.parentHandle = parsePersistentHandle("tpm2-parent-handle", get("tpm2-parent-handle"));
    tc.ownerAuthSource = get("tpm2-owner-auth-source");
    tc.lockFile = get("tpm2-lock-file");
    if (!get("tpm2-lock-timeout").empty()) tc.lockTimeout = parseSeconds("tpm2-lock-timeout", get("tpm2-lock-timeout"));
    tc.storageDir = get("tpm2-storage-dir");
    tc.authSources = parseList(get("tpm2-auth-sources"));
    if (!get("tpm2-security-level").empty()) tc.securityLevel = levelOf("tpm2-security-level");
    if (!tc.tcti.empty()) registry.add(std::make_shared<tpm2::Plugin>(tc));

    // The card SE is there when a reader is named (a pattern; "*" takes any reader).
    pcsc::Config cc;
    cc.reader = get("pcsc-reader");
    cc.pinSource = get("pcsc-pin-source");
    cc.mgmtKeySource = get("pcsc-management-key-source");
    cc.mgmtKeyAlg = get("pcsc-management-key-alg");
    if (!get("pcsc-se-name").empty()) cc.name = get("pcsc-se-name");
    if (!get("pcsc-security-level").empty()) cc.securityLevel = levelOf("pcsc-security-level");
    if (!cc.reader.empty()) registry.add(std::make_shared<pcsc::Plugin>(cc));

    registry.setDefault(get("default-se"));
}

}  // namespace secsf
