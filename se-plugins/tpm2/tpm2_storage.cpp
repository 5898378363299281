// Secure storage on the TPM: each object is a TPM-sealed data blob (keyedHash
// object under the storage key), kept in tpm2-storage-dir/<owner>/<name>.sealed.
// Only this TPM can unseal it; one owner's directory is invisible to another
// through this interface. The TPM seals at most 128 bytes per object.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "secsf/bounded_file.h"
#include "secsf/error.h"
#include "secsf/identifier.h"
#include "tpm2_plugin.h"

namespace secsf::tpm2 {

namespace {

const char kMagic[] = "SECSF-TPM2-SEALED-1";
constexpr size_t kMaxSealed = 128;  // MAX_SYM_DATA of the TPM 2.0 spec (the TSS buffer is larger)

std::string hexName(const std::string &s) {
    static const char *d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

std::string unhex(const std::string &h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out += (char)std::stoi(h.substr(i, 2), nullptr, 16);
    return out;
}

}  // namespace

std::string Plugin::storagePath(const std::string &owner, const std::string *name) const {
    if (cfg_.storageDir.empty())
        throw Error(Reason::Config, "secure storage on the TPM needs tpm2-storage-dir in the configuration");
    if (owner.empty()) throw Error(Reason::BadInput, "secure storage needs an owner (AE-ID or CSE-ID)");
    checkIdentifier("owner id", owner);
    std::string dir = cfg_.storageDir + "/" + hexName(owner);
    if (!name) return dir;
    if (name->empty()) throw Error(Reason::BadInput, "a stored object needs a name");
    checkIdentifier("stored object's name", *name);
    return dir + "/" + hexName(*name) + ".sealed";
}

void Plugin::storagePut(const std::string &owner, const std::string &name, const Bytes &data) {
    checkStorageName(name);
    std::string path = storagePath(owner, &name);
    TPM2B_SENSITIVE_CREATE sens{};
    if (data.size() > kMaxSealed)
        throw Error(Reason::BadInput, "the TPM seals objects of up to " + std::to_string(kMaxSealed) + " bytes");
    sens.sensitive.data.size = (UINT16)data.size();
    memcpy(sens.sensitive.data.buffer, data.data(), data.size());
    TPM2B_PUBLIC tmpl{};
    tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
    tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
    tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
                                       TPMA_OBJECT_NODA;  // no authorization value: nothing to guess
    tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    Session s(cfg_);
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE *priv = nullptr;
    TPM2B_PUBLIC *pub = nullptr;
    TSS2_RC rc = Esys_Create(s.esys(), s.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                             &tmpl, &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr);
    OPENSSL_cleanse(&sens, sizeof sens);
    s.check(rc, "sealing '" + name + "' in the TPM");
    Bytes blob(sizeof kMagic + sizeof *pub + sizeof *priv);
    memcpy(blob.data(), kMagic, sizeof kMagic);
    size_t off = sizeof kMagic;
    bool ok = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, blob.data(), blob.size(), &off) == TSS2_RC_SUCCESS &&
              Tss2_MU_TPM2B_PRIVATE_Marshal(priv, blob.data(), blob.size(), &off) == TSS2_RC_SUCCESS;
    Esys_Free(pub);
    Esys_Free(priv);
    if (!ok) throw Error(Reason::Generic, "cannot encode the sealed object");
    blob.resize(off);
    mkdir(cfg_.storageDir.c_str(), 0700);
    mkdir(storagePath(owner, nullptr).c_str(), 0700);
    // Write beside, then rename: a crash leaves the old object or the new one.
    std::string tmp = path + ".new";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw Error(Reason::Config, "cannot write in " + cfg_.storageDir);
    ok = write(fd, blob.data(), blob.size()) == (ssize_t)blob.size();
    ok = fsync(fd) == 0 && ok;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
        unlink(tmp.c_str());
        throw Error(Reason::DeviceError, "cannot store '" + name + "' in " + cfg_.storageDir);
    }
}

Bytes Plugin::storageGet(const std::string &owner, const std::string &name) {
    std::string path = storagePath(owner, &name);
    if (access(path.c_str(), F_OK) != 0)
        throw Error(Reason::NotFound, "owner '" + owner + "' has no stored object '" + name + "'");
    std::string text = readBoundedFile(path, 64 * 1024, "the sealed object");
    Bytes blob(text.begin(), text.end());
    TPM2B_PUBLIC pub{};
    TPM2B_PRIVATE priv{};
    size_t off = sizeof kMagic;
    if (blob.size() < off || memcmp(blob.data(), kMagic, sizeof kMagic) != 0 ||
        Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob.data(), blob.size(), &off, &pub) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob.data(), blob.size(), &off, &priv) != TSS2_RC_SUCCESS)
        throw Error(Reason::BadInput, path + " is not a sealed secsf object");
    Session s(cfg_);
    ESYS_TR h = ESYS_TR_NONE;
    s.check(Esys_Load(s.esys(), s.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &h),
            "loading the sealed object '" + name + "'");
    s.flushLater(h);
    TPM2B_SENSITIVE_DATA *data = nullptr;
    s.check(Esys_Unseal(s.esys(), h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data),
            "unsealing '" + name + "'");
    Bytes out(data->buffer, data->buffer + data->size);
    OPENSSL_cleanse(data, sizeof *data);
    Esys_Free(data);
    return out;
}

bool Plugin::storageDelete(const std::string &owner, const std::string &name) {
    return unlink(storagePath(owner, &name).c_str()) == 0;
}

std::vector<std::string> Plugin::storageList(const std::string &owner) {
    std::vector<std::string> names;
    DIR *d = opendir(storagePath(owner, nullptr).c_str());
    if (!d) return names;
    while (dirent *e = readdir(d)) {
        std::string f = e->d_name;
        const std::string ext = ".sealed";
        if (f.size() > ext.size() && f.compare(f.size() - ext.size(), ext.size(), ext) == 0)
            names.push_back(unhex(f.substr(0, f.size() - ext.size())));
    }
    closedir(d);
    return names;
}

}  // namespace secsf::tpm2
