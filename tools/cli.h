// What every `secsf` subcommand shares: the configuration, the Secure Environments
// it declares, how to print (text or --json), who is asking (--as) and the access
// policy that decides whether they may.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../se-plugins/registry.h"
#include "../se-plugins/se_report.h"
#include "../services/access_policy.h"
#include "../se-plugins/config_file.h"

namespace secsf::cli {

using Json = nlohmann::json;
using Args = std::vector<std::string>;

enum Exit { kOk = 0, kFailed = 1, kUsage = 2, kDenied = 3 };

// A usage error: printed with the subcommand's synopsis, exit 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Refused by the access policy: names the rule, exit 3.
struct Denied : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class SecsfdClient;

struct Context {
    std::string configPath;  // --config
    ConfigFile config;
    SeRegistry registry;
    std::string registryError;  // what stopped the SEs from being built
    bool json = false;
    std::string entity;  // --as (empty: see entityFor)
    svc::AccessPolicy policy;
    bool direct = false;                   // --direct: the SEs themselves, even where secsfd is configured
    std::shared_ptr<SecsfdClient> daemon;  // set when secsfd-socket is configured (and not --direct)

    void load();  // config, registry, policy, secsfd; throws Error(Config)
    // Throws Denied naming the rule unless the policy allows it.
    void authorize(const std::string &function, const std::string &object, const std::string &owner) const;
    std::string entityFor(const std::string &owner) const;
    SePlugin &se(const std::string &name) const;  // by name (empty: the default)
};

// Options of one subcommand: --name value (in `valued`), --flag (in `flags`), and
// the rest in order. Unknown options are a UsageError.
struct Options {
    std::map<std::string, std::string> values;
    std::set<std::string> flags;
    Args rest;
    std::string get(const std::string &k, const std::string &dflt = "") const {
        auto it = values.find(k);
        return it == values.end() ? dflt : it->second;
    }
    bool has(const std::string &k) const { return flags.count(k) || values.count(k); }
};
Options parseOptions(const Args &args, const std::set<std::string> &valued, const std::set<std::string> &flags);

// Shows that a long operation runs (a spinner on a terminal, nothing otherwise).
class Progress {
public:
    explicit Progress(const std::string &what);
    ~Progress();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string keyTypeText(const KeyListing &k);

int cmdSe(Context &c, const Args &a);
int cmdKey(Context &c, const Args &a);
int cmdStorage(Context &c, const Args &a);
int cmdFunctions(Context &c, const Args &a);
int cmdCheck(Context &c, const Args &a);
int cmdDemo(Context &c, const Args &a);
int cmdAudit(Context &c, const Args &a);

// The --help text of a subcommand ("" for the tool itself).
const char *helpText(const std::string &command);

}  // namespace secsf::cli
