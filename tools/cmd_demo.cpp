// secsf demo: the oneM2M security services end to end on one machine, with every
// private key in a private SoftHSM token through the secsf provider — a MAF/MZF, an
// IN-CSE and two field nodes. Prints who did what and what came of it; exits 0 only
// if every step behaved as stated.
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "../services/access_tokens.h"
#include "../services/audit_log.h"
#include "../services/credentials.h"
#include "../services/messages.h"
#include "../services/misbehaviour.h"
#include "../services/security_association.h"
#include "../services/transmission_control.h"
#include "cli.h"
#include "secsf/error.h"

namespace secsf::cli {

namespace {

using namespace secsf::svc;

struct Transcript {
    int failed = 0, n = 0;
    void step(const std::string &who, const std::string &what, bool asStated, const std::string &result) {
        n++;
        if (!asStated) failed++;
        printf("%2d. %-9s %-58s %s%s\n", n, who.c_str(), what.c_str(), asStated ? "" : "UNEXPECTED: ", result.c_str());
        fflush(stdout);
    }
};

std::string sh(const std::string &cmd) {
    if (std::system(cmd.c_str()) != 0) throw Error(Reason::Config, "demo setup failed: " + cmd);
    return "";
}

JoseKey tokenKey(const std::string &label) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, "EC", "provider=secsf");
    EVP_PKEY *k = nullptr;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
                      OSSL_PARAM_construct_utf8_string("secsf.label", (char *)label.c_str(), 0), OSSL_PARAM_construct_end()};
    if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_CTX_set_params(c, p) <= 0 || EVP_PKEY_generate(c, &k) <= 0) {
        EVP_PKEY_CTX_free(c);
        throw Error(Reason::DeviceError, "generating " + label + " in the token failed");
    }
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    return JoseKey::load("pkcs11:token=demo;object=" + label + ";type=private");
}

template <class F> std::string refusal(F f) {
    try {
        f();
    } catch (const Rejected &r) {
        return r.cause();
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

}  // namespace

int cmdDemo(Context &c, const Args &a) {
    Options o = parseOptions(a, {"module", "pkcs11-module", "dir"}, {"keep"});
    // The PIN file, the token and the services' state are secrets: owner only.
    umask(077);
    std::string dir = o.get("dir");
    if (dir.empty()) {
        char tmpl[] = "/tmp/secsf-demo.XXXXXX";
        if (!mkdtemp(tmpl)) throw Error(Reason::Config, "cannot make a work directory");
        dir = tmpl;
    }
    sh("mkdir -p '" + dir + "/tokens'");
    std::string p11 = o.get("pkcs11-module", "/usr/lib/softhsm/libsofthsm2.so");
    std::string module = o.get("module");
    // A private SoftHSM token, and a configuration that loads secsf with it.
    {
        std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << dir << "/tokens\nobjectstore.backend = file\nlog.level = ERROR\n";
        std::ofstream(dir + "/demo.pin") << "4711\n";
        std::ofstream cnf(dir + "/openssl.cnf");
        cnf << "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\n"
            << "default = default_sect\nsecsf = secsf_sect\n[default_sect]\nactivate = 1\n[secsf_sect]\n"
            << (module.empty() ? "" : "module = " + module + "\n") << "activate = 1\npkcs11-module-path = " << p11
            << "\npkcs11-token = demo\npkcs11-pin-source = file:" << dir << "/demo.pin\n";
    }
    setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
    sh("OPENSSL_CONF=/dev/null softhsm2-util --init-token --free --label demo "
       "--so-pin 87654321 --pin 4711 >/dev/null");
    setenv("OPENSSL_CONF", (dir + "/openssl.cnf").c_str(), 1);
    if (OSSL_LIB_CTX_load_config(nullptr, (dir + "/openssl.cnf").c_str()) != 1 || !OSSL_PROVIDER_available(nullptr, "secsf"))
        throw Error(Reason::Config, "the secsf provider does not load (give --module PATH/secsf.so for a build tree)");

    Transcript t;
    int64_t now = std::time(nullptr);
    Clock clock = [&now] { return now; };
    printf("secsf demo: a MAF/MZF, an IN-CSE and two field nodes; every key in SoftHSM token 'demo'\n\n");
    JoseKey mafKey = tokenKey("maf"), mzfKey = tokenKey("mzf"), inKey = tokenKey("in-cse");
    JoseKey keyA = tokenKey("node-a"), keyB = tokenKey("node-b");
    t.step("token", "MAF, MZF, IN-CSE, node A and node B keys generated", true, "5 keys, none leaves the token");

    auto mafRepo = openSqliteRepository(dir + "/maf.db"), mzfRepo = openSqliteRepository(dir + "/mzf.db");
    auto repoA = openSqliteRepository(dir + "/node-a.db"), repoB = openSqliteRepository(dir + "/node-b.db");
    CredentialAuthority maf({"maf.sp.example", mafKey, "node", 3, 86400, 120, 300, clock}, *mafRepo);
    Mzf mzf({"mzf.sp.example", mzfKey, maf.publicKey(), "maf.sp.example", 4, 600, 300, clock}, *mzfRepo);
    maf.enrol("node-A", keyA);
    maf.enrol("node-B", keyB);
    CredentialHolder holderA({"node-A", "maf.sp.example", "node", keyA, maf.publicKey(), 300, clock}, *repoA);
    CredentialHolder holderB({"node-B", "maf.sp.example", "node", keyB, maf.publicKey(), 300, clock}, *repoB);
    auto enrol = [&](CredentialHolder &h) {
        return h.onSessionResponse(maf.handle(h.onEnrolmentChallenge(maf.handle(h.startEnrolment()))));
    };
    EnrolResult ea = enrol(holderA), eb = enrol(holderB);
    t.step("node A", "enrols with the MAF (mutual challenge, signed and encrypted)", ea.accepted,
           std::to_string(ea.credentials.size()) + " session credentials");
    t.step("node B", "enrols with the MAF", eb.accepted, std::to_string(eb.credentials.size()) + " session credentials");
    HeldCredential ca = ea.credentials.at(0), cb = eb.credentials.at(0);

    TokenClient clientA(keyA, clock);
    std::string ticket = clientA.onResponse(mzf.handle(clientA.request(ca, {"node-B"})), mzf.publicKey()).at(0);
    t.step("node A", "gets an access-control token for node B from the MZF", !ticket.empty(), "JWT, expires in 600 s");

    LocalAuthorization authzB(mzf.publicKey(), "mzf.sp.example", *repoB, clock);
    SaConfig cfgA{ca, keyA, maf.publicKey(), "maf.sp.example", nullptr, "", {kSuiteEcdhGcm}, true, 300, 300, 100000, clock};
    SaConfig cfgB{cb, keyB, maf.publicKey(), "maf.sp.example", &authzB, "node-B", {kSuiteEcdhGcm}, true, 300, 300, 100000, clock};
    SecurityAssociations saA(cfgA), saB(cfgB);
    std::string saId = saA.onEstablished(saB.handle(saA.onAccept(saB.handle(saA.initiate(cb.id, ticket)))));
    t.step("A <-> B", "establish a security association (ECDH in the token)", saA.info(saId).valid && saB.info(saId).valid,
           "SA " + saId.substr(0, 8) + "..., AES-256-GCM each way");

    AuditLog auditB(dir + "/node-b-audit.log", keyB, 5, clock);
    std::string m1 = saA.seal(saId, {{"op", "notify"}, {"temp", 21.5}});
    Json got = saB.open(m1);
    auditB.append({"in", ca.id, "SecureMessage", toBytes(m1), "accepted"});
    t.step("A -> B", "secured message", got.value("temp", 0.0) == 21.5, "opened: temp 21.5");
    std::string m2 = saB.seal(saId, "ack");
    t.step("B -> A", "secured answer", saA.open(m2) == Json("ack"), "opened: ack");

    std::string why = refusal([&] { saB.open(m1); });
    auditB.append({"in", ca.id, "SecureMessage", toBytes(m1), "rejected: " + why});
    t.step("A -> B", "the same message replayed", why == cause::kReplayed, "refused: " + why);
    std::string m3 = saA.seal(saId, {{"op", "update"}, {"valve", "open"}});
    std::string tampered = m3;
    tampered[tampered.size() - 30] = tampered[tampered.size() - 30] == 'A' ? 'B' : 'A';
    why = refusal([&] { saB.open(tampered); });
    auditB.append({"in", ca.id, "SecureMessage", toBytes(tampered), "rejected: " + why});
    t.step("A -> B", "a message altered on the way", why == cause::kDecryptionFailure, "refused: " + why);

    MisbehaviourDesk desk([&](const std::string &who) -> std::optional<JoseKey> {
        if (who == "node-B") return keyB.publicKey();
        return std::nullopt;
    }, clock);
    MisbehaviourReport report = desk.receive(reportMisbehaviour(keyB, "node-B", ca.id, "tampered messages", toBytes(tampered), clock));
    auditB.append({"out", "mzf.sp.example", "MisbehaviourReport", toBytes(report.reason), "sent"});
    t.step("node B", "reports node A for misbehaviour", report.suspect == ca.id, "received by the infrastructure");
    authzB.apply(mzf.publishStatus(ca.id, "disabled", now + 3600));
    why = refusal([&] { authzB.validate(ticket, "node-B"); });
    t.step("MZF", "disables node A's authorization; B applies it", why == cause::kAuthorizationDisabled,
           "A's token refused at B: " + why);
    why = refusal([&] { clientA.onResponse(mzf.handle(clientA.request(ca, {"node-B"})), mzf.publicKey()); });
    t.step("node A", "asks the MZF for a new token", why == cause::kAuthorizationDisabled, "refused: " + why);

    TransmissionControl controlA("node-A", inKey.publicKey(), clock);
    auto r = controlA.apply(transmissionCommand(inKey, "node-A", false, {}, 1, clock));
    t.step("IN-CSE", "deactivates node A's transmissions", r.obeyed && !controlA.allowed("telemetry"),
           r.obeyed ? "node A checked the command and stopped sending" : r.why);

    auto toA = [&](const Bytes &n) { return holderA.onRevocation(n, [&](const std::string &id) { saA.removeForCredential(id); }).successful; };
    auto toB = [&](const Bytes &n) {
        // B hears of it through the infrastructure and drops what it shares with that credential.
        return saB.removeForCredential(ca.id) >= 0;
    };
    auto toMzf = [&](const Bytes &n) { return mzf.onRevocation(n); };
    RemovalResult rm = maf.removeCredential(ca.id, {toMzf, toA, toB});
    t.step("MAF", "revokes node A's session credential and distributes it", rm.accepted, "MZF, node A and node B told");
    std::string m4 = saA.info(saId).valid ? saA.seal(saId, "still here?") : m3;
    why = refusal([&] { saB.open(m4); });
    auditB.append({"in", ca.id, "SecureMessage", toBytes(m4), "rejected: " + why});
    t.step("A -> B", "node A's next message", why == cause::kSaInvalid, "refused: " + why);
    auditB.checkpoint();

    AuditVerdict v = AuditLog::verify(dir + "/node-b-audit.log", keyB.publicKey());
    t.step("auditor", "verifies node B's audit log (chain + signed checkpoints)", v.intact,
           std::to_string(v.records) + " records, " + std::to_string(v.checkpoints) + " checkpoints, intact");
    {
        std::ifstream in(dir + "/node-b-audit.log");
        std::ofstream out(dir + "/node-b-audit.altered.log");
        std::string line;
        for (int i = 1; std::getline(in, line); i++) {
            if (i == 3) {
                size_t at = line.find("rejected");
                if (at != std::string::npos) line.replace(at, 8, "accepted");
            }
            out << line << "\n";
        }
    }
    v = AuditLog::verify(dir + "/node-b-audit.altered.log", keyB.publicKey());
    t.step("auditor", "checks a copy where record 3 was altered", !v.intact && v.firstBadRecord == 3, "caught: " + v.why);

    printf("\n%s: %d steps, %d unexpected\n", t.failed ? "demo FAILED" : "demo: OK", t.n, t.failed);
    if (!o.has("keep") && o.get("dir").empty()) std::system(("rm -rf '" + dir + "'").c_str());
    (void)c;
    return t.failed ? kFailed : kOk;
}

}  // namespace secsf::cli
