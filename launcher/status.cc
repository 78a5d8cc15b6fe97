// launcher/status.cc: see status.h.
#include "launcher/status.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/ipc/event_loop.h"
#include "proto/control.capnp.h"

namespace onionsplit::launcher {
namespace {

int connectUnix(const std::string& path, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    error = "socket path too long";
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = std::strerror(errno);
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

const char* healthName(proto::Health h) {
  switch (h) {
    case proto::Health::STARTING:
      return "starting";
    case proto::Health::READY:
      return "ready";
    case proto::Health::DEGRADED:
      return "degraded";
  }
  return "unknown";
}

}  // namespace

std::vector<DaemonStatus> queryStatus(const std::string& ipcDirectory,
                                      std::chrono::milliseconds timeout,
                                      const std::vector<std::string>& daemons) {
  std::vector<DaemonStatus> out;
  ipc::EventLoop loop;
  for (const auto& name : daemons) {
    DaemonStatus st;
    st.name = name;
    int fd = connectUnix(ipcDirectory + "/" + name + ".sock", st.error);
    if (fd < 0) {
      out.push_back(std::move(st));
      continue;
    }
    auto conn = std::make_unique<ipc::RpcConnection>(loop.base(), fd, false,
                                                     capnp::Capability::Client(nullptr));
    auto control = conn->bootstrap<proto::Control>();
    auto health = control.healthRequest().send().then([&st](auto&& r) {
      st.health = healthName(r.getHealth());
      for (auto w : r.getWaitingFor())
        st.waitingFor.emplace_back(w.cStr());
    });
    auto version = control.versionRequest().send().then([&st](auto&& r) {
      st.pid = r.getPid();
      st.startedAtMs = r.getStartedAtMs();
      st.version = r.getVersion().cStr();
    });
    auto counters = control.countersRequest().send().then([&st](auto&& r) {
      for (auto c : r.getCounters())
        st.counters.emplace_back(c.getName().cStr(), c.getValue());
    });
    bool answered = false;
    auto both = kj::joinPromises(kj::arr(kj::mv(health), kj::mv(version), kj::mv(counters)))
                    .then([&answered] { answered = true; },
                          [&st](kj::Exception&& e) { st.error = e.getDescription().cStr(); });
    both.exclusiveJoin(loop.afterDelay(static_cast<uint32_t>(timeout.count())))
        .wait(loop.waitScope());
    st.reachable = answered;
    if (!answered && st.error.empty()) st.error = "no answer";
    out.push_back(std::move(st));
  }
  return out;
}

std::string formatStatus(const std::vector<DaemonStatus>& all, uint64_t nowMs, bool counters) {
  std::string s;
  for (const auto& d : all) {
    s += d.name + ": ";
    if (!d.reachable) {
      s += "unreachable (" + d.error + ")\n";
      continue;
    }
    s += d.health + ", pid " + std::to_string(d.pid) + ", up " +
         std::to_string(nowMs > d.startedAtMs ? (nowMs - d.startedAtMs) / 1000 : 0) + " s";
    if (!d.waitingFor.empty()) {
      s += ", waiting for";
      for (const auto& w : d.waitingFor)
        s += " " + w;
    }
    s += "\n";
    if (!counters) continue;
    for (const auto& [name, value] : d.counters)
      s += "  " + name + " " + std::to_string(value) + "\n";
  }
  return s;
}

}  // namespace onionsplit::launcher
