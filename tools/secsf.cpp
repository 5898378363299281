// secsf: the Security CSF's command line — Secure Environments, keys, secure
// storage, sensitive functions and a configuration check, from the same openssl.cnf
// section the provider reads.
#include <openssl/crypto.h>

#include <cstdio>
#include <cstring>

#include "cli.h"
#include "secsf/error.h"

namespace secsf::cli {

const char *helpText(const std::string &command) {
    if (command == "se")
        return "usage: secsf [--config FILE] [--json] se list\n"
               "\n"
               "Lists every Secure Environment the configuration declares: its plug-in (pkcs11,\n"
               "tpm2, pcsc-piv), device or token, security level (0-3, TS-0003 6.3), state\n"
               "(logged in, present, missing, with the reason), capabilities, the key types it\n"
               "makes, and whether SA key derivation stays inside it. The device is touched:\n"
               "a PKCS#11 token is logged in to, a TPM asked for random bytes, a card read.\n";
    if (command == "key")
        return "usage: secsf [--config FILE] [--json] [--as ENTITY] key gen  [--se NAME | --level N | --where URI]\n"
               "                                [--type ec|rsa|ed25519] [--curve P-256|P-384|P-521] [--bits N] [--label L]\n"
               "                                [--replace-certificate]\n"
               "       secsf ... key list   [--se NAME]\n"
               "       secsf ... key show   URI\n"
               "       secsf ... key delete URI [--yes]\n"
               "\n"
               "gen     makes a key pair inside an SE chosen by name, by minimum security level,\n"
               "        or by a URI naming the place (a token, tpm2:handle=..., piv:slot=9a) and\n"
               "        prints the key's URI, which every OpenSSL application accepts. A card slot\n"
               "        that holds a certificate is filled only with --replace-certificate (the\n"
               "        key there, if any, and the certificate are replaced).\n"
               "list    the keys of every SE (or of --se NAME): type, size and URI.\n"
               "show    the key's public half (PEM), type, SE, and whether a certificate is kept.\n"
               "delete  removes the key (and its public half and certificate); asks unless --yes.\n"
               "        On a PIV card the slot's certificate is removed: PIV cannot erase a key.\n";
    if (command == "storage")
        return "usage: secsf [--config FILE] [--json] [--as ENTITY] storage put    --owner ID NAME [--file F | --value TEXT] [--se NAME]\n"
               "       secsf ... storage get    --owner ID NAME [--out F] [--se NAME]\n"
               "       secsf ... storage list   --owner ID [--se NAME]\n"
               "       secsf ... storage delete --owner ID NAME [--se NAME]\n"
               "\n"
               "Secure storage: small data objects in an SE, each owned by an AE-ID or CSE-ID.\n"
               "The caller (--as ENTITY, else $SECSF_ENTITY, else the owner) is checked against the\n"
               "access policy first; a refusal names the rule (exit 3). put reads the data from\n"
               "--file, --value or standard input; get writes it to --out or standard output.\n";
    if (command == "functions")
        return "usage: secsf [--config FILE] [--json] functions\n"
               "\n"
               "The sensitive-function registry: each function's id, version, the security level\n"
               "it requires (configuration key function-levels, e.g. signature=2,secure-storage=3)\n"
               "and the SEs that serve it at that level.\n";
    if (command == "demo")
        return "usage: secsf demo [--module PATH/secsf.so] [--pkcs11-module PATH] [--dir DIR] [--keep]\n"
               "\n"
               "Runs the oneM2M security services end to end on this machine, every private key\n"
               "in a private SoftHSM token (made in DIR, default a new /tmp/secsf-demo.*) through\n"
               "the secsf provider: a MAF/MZF and two field nodes enrol, get session credentials\n"
               "and a token, establish a security association and exchange secured messages; a\n"
               "replayed and an altered message are refused; a node is reported for misbehaviour,\n"
               "its authorization disabled and its transmissions deactivated; its credential is\n"
               "revoked and its next message refused; the audit log verifies and an altered copy\n"
               "is caught. Prints who did what and the result of each step; exit status 0 only if\n"
               "every step behaved as stated. --module names secsf.so when it is not installed.\n";
    if (command == "audit")
        return "usage: secsf [--json] audit verify --key PUBLIC.pem LOG\n"
               "\n"
               "Checks an audit log (secsfd's, or one a service keeps): every record follows the\n"
               "one before it (a hash chain), no record was altered, removed or inserted, and\n"
               "every checkpoint is signed by the key whose public half is PUBLIC.pem. Prints\n"
               "the first record that does not fit. Exit status 0 when intact, 1 when not.\n";
    if (command == "check")
        return "usage: secsf [--config FILE] [--json] check\n"
               "\n"
               "Diagnoses the configuration: the file and secsf's section, unknown keys, whether\n"
               "OpenSSL can load the provider, each PIN source, each SE (module, token, login;\n"
               "TPM; reader and card) and its mechanisms. One line per finding; each problem\n"
               "comes with its fix. Exit status 0 when nothing is wrong, 1 otherwise.\n";
    return "usage: secsf [--config FILE] [--json] [--as ENTITY] COMMAND ...\n"
           "\n"
           "The oneM2M Security CSF on this machine: Secure Environments (PKCS#11 tokens and\n"
           "HSMs, TPM 2.0, PIV cards), the keys and data they keep, and the sensitive\n"
           "functions they serve, as declared in the secsf section of openssl.cnf.\n"
           "\n"
           "commands:\n"
           "  se list              the Secure Environments, their state and capabilities\n"
           "  key gen|list|show|delete   keys inside the SEs\n"
           "  storage put|get|list|delete --owner ID   owner-tagged secure storage\n"
           "  functions            the sensitive functions and which SE serves each\n"
           "  check                diagnose the configuration, with a fix for each problem\n"
           "  demo                 the security services end to end, keys in a private token\n"
           "  audit verify         check an audit log (secsfd's or a service's)\n"
           "\n"
           "options:\n"
           "  --config FILE   the openssl.cnf to read (default: $OPENSSL_CONF, else OpenSSL's own)\n"
           "  --json          machine-readable output\n"
           "  --as ENTITY     the AE-ID or CSE-ID the access policy checks (default: $SECSF_ENTITY);\n"
           "                  through secsfd, sent as X-M2M-Origin and refused unless it is you\n"
           "  --direct        use the SEs themselves even where secsfd-socket is configured\n"
           "  --help          this text; `secsf COMMAND --help` for a command\n"
           "  --version       the version\n"
           "\n"
           "configuration keys (secsf's section): pkcs11-module-path, pkcs11-token,\n"
           "pkcs11-pin-source, pkcs11-token-pin-sources, pkcs11-allowed-modules, tpm2-tcti,\n"
           "tpm2-auth-sources, pcsc-reader, pcsc-pin-source,\n"
           "pcsc-management-key-source, default-se, access-policy, access-policy-signer,\n"
           "function-levels, and the *-se-name / *-security-level of each SE (see secsf(1)).\n"
           "With secsfd-socket set, se list, functions, key and storage go through secsfd,\n"
           "as the caller the kernel identifies (keys are then named: key gen --label NAME,\n"
           "key show|delete NAME).\n"
           "\n"
           "exit status: 0 success, 1 failure (reason on standard error), 2 usage, 3 refused by\n"
           "the access policy.\n";
}

}  // namespace secsf::cli

namespace secsf::cli {
namespace {
// An error as the user asked for output: a sentence on stderr, or with --json one
// JSON object {"error", "kind", "command"} on stdout that a script can parse.
int report(const Context &c, const std::string &cmd, const char *kind, const std::string &what, int rc) {
    if (c.json) {
        printf("%s\n", Json{{"error", what}, {"kind", kind}, {"command", cmd}, {"exit", rc}}.dump().c_str());
    } else {
        fprintf(stderr, "secsf %s: %s%s\n", cmd.c_str(), std::string(kind) == "denied" ? "refused: " : "", what.c_str());
    }
    return rc;
}
}  // namespace
}  // namespace secsf::cli

int main(int argc, char **argv) {
    using namespace secsf::cli;
    // Read the configuration ourselves: OpenSSL must not load secsf into this process.
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    Context c;
    Args args(argv + 1, argv + argc);
    size_t i = 0;
    for (; i < args.size() && args[i].compare(0, 2, "--") == 0; i++) {
        const std::string &a = args[i];
        if (a == "--json") c.json = true;
        else if (a == "--direct") c.direct = true;
        else if (a == "--help") return printf("%s", helpText("")), kOk;
        else if (a == "--version") return printf("secsf %s\n", PACKAGE_VERSION), kOk;
        else if ((a == "--config" || a == "--as") && i + 1 < args.size()) (a == "--config" ? c.configPath : c.entity) = args[++i];
        else return fprintf(stderr, "secsf: unknown option %s\n%s", a.c_str(), helpText("")), kUsage;
    }
    if (i == args.size()) return fprintf(stderr, "%s", helpText("")), kUsage;
    std::string cmd = args[i];
    Args rest(args.begin() + (long)i + 1, args.end());
    for (auto &r : rest)
        if (r == "--help") return printf("%s", helpText(cmd)), kOk;
    try {
        if (cmd == "demo") return cmdDemo(c, rest);  // brings its own configuration
        if (cmd == "audit") return cmdAudit(c, rest);  // needs only the log and a public key
        if (cmd == "check") c.direct = true;  // diagnoses the SEs themselves
        try {
            c.load();
        } catch (const secsf::Error &e) {
            if (cmd != "check") throw;
            printf("PROBLEM  configuration: %s\n         fix: %s\n", e.what(),
                   "point --config or OPENSSL_CONF at the openssl.cnf that loads secsf (conf/openssl-secsf.cnf is a sample)");
            return kFailed;
        }
        if (cmd == "se") return cmdSe(c, rest);
        if (cmd == "key") return cmdKey(c, rest);
        if (cmd == "storage") return cmdStorage(c, rest);
        if (cmd == "functions") return cmdFunctions(c, rest);
        if (cmd == "check") return cmdCheck(c, rest);
        fprintf(stderr, "secsf: unknown command '%s'\n%s", cmd.c_str(), helpText(""));
        return kUsage;
    } catch (const UsageError &e) {
        if (c.json) return report(c, cmd, "usage", e.what(), kUsage);
        fprintf(stderr, "secsf %s: %s\n%s", cmd.c_str(), e.what(), helpText(cmd));
        return kUsage;
    } catch (const Denied &e) {
        return report(c, cmd, "denied", e.what(), kDenied);
    } catch (const secsf::Error &e) {
        return report(c, cmd, "failed", e.what(), kFailed);
    } catch (const std::exception &e) {
        return report(c, cmd, "failed", e.what(), kFailed);
    }
}
