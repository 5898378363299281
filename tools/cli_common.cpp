#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "../se-plugins/registry_config.h"
#include "cli.h"
#include "secsfd_client.h"
#include "secsf/error.h"
#include "secsf/identifier.h"

namespace secsf::cli {

void Context::load() {
    config = loadConfig(configPath);
    // Through secsfd the SEs and the policy are secsfd's: this process needs neither
    // (nor the right to read their PIN files and policy).
    if (!direct && !config.get("secsfd-socket").empty()) {
        daemon = std::make_shared<SecsfdClient>(config.get("secsfd-socket"), entity);
        return;
    }
    try {
        configureRegistry(registry, [&](const char *k) { return config.get(k); });
    } catch (const Error &e) {
        registryError = e.what();
    }
    policy = svc::AccessPolicy::configured(config.get("access-policy"), config.get("access-policy-signer"));
}

std::string Context::entityFor(const std::string &owner) const {
    if (!entity.empty()) return entity;
    if (const char *e = getenv("SECSF_ENTITY")) return e;
    return owner.empty() ? "operator" : owner;
}

void Context::authorize(const std::string &function, const std::string &object, const std::string &owner) const {
    std::string who = entityFor(owner);
    try {
        checkIdentifier("entity id", who);
    } catch (const Error &e) {
        throw Denied(std::string(e.what()) + " (--as, $SECSF_ENTITY or --owner)");
    }
    svc::AccessDecision d = policy.check(who, function, object, owner);
    if (!d.allowed) throw Denied(who + " may not " + function + " " + object + ": refused by " + d.rule);
}

SePlugin &Context::se(const std::string &name) const {
    if (!registryError.empty()) throw Error(Reason::Config, registryError);
    return registry.byName(name);
}

Options parseOptions(const Args &args, const std::set<std::string> &valued, const std::set<std::string> &flags) {
    Options o;
    for (size_t i = 0; i < args.size(); i++) {
        const std::string &a = args[i];
        if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
            std::string name = a.substr(2), value;
            size_t eq = name.find('=');
            bool inline_ = eq != std::string::npos;
            if (inline_) value = name.substr(eq + 1), name = name.substr(0, eq);
            if (valued.count(name)) {
                if (!inline_) {
                    if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
                    value = args[++i];
                }
                o.values[name] = value;
            } else if (flags.count(name) && !inline_) {
                o.flags.insert(name);
            } else {
                throw UsageError("unknown option --" + name);
            }
        } else {
            o.rest.push_back(a);
        }
    }
    return o;
}

struct Progress::Impl {
    std::atomic<bool> done{false};
    std::thread t;
};

Progress::Progress(const std::string &what) : impl_(std::make_unique<Impl>()) {
    if (!isatty(2)) return;  // quiet in scripts and logs
    impl_->t = std::thread([this, what] {
        const char spin[] = "|/-\\";
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; !impl_->done; i++) {
            auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
            fprintf(stderr, "\r%s %c %llds", what.c_str(), spin[i % 4], (long long)s);
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
        }
        fprintf(stderr, "\r%*s\r", (int)what.size() + 12, "");
    });
}

Progress::~Progress() {
    impl_->done = true;
    if (impl_->t.joinable()) impl_->t.join();
}

std::string keyTypeText(const KeyListing &k) {
    if (!k.note.empty() && !k.bits) return keyTypeName(k.type);
    if (k.type == KeyType::EC) {
        for (auto [group, name] : {std::pair{"prime256v1", "P-256"}, std::pair{"secp384r1", "P-384"}, std::pair{"secp521r1", "P-521"}})
            if (k.curve == group) return std::string("EC ") + name;
        return "EC " + (k.curve.empty() ? std::to_string(k.bits) : k.curve);
    }
    if (k.type == KeyType::RSA) return "RSA " + std::to_string(k.bits);
    return keyTypeName(k.type);
}

}  // namespace secsf::cli
