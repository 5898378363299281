// secsf storage put|get|list|delete --owner ID: owner-tagged data objects in an SE,
// checked against the access policy before anything is touched.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli.h"
#include "secsfd_client.h"
#include "secsf/error.h"

namespace secsf::cli {

namespace {

Bytes dataToStore(const Options &o) {
    Bytes data;
    if (o.has("value")) {
        std::string v = o.get("value");
        data.assign(v.begin(), v.end());
        return data;
    }
    std::string file = o.get("file", "-");
    if (file == "-") {
        data.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
        std::ifstream f(file, std::ios::binary);
        if (!f) throw Error(Reason::BadInput, "cannot read " + file);
        data.assign(std::istreambuf_iterator<char>(f), {});
    }
    return data;
}

void writeOut(const Options &o, const char *p, size_t n) {
    std::string out = o.get("out", "-");
    if (out == "-") {
        fwrite(p, 1, n, stdout);
        return;
    }
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    f.write(p, (std::streamsize)n);
    if (!f) throw Error(Reason::BadInput, "cannot write " + out);
}

// The same subcommands through secsfd, which decides on the caller the kernel names.
int storageThroughSecsfd(Context &c, const std::string &op, const Options &o) {
    std::string owner = o.get("owner");
    std::string query = o.has("se") ? "?se=" + SecsfdClient::segment(o.get("se")) : "";
    std::string base = "/storage/" + SecsfdClient::segment(owner);
    if (op == "list") {
        Json j = c.daemon->call("GET", base + query);
        if (c.json) printf("%s\n", j["names"].dump(2).c_str());
        else
            for (auto &n : j["names"]) printf("%s\n", n.get<std::string>().c_str());
        return kOk;
    }
    if (o.rest.size() != 1) throw UsageError("secsf storage " + op + " --owner ID NAME");
    std::string target = base + "/" + SecsfdClient::segment(o.rest[0]) + query;
    if (op == "put") {
        Bytes data = dataToStore(o);
        Json j = c.daemon->call("PUT", target, std::string(data.begin(), data.end()));
        if (!c.json) fprintf(stderr, "stored %zu bytes as %s/%s in %s\n", data.size(), owner.c_str(), o.rest[0].c_str(),
                             j.value("se", std::string("?")).c_str());
        return kOk;
    }
    if (op == "get") {
        std::string raw;
        c.daemon->call("GET", target, "", &raw);
        writeOut(o, raw.data(), raw.size());
        return kOk;
    }
    if (op == "delete") {
        c.daemon->call("DELETE", target);
        if (!c.json) fprintf(stderr, "deleted %s/%s\n", owner.c_str(), o.rest[0].c_str());
        return kOk;
    }
    throw UsageError("unknown storage subcommand '" + op + "'");
}

}  // namespace

int cmdStorage(Context &c, const Args &a) {
    if (a.empty()) throw UsageError("secsf storage put|get|list|delete --owner ID ...");
    std::string op = a[0];
    Options o = parseOptions(Args(a.begin() + 1, a.end()), {"owner", "se", "file", "value", "out"}, {});
    std::string owner = o.get("owner");
    if (owner.empty()) throw UsageError("--owner ID is required: every stored object belongs to an AE-ID or CSE-ID");
    if (c.daemon) return storageThroughSecsfd(c, op, o);
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
        Bytes data = dataToStore(o);
        se.storagePut(owner, name, data);
        if (!c.json) fprintf(stderr, "stored %zu bytes as %s/%s in %s\n", data.size(), owner.c_str(), name.c_str(), se.name().c_str());
        return kOk;
    }
    if (op == "get") {
        Bytes data = se.storageGet(owner, name);
        writeOut(o, (const char *)data.data(), data.size());
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
