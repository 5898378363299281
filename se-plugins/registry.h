// Which SE answers a URI, and which SE a new key goes to (by name or by minimum
// security level). One registry per provider instance, built from its configuration.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "se_plugin.h"

namespace secsf {

class SeRegistry {
public:
    void add(std::shared_ptr<SePlugin> p);
    void setDefault(const std::string &name) { default_ = name; }
    // A configuration that could not be used: every lookup reports this sentence.
    void setConfigError(const std::string &why) { configError_ = why; }
    // Something wrong for every registry of the process (two provider instances with
    // different settings): every lookup of every registry reports it; "" clears it.
    static void setProcessError(const std::string &why);

    bool empty() const { return plugins_.empty(); }
    const std::vector<std::shared_ptr<SePlugin>> &all() const { return plugins_; }
    // Throws Error(NotFound) when no SE takes the URI's scheme.
    SePlugin &forUri(const std::string &uri) const;
    // By name; an empty name means the configured default (or the only SE).
    SePlugin &byName(const std::string &name) const;
    // The default SE if its level suffices, else the first SE with level >= min.
    SePlugin &byLevel(int minLevel) const;
    // The named SE (empty: the default) if it can do `cap`; with no name, else the
    // first SE that can. Throws a sentence naming what is missing.
    SePlugin &able(uint32_t cap, const std::string &what, const std::string &name = "") const;

private:
    std::vector<std::shared_ptr<SePlugin>> plugins_;
    std::string default_;
    std::string configError_;
};

}  // namespace secsf
