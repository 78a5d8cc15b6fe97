// common/ipc/client_link.h: the calling side of one boundary: a Reconnector to the peer's socket
// and, per connection, a session whose pipe is attached through the peer's bootstrap (attach(),
// attachCircuitd(), ... as the boundary's schema names it). When the connection goes, the session
// goes with it, before a new one is made.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/ipc/peers.h"
#include "common/ipc/session.h"

namespace onionsplit::ipc {

template <class Traits>
class ClientLink {
 public:
  using Sink = typename Traits::Sink;
  using Session = ipc::Session<Traits>;
  // Makes the session for a new connection; `drop` ends that connection.
  using MakeSession = std::function<std::unique_ptr<Session>(std::function<void()> drop)>;
  // Calls the boundary's attach method on the peer's bootstrap, offering `ours`.
  using Attach =
      std::function<kj::Promise<typename Sink::Client>(RpcConnection&, typename Sink::Client ours)>;

  ClientLink(EventLoop& loop, std::string path, std::string peer, MakeSession make, Attach attach)
      : make_(std::move(make)),
        attach_(std::move(attach)),
        tasks_(kj::heap<kj::TaskSet>(errors_)),
        reconnector_(loop, std::move(path), peer,
                     {[this](RpcConnection& c) { connected(c); }, [this] { lost(); }}) {
    errors_.link = this;
  }
  ~ClientLink() {
    tasks_ = nullptr;
    session_.reset();
  }

  void start() { reconnector_.start(); }
  // True once the peer accepted the attach on the current connection.
  bool attached() const { return session_ && attached_; }
  Session* session() { return attached() ? session_.get() : nullptr; }
  const std::string& peer() const { return reconnector_.peerName(); }
  unsigned connects() const { return reconnector_.connects(); }

 private:
  struct Errors final : kj::TaskSet::ErrorHandler {
    ClientLink* link = nullptr;
    void taskFailed(kj::Exception&& e) override {
      spdlog::warn("ipc: attaching to {} failed: {}", link->peer(), e.getDescription().cStr());
      link->reconnector_.drop();
    }
  };

  void connected(RpcConnection& conn) {
    attached_ = false;
    session_ = make_([this] { dropLater(); });
    // Batches travel as data frames; the pipe listens before the attach call leaves, so nothing
    // the peer sends after binding its side can arrive unheard. The sink the peer returns is not
    // needed.
    session_->setPlane(conn.dataPlane());
    tasks_->add(attach_(conn, session_->makeLocalSink()).then([this](typename Sink::Client) {
      attached_ = true;
      spdlog::info("ipc: attached to {}", peer());
    }));
  }
  void lost() {
    attached_ = false;
    std::shared_ptr<Session> dying(std::move(session_));
    tasks_->add(kj::evalLater([dying]() mutable { dying.reset(); }));
  }
  void dropLater() {
    tasks_->add(kj::evalLater([this] { reconnector_.drop(); }));
  }

  MakeSession make_;
  Attach attach_;
  Errors errors_;
  kj::Own<kj::TaskSet> tasks_;
  std::unique_ptr<Session> session_;
  bool attached_ = false;
  Reconnector reconnector_;
};

}  // namespace onionsplit::ipc
