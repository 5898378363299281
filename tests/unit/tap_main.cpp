// Runs every registered CppUnit test and reports each as one TAP line, so that
// automake's tap-driver counts test cases, not programs.
#include <cppunit/Exception.h>
#include <cppunit/SourceLine.h>
#include <cppunit/Test.h>
#include <cppunit/TestFailure.h>
#include <cppunit/TestListener.h>
#include <cppunit/TestResult.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "fixture.h"

namespace {

class TapListener : public CppUnit::TestListener {
public:
    void startTest(CppUnit::Test *) override {
        failed_ = false;
        msg_.clear();
        start_ = std::chrono::steady_clock::now();
    }
    void addFailure(const CppUnit::TestFailure &f) override {
        failed_ = true;
        msg_ = f.thrownException()->what();
        if (f.sourceLine().isValid())
            msg_ += " at " + f.sourceLine().fileName() + ":" +
                    std::to_string(f.sourceLine().lineNumber());
    }
    void endTest(CppUnit::Test *t) override {
        n_++;
        if (failed_) {
            bad_++;
            printf("not ok %d - %s\n", n_, t->getName().c_str());
            std::string line;
            for (char c : msg_) {
                if (c == '\n') {
                    printf("# %s\n", line.c_str());
                    line.clear();
                } else {
                    line += c;
                }
            }
            if (!line.empty()) printf("# %s\n", line.c_str());
        } else {
            printf("ok %d - %s\n", n_, t->getName().c_str());
        }
        // How long each case took, as a TAP comment: where a slow suite spends it.
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_);
        printf("# %lld ms\n", (long long)ms.count());
        fflush(stdout);
    }
    int count() const { return n_; }
    int failures() const { return bad_; }

private:
    std::chrono::steady_clock::time_point start_;
    bool failed_ = false;
    std::string msg_;
    int n_ = 0, bad_ = 0;
};

}  // namespace

int main() {
    testfix::globalSetUp();
    CppUnit::TestResult result;
    TapListener tap;
    result.addListener(&tap);
    CppUnit::Test *all = CppUnit::TestFactoryRegistry::getRegistry().makeTest();
    all->run(&result);
    printf("1..%d\n", tap.count());
    delete all;
    testfix::globalTearDown(tap.failures() == 0);
    return 0;  // the TAP lines carry the verdict
}
