// piv-card: the test PIV card. Connects to vsmartcard's virtual reader (vpcd) as
// the card in its slot and answers what pcscd sends. The card is "inserted" while
// this process runs and "removed" when it exits.
//
//   piv-card --port P --state FILE [--host 127.0.0.1] [--strict-le] [--extended] [--trace FILE]
//
// vpcd's protocol: every message is a 2-byte big-endian length and the payload; a
// 1-byte payload is a control code (0 power off, 1 power on, 2 reset, 4 get ATR),
// anything longer a command APDU answered with the response APDU.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "piv_applet.h"

namespace {

bool readAll(int fd, unsigned char *p, size_t n) {
    while (n) {
        // vpcd writes the length and the APDU separately: without quick ACKs every
        // APDU waits for the delayed-ACK timer.
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        ssize_t r = read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

bool send(int fd, const card::Bytes &msg) {
    card::Bytes out = {(unsigned char)(msg.size() >> 8), (unsigned char)msg.size()};
    out.insert(out.end(), msg.begin(), msg.end());
    return write(fd, out.data(), out.size()) == (ssize_t)out.size();
}

int connectTo(const std::string &host, int port) {
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
        if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        close(fd);
        usleep(50000);
    }
    return -1;
}

int usage() {
    fprintf(stderr,
            "usage: piv-card --port P --state FILE [--host ADDR] [--strict-le] [--extended] [--trace FILE]\n"
            "  A PIV test card for vsmartcard's vpcd reader on ADDR:P (default 127.0.0.1).\n"
            "  FILE keeps PIN, keys and data objects; FILE.fault, when present, makes the\n"
            "  next private-key operation fail: truncate|badsw|oversize|garbage|die.\n"
            "  --trace appends one line per command APDU: CLA INS P1 P2, data length, SW.\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv) {
    std::string host = "127.0.0.1", state, trace;
    int port = 0;
    card::Options opt;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (a == "--state" && i + 1 < argc) state = argv[++i];
        else if (a == "--host" && i + 1 < argc) host = argv[++i];
        else if (a == "--strict-le") opt.strictLe = true;
        else if (a == "--extended") opt.extended = true;
        else if (a == "--trace" && i + 1 < argc) trace = argv[++i];
        else return usage();
    }
    if (!port || state.empty()) return usage();
    try {
        card::PivApplet applet(state, opt);
        int fd = connectTo(host, port);
        if (fd < 0) {
            fprintf(stderr, "piv-card: no reader at %s:%d\n", host.c_str(), port);
            return 1;
        }
        for (;;) {
            unsigned char hdr[2];
            if (!readAll(fd, hdr, 2)) return 0;  // the reader went away
            card::Bytes msg((size_t)hdr[0] << 8 | hdr[1]);
            if (!readAll(fd, msg.data(), msg.size())) return 0;
            card::Bytes reply;
            if (msg.size() == 1) {
                if (msg[0] == 0x04) reply = applet.atr();
                else applet.powerCycle();
                if (msg[0] != 0x04) continue;  // power and reset have no answer
            } else {
                reply = applet.process(msg);
                if (FILE *t = trace.empty() ? nullptr : fopen(trace.c_str(), "a")) {
                    fprintf(t, "%02X %02X %02X %02X %zu %02X%02X\n", msg[0], msg[1], msg[2], msg[3],
                            msg.size() - 4, reply[reply.size() - 2], reply[reply.size() - 1]);
                    fclose(t);
                }
            }
            if (!send(fd, reply)) return 0;
        }
    } catch (const std::exception &e) {
        fprintf(stderr, "piv-card: %s\n", e.what());
        return 1;
    }
}
