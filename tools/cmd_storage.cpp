// secsf storage put|get|list|delete --owner ID: owner-tagged data objects in an SE,
// checked against the access policy before anything is touched.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli.h"
#include "secsf/error.h"

namespace secsf::cli {

int cmdStorage(Context &c, const Args &a) {
    if (a.empty()) throw UsageError("secsf storage put|get|list|delete --owner ID ...");
    std::string op = a[0];
    Options o = parseOptions(Args(a.begin() + 1, a.end()), {"owner", "se", "file", "value", "out"}, {});
    std::string owner = o.get("owner");
    if (owner.empty()) throw UsageError("--owner ID is required: every stored object belongs to an AE-ID or CSE-ID");
    if (!c.registryError.empty()) throw Error(Reason::Config, c.registryError);
    SePlugin &se = o.has("se") ? c.registry.byName(o.get("se")) : c.registry.able(CapStorage, "store data");
    if (op == "list") {
        c.authorize("storage.list", owner + "/*", owner);
        auto names = se.storageList(owner);
        if (c.json) printf("%s\n", Json(names).dump(2).c_str());
        else
            for (auto &n : names) printf("%s\n", n.c_str());
        return kOk;
    }
    if (o.rest.size() != 1) throw UsageError("secsf storage " + op + " --owner ID NAME");
    const std::string &name = o.rest[0];
    c.authorize("storage." + op, owner + "/" + name, owner);
    if (op == "put") {
        Bytes data;
        if (o.has("value")) {
            std::string v = o.get("value");
            data.assign(v.begin(), v.end());
        } else {
            std::string file = o.get("file", "-");
            if (file == "-") {
                data.assign(std::istreambuf_iterator<char>(std::cin), {});
            } else {
                std::ifstream f(file, std::ios::binary);
                if (!f) throw Error(Reason::BadInput, "cannot read " + file);
                data.assign(std::istreambuf_iterator<char>(f), {});
            }
        }
        se.storagePut(owner, name, data);
        if (!c.json) fprintf(stderr, "stored %zu bytes as %s/%s in %s\n", data.size(), owner.c_str(), name.c_str(), se.name().c_str());
        return kOk;
    }
    if (op == "get") {
        Bytes data = se.storageGet(owner, name);
        std::string out = o.get("out", "-");
        if (out == "-") {
            fwrite(data.data(), 1, data.size(), stdout);
        } else {
            std::ofstream f(out, std::ios::binary | std::ios::trunc);
            f.write((const char *)data.data(), (std::streamsize)data.size());
            if (!f) throw Error(Reason::BadInput, "cannot write " + out);
        }
        return kOk;
    }
    if (op == "delete") {
        if (!se.storageDelete(owner, name)) throw Error(Reason::NotFound, "no stored object " + owner + "/" + name);
        if (!c.json) fprintf(stderr, "deleted %s/%s\n", owner.c_str(), name.c_str());
        return kOk;
    }
    throw UsageError("unknown storage subcommand '" + op + "'");
}

}  // namespace secsf::cli
