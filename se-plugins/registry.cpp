#include "registry.h"

#include <atomic>
#include <mutex>

#include "secsf/error.h"

namespace secsf {

namespace {
// Never destroyed: provider teardown, from OpenSSL's exit handler, sets it after this
// library's static destructors have run.
struct ProcessError {
    std::mutex mu;
    std::string why;
};
ProcessError &processError() {
    static auto *e = new ProcessError;
    return *e;
}
std::atomic<bool> gHasProcessError{false};

void checkProcess() {
    if (!gHasProcessError.load()) return;
    ProcessError &e = processError();
    std::lock_guard<std::mutex> g(e.mu);
    if (!e.why.empty()) throw Error(Reason::Config, e.why);
}
}  // namespace

void SeRegistry::setProcessError(const std::string &why) {
    ProcessError &e = processError();
    std::lock_guard<std::mutex> g(e.mu);
    e.why = why;
    gHasProcessError = !why.empty();
}

void SeRegistry::add(std::shared_ptr<SePlugin> p) {
    for (auto &q : plugins_)
        if (q->name() == p->name())
            throw Error(Reason::Config, "two Secure Environments are named '" + p->name() + "'");
    plugins_.push_back(std::move(p));
}

SePlugin &SeRegistry::forUri(const std::string &uri) const {
    checkProcess();
    if (!configError_.empty()) throw Error(Reason::Config, configError_);
    for (auto &p : plugins_)
        if (p->handlesUri(uri)) return *p;
    throw Error(Reason::NotFound, "no configured Secure Environment handles '" +
                                      uri.substr(0, uri.find(':')) + ":' URIs");
}

SePlugin &SeRegistry::byName(const std::string &name) const {
    checkProcess();
    if (!configError_.empty()) throw Error(Reason::Config, configError_);
    if (plugins_.empty())
        throw Error(Reason::Config,
                    "no Secure Environment is configured: set pkcs11-module-path in the "
                    "secsf section of openssl.cnf");
    std::string want = name.empty() ? default_ : name;
    if (want.empty()) return *plugins_.front();
    for (auto &p : plugins_)
        if (p->name() == want) return *p;
    throw Error(Reason::NotFound, "no Secure Environment is named '" + want + "'");
}

SePlugin &SeRegistry::able(uint32_t cap, const std::string &what, const std::string &name) const {
    SePlugin &first = byName(name);
    if (first.capabilities() & cap) return first;
    if (name.empty())
        for (auto &p : plugins_)
            if (p->capabilities() & cap) return *p;
    throw Error(Reason::Unsupported, "Secure Environment '" + first.name() + "' (" + first.info().device +
                                         ") cannot " + what + ", and no other configured SE can");
}

SePlugin &SeRegistry::byLevel(int minLevel) const {
    SePlugin &d = byName("");
    if (d.securityLevel() >= minLevel) return d;
    for (auto &p : plugins_)
        if (p->securityLevel() >= minLevel) return *p;
    throw Error(Reason::NotFound, "no Secure Environment has security level " +
                                      std::to_string(minLevel) + " or higher");
}

}  // namespace secsf
