// The Security Transport and the PIV plug-in from C++, against the test card in
// a private pcscd: reader selection, logical channels, the T=0/T=1 rules a caller
// never sees (6Cxx, extended length), a reset by another process, removal and
// return of the card inside one process, secure storage on the card, and threads.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cppunit/extensions/HelperMacros.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "../../se-plugins/pcsc/piv_card.h"
#include "../../se-plugins/pcsc/piv_plugin.h"
#include "../../se-plugins/pcsc/tlv.h"
#include "../../se-plugins/pcsc/transport.h"
#include "../../se-plugins/public_key.h"
#include "fixture.h"

using namespace testfix;
using namespace secsf::pcsc;

namespace {

extern "C" const bool secsf_test_needs_card = true;

void insertCard(const std::string &opts = "") {
    CPPUNIT_ASSERT_EQUAL(0, pcscShell("card_insert \"" + cardDir() + "\" --trace \"" + cardDir() + "/trace\" " + opts));
}
void removeCard() { pcscShell("card_remove \"" + cardDir() + "\""); }

std::string trace() {
    std::ifstream f(cardDir() + "/trace");
    return std::string(std::istreambuf_iterator<char>(f), {});
}
void clearTrace() { std::ofstream(cardDir() + "/trace", std::ios::trunc); }

Config pluginConfig() {
    Config c;
    c.reader = "Virtual PCD*00";
    std::ofstream(workDir() + "/card.pin") << "123456\n";
    std::ofstream(workDir() + "/mgmt.key") << "010203040506070801020304050607080102030405060708\n";
    chmod((workDir() + "/card.pin").c_str(), 0600);
    chmod((workDir() + "/mgmt.key").c_str(), 0600);
    c.pinSource = "file:" + workDir() + "/card.pin";
    c.mgmtKeySource = "file:" + workDir() + "/mgmt.key";
    return c;
}

Bytes getDiscovery(Channel &ch) {
    Response r = ch.transmit({0x00, 0xCB, 0x3F, 0xFF, {0x5C, 0x01, 0x7E}, 256});
    CPPUNIT_ASSERT_EQUAL((uint16_t)0x9000, r.sw);
    return r.data;
}

bool verifies(const secsf::PublicKey &pub, const Bytes &digest, const Bytes &rs) {
    Bytes der = secsf::ecdsaSigDer(rs);
    EVP_PKEY *pk = secsf::publicKeyToEvp(pub, nullptr, "provider=default");
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, pk, "provider=default");
    bool ok = c && EVP_PKEY_verify_init(c) > 0 && EVP_PKEY_verify(c, der.data(), der.size(), digest.data(), digest.size()) == 1;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

// A SHA-256-sized digest of `seed` bytes signed by the card key; true if it verifies.
bool signsAndVerifies(secsf::SeKey &key, unsigned char seed) {
    Bytes digest(32, seed);
    secsf::SignRequest sr;
    sr.digestNid = NID_sha256;
    sr.data = digest;
    try {
        return verifies(key.publicKey(), digest, key.sign(sr));
    } catch (const secsf::Error &) {
        return false;
    }
}

}  // namespace

class PcscTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PcscTest);
    CPPUNIT_TEST(readersByPattern);
    CPPUNIT_TEST(emptyReaderIsCardRemoved);
    CPPUNIT_TEST(basicChannelAndUnknownApplet);
    CPPUNIT_TEST(logicalChannel);
    CPPUNIT_TEST(wrongLeIsReissued);
    CPPUNIT_TEST(extendedLengthWhenTheAtrSaysSo);
    CPPUNIT_TEST(survivesResetByAnotherProcess);
    CPPUNIT_TEST(cardRemovedAndBackInOneProcess);
    CPPUNIT_TEST(storageOnTheCard);
    CPPUNIT_TEST(fourThreadsSign);
    CPPUNIT_TEST(forkWhileAnotherThreadIsInATransaction);
    CPPUNIT_TEST(preforkedWorkersUseTheirOwnPcscConnection);
    CPPUNIT_TEST_SUITE_END();

public:
    void readersByPattern() {
        Service svc;
        auto all = svc.readers();
        CPPUNIT_ASSERT_EQUAL((size_t)2, all.size());
        CPPUNIT_ASSERT_EQUAL(std::string("Virtual PCD 00 01"), svc.findReader("Virtual*01"));
        CPPUNIT_ASSERT_EQUAL(std::string("Virtual PCD 00 00"), svc.findReader("PCD 00 00"));
        try {
            svc.findReader("Yubico*");
            CPPUNIT_FAIL("a pattern nothing matches");
        } catch (const TransportError &e) {
            CPPUNIT_ASSERT_EQUAL(TransportError::ReaderRemoved, e.kind());
            CPPUNIT_ASSERT(std::string(e.what()).find("'Virtual PCD 00 01'") != std::string::npos);
        }
    }
    void emptyReaderIsCardRemoved() {
        auto svc = std::make_shared<Service>();
        try {
            Session s(svc, "Virtual PCD 00 01");
            CPPUNIT_FAIL("no card in the second slot");
        } catch (const TransportError &e) {
            CPPUNIT_ASSERT_EQUAL(TransportError::CardRemoved, e.kind());
        }
    }
    void basicChannelAndUnknownApplet() {
        auto s = std::make_shared<Session>(std::make_shared<Service>(), "Virtual PCD 00 00");
        Channel piv = s->basicChannel(PivCard::kAid);
        Bytes d = getDiscovery(piv);
        CPPUNIT_ASSERT(findTlv(d, 0x7E).has_value());
        CPPUNIT_ASSERT(findTlv(piv.selectResponse(), 0x61).has_value());
        Channel other = s->basicChannel({0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02});  // a USIM
        CPPUNIT_ASSERT_THROW(other.select(), secsf::Error);
    }
    void logicalChannel() {
        auto s = std::make_shared<Session>(std::make_shared<Service>(), "Virtual PCD 00 00");
        clearTrace();
        {
            Channel ch = s->logicalChannel(PivCard::kAid);
            CPPUNIT_ASSERT(ch.number() >= 1);
            getDiscovery(ch);
        }
        std::string t = trace();
        CPPUNIT_ASSERT_MESSAGE(t, t.find("00 70 00 00 1 9000") != std::string::npos);  // MANAGE CHANNEL open
        CPPUNIT_ASSERT_MESSAGE(t, t.find("01 A4 04 00") != std::string::npos);    // SELECT on channel 1
        CPPUNIT_ASSERT_MESSAGE(t, t.find("01 CB 3F FF") != std::string::npos);    // GET DATA on channel 1
        CPPUNIT_ASSERT_MESSAGE(t, t.find("00 70 80 01") != std::string::npos);    // closed when done
    }
    void wrongLeIsReissued() {
        removeCard();
        insertCard("--strict-le");
        clearTrace();
        {
            auto s = std::make_shared<Session>(std::make_shared<Service>(), "Virtual PCD 00 00");
            Channel piv = s->basicChannel(PivCard::kAid);
            CPPUNIT_ASSERT(findTlv(getDiscovery(piv), 0x7E).has_value());
        }
        std::string t = trace();
        CPPUNIT_ASSERT_MESSAGE(t, t.find(" 6C") != std::string::npos);  // the card said "wrong Le"
        removeCard();
        insertCard();
    }
    void extendedLengthWhenTheAtrSaysSo() {
        removeCard();
        insertCard("--extended");
        clearTrace();
        {
            auto s = std::make_shared<Session>(std::make_shared<Service>(), "Virtual PCD 00 00");
            CPPUNIT_ASSERT(s->extendedLength());
        }
        Plugin p(pluginConfig());
        p.storagePut("CAE-ext", "big", Bytes(600, 0x42));
        CPPUNIT_ASSERT(p.storageGet("CAE-ext", "big") == Bytes(600, 0x42));
        p.storageDelete("CAE-ext", "big");
        std::string t = trace();
        CPPUNIT_ASSERT_MESSAGE(t, t.find("00 DB 3F FF 6") != std::string::npos);  // one 600+ byte PUT DATA
        CPPUNIT_ASSERT_MESSAGE(t, t.find("10 DB") == std::string::npos);          // no chaining
        removeCard();
        insertCard();
        {
            auto s = std::make_shared<Session>(std::make_shared<Service>(), "Virtual PCD 00 00");
            CPPUNIT_ASSERT(!s->extendedLength());
        }
    }
    void survivesResetByAnotherProcess() {
        auto s = std::make_shared<Session>(std::make_shared<Service>(), "Virtual PCD 00 00");
        Channel piv = s->basicChannel(PivCard::kAid);
        getDiscovery(piv);
        unsigned gen = s->generation();
        // Another PC/SC client resets the card.
        SCARDCONTEXT ctx;
        SCARDHANDLE h;
        DWORD proto;
        SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &ctx);
        CPPUNIT_ASSERT_EQUAL((LONG)SCARD_S_SUCCESS, SCardConnect(ctx, "Virtual PCD 00 00", SCARD_SHARE_SHARED,
                                                                 SCARD_PROTOCOL_T1, &h, &proto));
        SCardDisconnect(h, SCARD_RESET_CARD);
        SCardReleaseContext(ctx);
        {
            Session::Transaction t(*s);
            getDiscovery(piv);  // re-selected after the reconnect
        }
        CPPUNIT_ASSERT(s->generation() != gen);
    }
    void cardRemovedAndBackInOneProcess() {
        Plugin p(pluginConfig());
        secsf::KeyGenRequest req;
        req.where = "piv:slot=9a";
        auto key = p.generate(req);
        Bytes digest(32, 0x11);
        secsf::SignRequest sr;
        sr.digestNid = NID_sha256;
        sr.data = digest;
        CPPUNIT_ASSERT(verifies(key->publicKey(), digest, key->sign(sr)));
        removeCard();
        try {
            key->sign(sr);
            CPPUNIT_FAIL("signed without a card");
        } catch (const TransportError &e) {
            CPPUNIT_ASSERT_EQUAL(TransportError::CardRemoved, e.kind());
        }
        insertCard();
        CPPUNIT_ASSERT(verifies(key->publicKey(), digest, key->sign(sr)));
    }
    void storageOnTheCard() {
        Plugin p(pluginConfig());
        p.storagePut("CAE-1", "credential", {1, 2, 3});
        p.storagePut("CAE-2", "credential", {9});
        CPPUNIT_ASSERT(p.storageGet("CAE-1", "credential") == Bytes({1, 2, 3}));
        CPPUNIT_ASSERT(p.storageGet("CAE-2", "credential") == Bytes({9}));
        p.storagePut("CAE-1", "credential", {4});  // replaced, not added
        CPPUNIT_ASSERT_EQUAL((size_t)1, p.storageList("CAE-1").size());
        CPPUNIT_ASSERT_THROW(p.storageGet("CAE-3", "credential"), secsf::Error);
        CPPUNIT_ASSERT(p.storageDelete("CAE-1", "credential"));
        CPPUNIT_ASSERT(!p.storageDelete("CAE-1", "credential"));
        CPPUNIT_ASSERT(p.storageGet("CAE-2", "credential") == Bytes({9}));
        p.storageDelete("CAE-2", "credential");
    }
    void fourThreadsSign() {
        Plugin p(pluginConfig());
        auto found = p.find("piv:slot=9a");
        std::atomic<int> good{0};
        std::vector<std::thread> ts;
        for (int i = 0; i < 4; i++)
            ts.emplace_back([&, i] {
                for (int j = 0; j < 5; j++) good += signsAndVerifies(*found.privateKey, (unsigned char)(i * 16 + j));
            });
        for (auto &t : ts) t.join();
        CPPUNIT_ASSERT_EQUAL(20, good.load());
    }
    // Issue 17 item 2: fork() while another thread is inside a PC/SC transaction.
    void forkWhileAnotherThreadIsInATransaction() {
        Plugin p(pluginConfig());
        auto found = p.find("piv:slot=9a");
        auto signs = [&](unsigned char seed) { return signsAndVerifies(*found.privateKey, seed); };
        unsigned char seed = 0;
        int parentSigs = 0;
        int children = forksWhileBusy(
            3, 20, [&] { return signs(seed++); }, [&] { return signs(0xC0); }, &parentSigs);
        CPPUNIT_ASSERT_EQUAL(3, children);
        CPPUNIT_ASSERT(parentSigs > 0);
    }
    // Issue 17 item 3: the pre-forking server pattern. The parent loads the key and
    // uses it (so it holds a pcscd connection), then its workers sign side by side
    // with it: each must speak to pcscd over a connection of its own.
    void preforkedWorkersUseTheirOwnPcscConnection() {
        Plugin p(pluginConfig());
        auto found = p.find("piv:slot=9a");
        auto signs = [&](unsigned char seed) { return signsAndVerifies(*found.privateKey, seed); };
        CPPUNIT_ASSERT(signs(1));
        int workers = preforkedWorkers(
            3, 30,
            [&](int w) {
                int good = 0;
                for (int j = 0; j < 10; j++) good += signs((unsigned char)(w * 16 + j));
                return good == 10;
            },
            [&] {
                int good = 0;
                for (int j = 0; j < 10; j++) good += signs((unsigned char)(0x80 + j));
                return good == 10;
            });
        CPPUNIT_ASSERT_EQUAL(3, workers);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PcscTest);
