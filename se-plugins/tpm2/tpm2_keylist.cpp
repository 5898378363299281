// Listing and deleting TPM keys, for `secsf key list|delete`: the persistent ones
// (wrapped key files live wherever their owner put them and are not searched for).
#include <unistd.h>

#include <cstdio>

#include "secsf/error.h"
#include "tpm2_key.h"
#include "tpm2_plugin.h"
#include "tpm2_uri.h"

namespace secsf::tpm2 {

void Plugin::checkAccess() { random(8); }

std::vector<KeyListing> Plugin::listKeys() {
    std::vector<uint32_t> handles;
    {
        Session s(cfg_);
        TPMI_YES_NO more = TPM2_YES;
        uint32_t next = TPM2_PERSISTENT_FIRST;
        while (more == TPM2_YES) {
            TPMS_CAPABILITY_DATA *cap = nullptr;
            s.check(Esys_GetCapability(s.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, next, 64,
                                       &more, &cap),
                    "listing the TPM's persistent handles");
            for (UINT32 i = 0; i < cap->data.handles.count; i++) {
                uint32_t h = cap->data.handles.handle[i];
                if (h != cfg_.parentHandle) handles.push_back(h);  // the storage key is not a user key
                next = h + 1;
            }
            Esys_Free(cap);
        }
    }
    std::vector<KeyListing> out;
    for (uint32_t h : handles) {
        char uri[40];
        snprintf(uri, sizeof uri, "tpm2:handle=0x%08x", h);
        out.push_back(listingOf(*this, uri));
    }
    return out;
}

void Plugin::deleteKey(const std::string &text) {
    Uri u = Uri::parse(text);
    if (u.file) {
        find(text);  // it is a TPM key file, not any file
        if (unlink(u.file->c_str()) != 0) throw Error(Reason::DeviceError, "cannot remove TPM key file " + *u.file);
        return;
    }
    if (!u.handle) throw Error(Reason::BadUri, "a TPM key URI needs handle= or file=");
    if (*u.handle == cfg_.parentHandle) throw Error(Reason::BadInput, "the storage primary key is not deleted this way");
    forgetPersistent(cfg_.tcti, *u.handle);
    Session s(cfg_);
    ESYS_TR obj = s.persistent(*u.handle, "finding " + text);
    ESYS_TR out = ESYS_TR_NONE;
    s.check(Esys_EvictControl(s.esys(), ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, *u.handle,
                              &out),
            "removing the persistent key " + text);
    forgetPersistent(cfg_.tcti, *u.handle);
}

}  // namespace secsf::tpm2
