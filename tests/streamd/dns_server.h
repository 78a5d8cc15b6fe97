// tests/streamd/dns_server.h: a tiny UDP DNS server on 127.0.0.1 for streamd's component tests
// (test helper). It answers A and PTR for a few names of the tests (echo.test, burst.test and
// their reverse names), NXDOMAIN for every other name, never a name containing "slow", and nothing
// at all when `silent`.
#pragma once

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace onionsplit::streamd {

class DnsServer {
 public:
  explicit DnsServer(event_base* base) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ev_ = event_new(base, fd_, EV_READ | EV_PERSIST, &DnsServer::onRead, this);
    event_add(ev_, nullptr);
  }
  ~DnsServer() {
    event_free(ev_);
    close(fd_);
  }
  uint16_t port = 0;
  int queries = 0;
  bool silent = false;  // reads every query and answers none (a nameserver that is down)

 private:
  static void onRead(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<DnsServer*>(arg);
    uint8_t q[512];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 17) return;
    ++self->queries;
    if (self->silent) return;
    std::string raw(reinterpret_cast<const char*>(q + 12), static_cast<size_t>(n) - 12);
    for (char& ch : raw)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (raw.find("slow") != std::string::npos) return;  // never answered
    // The question: labels from offset 12, then type and class.
    size_t p = 12;
    std::string name;
    while (p < static_cast<size_t>(n) && q[p] != 0) {
      size_t l = q[p];
      if (!name.empty()) name += '.';
      for (size_t i = 1; i <= l && p + i < static_cast<size_t>(n); ++i)
        name += static_cast<char>(std::tolower(q[p + i]));
      p += l + 1;
    }
    p += 1;
    if (p + 4 > static_cast<size_t>(n)) return;
    uint16_t type = static_cast<uint16_t>((q[p] << 8) | q[p + 1]);
    size_t qend = p + 4;
    std::vector<uint8_t> r(q, q + qend);
    r[2] = 0x81;  // QR, RD
    r[3] = 0x80;  // RA, NOERROR
    r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
    auto answer = [&](uint16_t t, const std::vector<uint8_t>& rdata) {
      r[7] = 1;
      const uint8_t hdr[] = {0xC0,
                             0x0C,
                             static_cast<uint8_t>(t >> 8),
                             static_cast<uint8_t>(t),
                             0,
                             1,
                             0,
                             0,
                             0x01,
                             0x2C,  // class IN, TTL 300
                             static_cast<uint8_t>(rdata.size() >> 8),
                             static_cast<uint8_t>(rdata.size())};
      r.insert(r.end(), hdr, hdr + sizeof hdr);
      r.insert(r.end(), rdata.begin(), rdata.end());
    };
    if ((name == "echo.test" || name == "burst.test") && type == 1) {
      answer(1, {127, 0, 0, 1});
    } else if (name == "echo.test") {
      // NOERROR, no records (AAAA)
    } else if (name == "1.0.0.127.in-addr.arpa" && type == 12) {
      answer(12, {4, 'e', 'c', 'h', 'o', 4, 't', 'e', 's', 't', 0});
    } else if (name == std::string("2.0.0.127.in-addr.arpa") && type == 12) {
      answer(12, {4, 'e', 'v', 0x01, 'l', 4, 't', 'e', 's', 't', 0});  // TROVE-2026-035
    } else {
      r[3] = 0x83;  // NXDOMAIN
    }
    sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
  }
  int fd_ = -1;
  event* ev_ = nullptr;
};

}  // namespace onionsplit::streamd
