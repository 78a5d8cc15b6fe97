// launcher/metrics_scrape.cc: see metrics_scrape.h.
#include "launcher/metrics_scrape.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "proto/control.capnp.h"

namespace onionsplit::launcher {

int connectDaemon(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

namespace {

// Everything one scrape owns. Members are destroyed in reverse order: the answers' promises go
// (with the scrape's promise chain) before the connections they run on.
struct Scrape {
  std::vector<DaemonMetrics> daemons;
  std::vector<std::unique_ptr<ipc::RpcConnection>> connections;
};

kj::Promise<void> ask(ipc::RpcConnection& conn, DaemonMetrics& d) {
  auto control = conn.bootstrap<proto::Control>();
  auto counters = control.countersRequest().send().then([&d](auto&& r) {
    for (auto c : r.getCounters()) {
      if (d.counters.size() >= kMaxCountersPerDaemon) break;
      d.counters.emplace_back(c.getName().cStr(), c.getValue());
    }
  });
  auto version = control.versionRequest().send().then([&d](auto&& r) {
    d.startedAtMs = r.getStartedAtMs();
    d.pid = r.getPid();
  });
  return kj::joinPromises(kj::arr(kj::mv(counters), kj::mv(version)))
      .then([&d] { d.up = true; }, [](kj::Exception&&) {});
}

}  // namespace

kj::Promise<std::vector<DaemonMetrics>> scrapeDaemons(ipc::EventLoop& loop,
                                                      const std::string& ipcDirectory,
                                                      const std::vector<std::string>& daemons,
                                                      std::chrono::milliseconds timeout) {
  auto scrape = kj::heap<Scrape>();
  scrape->daemons.resize(daemons.size());
  kj::Vector<kj::Promise<void>> answers;
  for (size_t i = 0; i < daemons.size(); ++i) {
    DaemonMetrics& d = scrape->daemons[i];
    d.daemon = daemons[i];
    int fd = connectDaemon(ipcDirectory + "/" + d.daemon + ".sock");
    if (fd < 0) continue;
    scrape->connections.push_back(std::make_unique<ipc::RpcConnection>(
        loop.base(), fd, false, capnp::Capability::Client(nullptr)));
    // Eager: a joined promise runs its branches' continuations only once all have settled, and a
    // daemon's answer must count even when another daemon's never comes.
    answers.add(ask(*scrape->connections.back(), d).eagerlyEvaluate(nullptr));
  }
  Scrape* s = scrape.get();
  return kj::joinPromises(answers.releaseAsArray())
      .exclusiveJoin(loop.afterDelay(static_cast<uint32_t>(timeout.count())))
      .then([s] {
        // A daemon cut off by the deadline may have half an answer: report it as down.
        for (auto& d : s->daemons)
          if (!d.up) d.counters.clear();
        return kj::mv(s->daemons);
      })
      .attach(kj::mv(scrape));
}

kj::Promise<std::string> scrapePage(ipc::EventLoop& loop, const std::string& ipcDirectory,
                                    const std::vector<std::string>& daemons,
                                    std::chrono::milliseconds timeout, RestartsOf restartsOf,
                                    LauncherFacts facts) {
  return scrapeDaemons(loop, ipcDirectory, daemons, timeout)
      .then([restartsOf = std::move(restartsOf), facts](std::vector<DaemonMetrics> answers) {
        for (auto& d : answers)
          d.restarts = restartsOf ? restartsOf(d) : 0;
        LauncherFacts f = facts;
        f.nowMs = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
        return formatMetrics(answers, f);
      });
}

}  // namespace onionsplit::launcher
