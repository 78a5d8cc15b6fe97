// common/ipc/session.h: a BatchPipe bound to one connection between daemons, with the rule every
// boundary shares: a peer that breaks the contract gets one log line and loses the connection (and
// everything bound to it), and the daemon keeps running.
//
// Session<Traits> is what the connection's owner (ServerSessions here, ClientLink) holds, whatever
// per-flow state the daemon keeps; PeerSession<Traits, State> is the base of every daemon's handler
// of a boundary. RefusingSession is the stance of a daemon toward flows it cannot serve (yet, or
// any more): every flow the peer opens is answered at once with the boundary's close and a reason,
// so the client sees a protocol-correct refusal (DESTROY, END) instead of silence.
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
class Session {
 public:
  virtual ~Session() noexcept(false) = default;
  virtual void setPlane(std::shared_ptr<DataPlane> plane) = 0;
  virtual void setPeer(typename Traits::Sink::Client peer) = 0;
  virtual typename Traits::Sink::Client makeLocalSink() = 0;
  virtual const PipeStats& pipeStats() const = 0;
};

template <class Traits, class State = NoState>
class PeerSession : public Session<Traits>, public BatchPipe<Traits, State>::Handler {
 public:
  using Pipe = BatchPipe<Traits, State>;

  // `drop` ends the connection; it must defer the destruction of this session (Listener::drop and
  // Reconnector::drop do).
  PeerSession(std::string peer, flowctl::CreditWindows w, std::function<void()> drop)
      : pipe(w, *this), peer_(std::move(peer)), drop_(std::move(drop)) {}

  void onViolation(const std::string& why) override {
    spdlog::warn("ipc: {} broke the contract ({}); dropping the connection", peer_, why);
    if (drop_) drop_();
  }
  void setPlane(std::shared_ptr<DataPlane> plane) override { pipe.setPlane(std::move(plane)); }
  void setPeer(typename Traits::Sink::Client peer) override { pipe.setPeer(kj::mv(peer)); }
  typename Traits::Sink::Client makeLocalSink() override { return pipe.makeLocalSink(); }
  const PipeStats& pipeStats() const override { return pipe.stats(); }

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
  using Admit = Verdict (*)(typename Event::Reader);

  // `admit`: the boundary's rules for what the peer may send (boundaries.h).
  RefusingSession(std::string peer, flowctl::CreditWindows w, std::function<void()> drop,
                  uint8_t reason, Admit admitFn)
      : PeerSession<Traits>(std::move(peer), w, std::move(drop)),
        reason_(reason),
        admit_(admitFn) {}

  Verdict admit(typename Event::Reader e) override { return admit_(e); }
  Verdict onControl(typename Event::Reader) override { return Verdict::accept(); }
  FlowVerdict onFlowEvent(FlowId, NoState&, typename Event::Reader, CreditToken) override {
    ++refused_;  // only an opener reaches us: every flow is refused at once
    return FlowVerdict::closeFlow(reason_);
  }
  void onPeerClose(FlowId, NoState&, typename Event::Reader) override {}
  uint64_t refused() const { return refused_; }

 private:
  uint8_t reason_;
  Admit admit_;
  uint64_t refused_ = 0;
};

// The serving side's sessions of one boundary, by connection (a peer may attach once per
// connection). Sessions of a closed connection are destroyed on a later loop turn.
template <class Traits>
class ServerSessions {
 public:
  using Sink = typename Traits::Sink;

  // Connections' data planes come from `listener` (the daemons): sessions exchange batches as data
  // frames. Without it (tests) they push to the peer's sink over RPC.
  void usePlanesOf(const Listener& listener) { listener_ = &listener; }

  // Binds `session` to connection `id` (its data plane, or the peer's sink); returns the sink the
  // peer may push to. A second attach on the same connection replaces the first.
  typename Sink::Client attach(uint64_t id, std::unique_ptr<Session<Traits>> session,
                               typename Sink::Client peerSink) {
    auto plane = listener_ ? listener_->dataPlane(id) : nullptr;
    if (plane) {
      session->setPlane(std::move(plane));
    } else {
      session->setPeer(kj::mv(peerSink));
    }
    auto local = session->makeLocalSink();
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
    std::shared_ptr<Session<Traits>> dying(std::move(it->second));
    sessions_.erase(it);
    tasks_.add(kj::evalLater([dying]() mutable { dying.reset(); }));
  }

  struct Errors final : kj::TaskSet::ErrorHandler {
    void taskFailed(kj::Exception&&) override {}
  } errors_;
  std::map<uint64_t, std::unique_ptr<Session<Traits>>> sessions_;
  const Listener* listener_ = nullptr;
  kj::TaskSet tasks_{errors_};
};

}  // namespace onionsplit::ipc
