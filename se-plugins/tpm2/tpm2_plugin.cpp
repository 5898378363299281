#include "tpm2_plugin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "secsf/bounded_file.h"
#include "secsf/error.h"
#include "tpm2_key.h"
#include "tpm2_uri.h"

namespace secsf::tpm2 {

namespace {

// A wrapped key file: magic, then TPM2B_PUBLIC and TPM2B_PRIVATE as the TPM made them.
const char kMagic[] = "SECSF-TPM2-KEY-1";

Bytes marshal(const TPM2B_PUBLIC &pub, const TPM2B_PRIVATE &priv) {
    Bytes out(sizeof kMagic + sizeof pub + sizeof priv);
    memcpy(out.data(), kMagic, sizeof kMagic);
    size_t off = sizeof kMagic;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &off) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, out.data(), out.size(), &off) != TSS2_RC_SUCCESS)
        throw Error(Reason::Generic, "cannot encode the TPM key blob");
    out.resize(off);
    return out;
}

void unmarshal(const Bytes &in, const std::string &path, TPM2B_PUBLIC &pub, TPM2B_PRIVATE &priv) {
    size_t off = sizeof kMagic;
    if (in.size() < off || memcmp(in.data(), kMagic, sizeof kMagic) != 0 ||
        Tss2_MU_TPM2B_PUBLIC_Unmarshal(in.data(), in.size(), &off, &pub) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_PRIVATE_Unmarshal(in.data(), in.size(), &off, &priv) != TSS2_RC_SUCCESS)
        throw Error(Reason::BadInput, path + " is not a secsf TPM key file");
}

p11::PinSource authOf(const Uri &u) {
    if (u.pinValue) return p11::PinSource::fromValue(*u.pinValue);
    if (u.pinSource) return p11::PinSource::fromSource(*u.pinSource);
    return {};
}

TPM2B_PUBLIC keyTemplate(const KeyGenRequest &req, bool withAuth) {
    TPM2B_PUBLIC pub{};
    TPMT_PUBLIC &p = pub.publicArea;
    p.nameAlg = TPM2_ALG_SHA256;
    // Unrestricted, sign and decrypt: one key serves ECDSA/ECDH or RSA sign/decrypt,
    // with the scheme chosen per operation.
    p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                         TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                         TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT;
    // Without an authorization value there is nothing to guess: such a key stays out
    // of the dictionary-attack protection, so that wrong values given for other keys
    // (or unclean TPM restarts) never lock it out.
    if (!withAuth) p.objectAttributes |= TPMA_OBJECT_NODA;
    if (req.type == KeyType::EC) {
        p.type = TPM2_ALG_ECC;
        auto &e = p.parameters.eccDetail;
        e.symmetric.algorithm = TPM2_ALG_NULL;
        e.scheme.scheme = TPM2_ALG_NULL;
        e.kdf.scheme = TPM2_ALG_NULL;
        std::string g = req.group;
        if (g == "P-256" || g == "prime256v1") e.curveID = TPM2_ECC_NIST_P256;
        else if (g == "P-384" || g == "secp384r1") e.curveID = TPM2_ECC_NIST_P384;
        else throw Error(Reason::Unsupported, "the TPM plug-in makes EC keys on P-256 and P-384, not " + g);
    } else if (req.type == KeyType::RSA) {
        p.type = TPM2_ALG_RSA;
        auto &r = p.parameters.rsaDetail;
        r.symmetric.algorithm = TPM2_ALG_NULL;
        r.scheme.scheme = TPM2_ALG_NULL;
        if (req.bits != 2048 && req.bits != 3072)
            throw Error(Reason::Unsupported, "the TPM plug-in makes RSA keys of 2048 (or 3072) bits");
        r.keyBits = (TPMI_RSA_KEY_BITS)req.bits;
        r.exponent = 0;
    } else {
        throw Error(Reason::Unsupported, "the TPM has no Ed25519 keys");
    }
    return pub;
}

// A TPM key blob is a few hundred bytes; 64 KiB is far above any.
Bytes readFile(const std::string &path) {
    std::string s = readBoundedFile(path, 64 * 1024, "TPM key file");
    return Bytes(s.begin(), s.end());
}

}  // namespace

Plugin::Plugin(Config cfg) : cfg_(std::move(cfg)) {
    if (cfg_.tcti.empty()) throw Error(Reason::Config, "SE '" + cfg_.name + "' has no tpm2-tcti");
    if (!cfg_.ownerAuthSource.empty()) p11::PinSource::fromSource(cfg_.ownerAuthSource);
}

SeInfo Plugin::info() {
    SeInfo i;
    i.device = "TPM 2.0 at " + cfg_.tcti;
    i.mechanisms = {"ECDSA", "RSASSA", "RSAPSS", "RSA-OAEP", "RSAES", "ECDH-ZGEN", "GETRANDOM"};
    i.curves = {"P-256", "P-384"};
    i.rsaMinBits = 2048;
    i.rsaMaxBits = 3072;
    return i;
}

Found Plugin::find(const std::string &text) {
    Uri u = Uri::parse(text);
    KeyRef ref;
    ref.auth = authOf(u);
    ref.pinSourceText = u.pinSource.value_or("");
    ref.label = u.label.value_or("");
    if (u.handle) {
        ref.handle = u.handle;
        forgetPersistent(cfg_.tcti, *u.handle);  // a lookup sees what is at the handle now
        Session s(cfg_);
        ESYS_TR h = ESYS_TR_NONE;
        char hs[16];
        snprintf(hs, sizeof hs, "0x%08x", *u.handle);
        s.check(Esys_TR_FromTPMPublic(s.esys(), *u.handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h),
                std::string("no key at TPM handle ") + hs);
        TPM2B_PUBLIC *pub = nullptr;
        s.check(Esys_ReadPublic(s.esys(), h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr, nullptr),
                std::string("reading the key at TPM handle ") + hs);
        ref.pub = *pub;
        Esys_Free(pub);
    } else if (u.file) {
        ref.file = u.file;
        unmarshal(readFile(*u.file), *u.file, ref.pub, ref.priv);
    } else {
        throw Error(Reason::BadUri, "a TPM key URI needs handle= or file=");
    }
    Found f;
    f.privateKey = std::make_shared<Key>(cfg_.name, cfg_, std::move(ref));
    return f;
}

std::shared_ptr<SeKey> Plugin::generate(const KeyGenRequest &req) {
    if (req.where.empty())
        throw Error(Reason::BadInput, "say where the TPM key goes: secsf.uri:tpm2:handle=0x81000010 "
                                      "or secsf.uri:tpm2:file=/path/key.tpm2");
    Uri u = Uri::parse(req.where);
    if (!u.handle && !u.file) throw Error(Reason::BadUri, "a TPM key URI needs handle= or file=");
    KeyRef ref;
    ref.auth = authOf(u);
    ref.pinSourceText = u.pinSource.value_or("");
    ref.label = !req.label.empty() ? req.label : u.label.value_or("");
    TPM2B_SENSITIVE_CREATE sens{};
    if (ref.auth.present()) {
        SecureString a = ref.auth.read();
        if (a.str().size() > sizeof sens.sensitive.userAuth.buffer)
            throw Error(Reason::BadInput, "authorization value too long");
        sens.sensitive.userAuth.size = (UINT16)a.str().size();
        memcpy(sens.sensitive.userAuth.buffer, a.str().data(), a.str().size());
    }
    TPM2B_PUBLIC tmpl = keyTemplate(req, sens.sensitive.userAuth.size > 0);
    if (u.file && access(u.file->c_str(), F_OK) == 0)
        throw Error(Reason::BadInput, "TPM key file " + *u.file + " exists; secsf does not overwrite keys");
    Session s(cfg_);
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE *priv = nullptr;
    TPM2B_PUBLIC *pub = nullptr;
    TSS2_RC rc = Esys_Create(s.esys(), s.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &sens, &tmpl, &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr);
    OPENSSL_cleanse(&sens, sizeof sens);
    s.check(rc, "creating a key in the TPM");
    ref.pub = *pub;
    ref.priv = *priv;
    Esys_Free(pub);
    Esys_Free(priv);
    if (u.handle) {
        ESYS_TR t = ESYS_TR_NONE, persistent = ESYS_TR_NONE;
        s.check(Esys_Load(s.esys(), s.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &ref.priv,
                          &ref.pub, &t),
                "loading the new key");
        s.flushLater(t);
        char hs[16];
        snprintf(hs, sizeof hs, "0x%08x", *u.handle);
        s.check(Esys_EvictControl(s.esys(), ESYS_TR_RH_OWNER, t, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, *u.handle, &persistent),
                std::string("persisting the key at ") + hs + " (is the handle taken?)");
        ref.handle = u.handle;
        ref.priv = TPM2B_PRIVATE{};
    } else {
        Bytes blob = marshal(ref.pub, ref.priv);
        int fd = open(u.file->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) throw Error(Reason::BadInput, "cannot create TPM key file " + *u.file);
        bool ok = write(fd, blob.data(), blob.size()) == (ssize_t)blob.size();
        ok = close(fd) == 0 && ok;
        if (!ok) throw Error(Reason::DeviceError, "cannot write TPM key file " + *u.file);
        ref.file = u.file;
    }
    return std::make_shared<Key>(cfg_.name, cfg_, std::move(ref));
}

Bytes Plugin::random(size_t n) {
    Session s(cfg_);
    Bytes out;
    while (out.size() < n) {
        TPM2B_DIGEST *r = nullptr;
        UINT16 want = (UINT16)std::min<size_t>(32, n - out.size());
        s.check(Esys_GetRandom(s.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, want, &r),
                "drawing random bytes from the TPM");
        out.insert(out.end(), r->buffer, r->buffer + r->size);
        Esys_Free(r);
    }
    return out;
}

std::shared_ptr<SeKey> Plugin::findSecret(const std::string &) {
    throw Error(Reason::Unsupported, "the TPM plug-in holds no HMAC keys yet");
}
std::shared_ptr<SeKey> Plugin::importSecret(const SecureBytes &, const std::string &, const std::string &) {
    throw Error(Reason::Unsupported, "the TPM plug-in holds no HMAC keys yet");
}
}  // namespace secsf::tpm2
