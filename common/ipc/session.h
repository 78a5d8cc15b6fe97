// common/ipc/session.h: a BatchPipe bound to one connection between daemons, with the rule every
// boundary shares: a peer that breaks the contract gets one log line and loses the connection (and
// everything bound to it), and the daemon keeps running.
//
// RefusingSession is the stance of a daemon toward flows it cannot serve (yet, or any more): every
// flow the peer opens is answered at once with the boundary's close and a reason, so the client
// sees a protocol-correct refusal (DESTROY, END) instead of silence.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/ipc/batch_pipe.h"
#include "common/ipc/peers.h"

namespace onionsplit::ipc {

template <class Traits>
class PeerSession : public BatchPipe<Traits>::Handler {
 public:
  using Pipe = BatchPipe<Traits>;

  // `drop` ends the connection; it must defer the destruction of this session (Listener::drop and
  // Reconnector::drop do).
  PeerSession(std::string peer, flowctl::CreditWindows w, std::function<void()> drop)
      : pipe(w, *this), peer_(std::move(peer)), drop_(std::move(drop)) {}

  void onViolation(const std::string& why) override {
    spdlog::warn("ipc: {} broke the contract ({}); dropping the connection", peer_, why);
    if (drop_) drop_();
  }
  void onCredit() override {}

  Pipe pipe;

 protected:
  const std::string& peer() const { return peer_; }

 private:
  std::string peer_;
  std::function<void()> drop_;
};

template <class Traits>
class RefusingSession final : public PeerSession<Traits> {
 public:
  using Event = typename Traits::Event;

  RefusingSession(std::string peer, flowctl::CreditWindows w, std::function<void()> drop,
                  uint8_t reason)
      : PeerSession<Traits>(std::move(peer), w, std::move(drop)), reason_(reason) {}

  UnknownFlow onUnknownFlow(typename Event::Reader e) override {
    return Traits::opensFlow(e) ? UnknownFlow::kOpen : UnknownFlow::kDrop;
  }
  bool onEvent(typename Event::Reader e) override {
    auto flow = Traits::flowOf(e);
    if (!flow) return Traits::flowlessAllowed(e);
    if (Traits::closesFlow(e)) return true;  // a close is not taken (it cost no credit)
    this->pipe.taken(*flow, 1);              // nothing is kept
    if (this->pipe.canClose(*flow)) {
      auto out = this->pipe.add();
      Traits::fillClose(out, *flow, reason_);
      this->pipe.commit(*flow, out);
      ++refused_;
    }
    return true;
  }
  uint64_t refused() const { return refused_; }

 private:
  uint8_t reason_;
  uint64_t refused_ = 0;
};

// The serving side's sessions of one boundary, by connection (a peer may attach once per
// connection). Sessions of a closed connection are destroyed on a later loop turn.
template <class Traits>
class ServerSessions {
 public:
  using Session = PeerSession<Traits>;
  using Sink = typename Traits::Sink;

  // Connections' data planes come from `listener` (the daemons): sessions exchange batches as data
  // frames. Without it (tests) they push to the peer's sink over RPC.
  void usePlanesOf(const Listener& listener) { listener_ = &listener; }

  // Binds `session` to connection `id` (its data plane, or the peer's sink); returns the sink the
  // peer may push to. A second attach on the same connection replaces the first.
  typename Sink::Client attach(uint64_t id, std::unique_ptr<Session> session,
                               typename Sink::Client peerSink) {
    auto plane = listener_ ? listener_->dataPlane(id) : nullptr;
    if (plane) {
      session->pipe.setPlane(std::move(plane));
    } else {
      session->pipe.setPeer(kj::mv(peerSink));
    }
    auto local = session->pipe.makeLocalSink();
    retire(id);
    sessions_[id] = std::move(session);
    return local;
  }
  // The connection ended: its session goes.
  void closed(uint64_t id) { retire(id); }
  size_t size() const { return sessions_.size(); }
  template <class F>
  void forEach(F f) const {
    for (auto& [id, s] : sessions_)
      f(*s);
  }

 private:
  void retire(uint64_t id) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    std::shared_ptr<Session> dying(std::move(it->second));
    sessions_.erase(it);
    tasks_.add(kj::evalLater([dying]() mutable { dying.reset(); }));
  }

  struct Errors final : kj::TaskSet::ErrorHandler {
    void taskFailed(kj::Exception&&) override {}
  } errors_;
  std::map<uint64_t, std::unique_ptr<Session>> sessions_;
  const Listener* listener_ = nullptr;
  kj::TaskSet tasks_{errors_};
};

}  // namespace onionsplit::ipc
