// launcher/control_ipc.cc: see control_ipc.h.
#include "launcher/control_ipc.h"

#include <unistd.h>

#include <memory>
#include <string_view>

#include <kj/vector.h>

#include "launcher/metrics_scrape.h"
#include "proto/control.capnp.h"

namespace onionsplit::launcher {
namespace {

// The connections and answers of one round of questions; the promises go before the connections.
struct Round {
  std::vector<std::unique_ptr<ipc::RpcConnection>> connections;
  std::vector<bool> answered;
  std::optional<std::string> fingerprint;
  RelayView view;
  int parts = 0;  // of the view's two answers
};

ipc::RpcConnection* connectTo(ipc::EventLoop& loop, Round& r, const std::string& path) {
  int fd = connectDaemon(path);
  if (fd < 0) return nullptr;
  r.connections.push_back(std::make_unique<ipc::RpcConnection>(loop.base(), fd, false,
                                                               capnp::Capability::Client(nullptr)));
  return r.connections.back().get();
}

bool isFingerprint(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

void takeChannels(RelayView& v, capnp::List<proto::OrChannel>::Reader list) {
  for (auto c : list) {
    if (v.channels.size() >= RelayView::kMaxChannels) break;
    std::string fp = c.getFingerprint().cStr();
    v.channels.push_back({isFingerprint(fp) ? fp : std::string(), c.getOpen(), c.getLaunched()});
  }
}

}  // namespace

kj::Promise<std::optional<RelayView>> askRelayView(ipc::EventLoop& loop,
                                                   const std::string& ipcDirectory,
                                                   std::chrono::milliseconds timeout) {
  auto round = kj::heap<Round>();
  Round* r = round.get();
  ipc::RpcConnection* conn = connectTo(loop, *r, ipcDirectory + "/channeld.sock");
  if (!conn) return std::optional<RelayView>();
  auto control = conn->bootstrap<proto::Control>();
  auto channels = control.channelsRequest().send().then(
      [r](auto&& a) {
        takeChannels(r->view, a.getChannels());
        ++r->parts;
      },
      [](kj::Exception&&) {});
  auto descriptor = control.descriptorRequest().send().then(
      [r](auto&& a) {
        auto text = a.getDescriptor();
        std::string_view body(text.cStr(), text.size());
        if (body.size() <= RelayView::kMaxDescriptorBytes && body.starts_with("router "))
          r->view.descriptor = std::string(body);
        ++r->parts;
      },
      [](kj::Exception&&) {});
  kj::Vector<kj::Promise<void>> both;
  both.add(kj::mv(channels));
  both.add(kj::mv(descriptor));
  return kj::joinPromises(both.releaseAsArray())
      .exclusiveJoin(loop.afterDelay(static_cast<uint32_t>(timeout.count())))
      .then([r] {
        return r->parts == 2 ? std::optional<RelayView>(std::move(r->view)) : std::nullopt;
      })
      .attach(kj::mv(round));
}

kj::Promise<std::optional<std::string>> askFingerprint(ipc::EventLoop& loop,
                                                       const std::string& ipcDirectory,
                                                       std::chrono::milliseconds timeout) {
  auto round = kj::heap<Round>();
  Round* r = round.get();
  ipc::RpcConnection* conn = connectTo(loop, *r, ipcDirectory + "/channeld.sock");
  if (!conn) return std::optional<std::string>();
  auto answer = conn->bootstrap<proto::Control>().identityRequest().send().then(
      [r](auto&& a) {
        std::string fp = a.getFingerprint().cStr();
        if (isFingerprint(fp)) r->fingerprint = fp;
      },
      [](kj::Exception&&) {});
  return answer.exclusiveJoin(loop.afterDelay(static_cast<uint32_t>(timeout.count())))
      .then([r] { return r->fingerprint; })
      .attach(kj::mv(round));
}

kj::Promise<std::vector<std::string>> askReload(ipc::EventLoop& loop,
                                                const std::string& ipcDirectory,
                                                const std::vector<std::string>& daemons,
                                                std::chrono::milliseconds timeout) {
  auto round = kj::heap<Round>();
  Round* r = round.get();
  r->answered.assign(daemons.size(), false);
  kj::Vector<kj::Promise<void>> answers;
  for (size_t i = 0; i < daemons.size(); ++i) {
    ipc::RpcConnection* conn = connectTo(loop, *r, ipcDirectory + "/" + daemons[i] + ".sock");
    if (!conn) continue;
    answers.add(conn->bootstrap<proto::Control>()
                    .reloadRequest()
                    .send()
                    .then([r, i](auto&&) { r->answered[i] = true; }, [](kj::Exception&&) {})
                    .eagerlyEvaluate(nullptr));
  }
  return kj::joinPromises(answers.releaseAsArray())
      .exclusiveJoin(loop.afterDelay(static_cast<uint32_t>(timeout.count())))
      .then([r, daemons] {
        std::vector<std::string> missed;
        for (size_t i = 0; i < daemons.size(); ++i)
          if (!r->answered[i]) missed.push_back(daemons[i]);
        return missed;
      })
      .attach(kj::mv(round));
}

}  // namespace onionsplit::launcher
