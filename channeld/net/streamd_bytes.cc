// channeld/net/streamd_bytes.cc: see streamd_bytes.h.
#include "channeld/net/streamd_bytes.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "proto/control.capnp.h"

namespace onionsplit::channeld {
namespace {

int connectUnix(const std::string& path) {
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

}  // namespace

StreamdBytes::StreamdBytes(event_base* base, std::string socketPath)
    : base_(base), path_(std::move(socketPath)) {}

StreamdBytes::~StreamdBytes() {
  drop();
}

void StreamdBytes::drop() {
  asking_ = kj::READY_NOW;  // the questions' promises go before their connection
  telling_ = kj::READY_NOW;
  conn_.reset();
  busy_ = broken_ = tellingBusy_ = false;
  streamdKnows_ = -1;
  waited_ = 0;
}

void StreamdBytes::poll() {
  if (broken_ || (busy_ && ++waited_ >= 5)) drop();
  tell();
  if (busy_) return;
  if (!conn_) {
    int fd = connectUnix(path_);
    if (fd < 0) return;
    conn_ =
        std::make_unique<ipc::RpcConnection>(base_, fd, false, capnp::Capability::Client(nullptr));
    tell();
  }
  busy_ = true;
  waited_ = 0;
  auto control = conn_->bootstrap<proto::Control>();
  asking_ = control.countersRequest()
                .send()
                .then(
                    [this](auto&& r) {
                      LinkTraffic t;
                      for (auto c : r.getCounters()) {
                        std::string_view name = c.getName().cStr();
                        if (name == "exit_bytes_read_total") t.read = c.getValue();
                        if (name == "exit_bytes_written_total") t.written = c.getValue();
                      }
                      totals_ = t;
                      ++answers_;
                      busy_ = false;
                    },
                    [this](kj::Exception&&) { broken_ = true; })
                .eagerlyEvaluate(nullptr);
}

void StreamdBytes::setHibernating(bool on) {
  hibernating_ = on;
  tell();
}

// One setHibernating call out at a time; a change made while it is out goes at the next poll().
void StreamdBytes::tell() {
  if (!conn_ || broken_ || tellingBusy_ || streamdKnows_ == static_cast<int>(hibernating_)) return;
  tellingBusy_ = true;
  const bool on = hibernating_;
  auto request = conn_->bootstrap<proto::Control>().setHibernatingRequest();
  request.setHibernating(on);
  telling_ = request.send()
                 .then(
                     [this, on](auto&&) {
                       tellingBusy_ = false;
                       streamdKnows_ = on ? 1 : 0;
                       ++told_;  // a change meanwhile goes at the next poll() (no call from here)
                     },
                     [this](kj::Exception&&) { broken_ = true; })
                 .eagerlyEvaluate(nullptr);
}

}  // namespace onionsplit::channeld
