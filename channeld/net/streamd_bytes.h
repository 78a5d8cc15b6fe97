// channeld/net/streamd_bytes.h: the bytes of streamd's exit connections, for AccountingMax. C tor
// counts an exit's sockets toward its budget as well as its OR connections; here the first are
// streamd's (exit_bytes_read_total, exit_bytes_written_total) and channeld asks for them once a
// second through streamd's Control interface (proto/control.capnp), over one connection kept open
// to IPCDirectory/streamd.sock (made again after streamd restarts). A streamd that does not answer
// costs nothing but its bytes until it does. Over the same connection it tells streamd whether the
// relay hibernates (Control.setHibernating: streamd then refuses new BEGINs), after every connect
// and on every change, since a restarted streamd, or one whose connection closed, is awake.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <string>

#include <kj/async.h>

#include "channeld/net/link_tls.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::channeld {

class StreamdBytes {
 public:
  StreamdBytes(event_base* base, std::string socketPath);
  ~StreamdBytes();
  StreamdBytes(const StreamdBytes&) = delete;
  StreamdBytes& operator=(const StreamdBytes&) = delete;

  // Asks streamd again unless a question is out (one that stays unanswered for 5 calls ends the
  // connection); connects first when there is no connection. Tells the hibernation state too
  // when streamd has not acknowledged it on this connection.
  void poll();
  // What streamd said last: read is bytes from exit connections, written bytes to them. A streamd
  // that restarted starts from 0 again.
  LinkTraffic totals() const { return totals_; }
  uint64_t answers() const { return answers_; }
  // The relay hibernates (soft or hard) or not: streamd hears it now if connected and at every
  // connect after.
  void setHibernating(bool on);
  uint64_t hibernationTold() const { return told_; }

 private:
  void drop();
  void tell();

  event_base* base_;
  std::string path_;
  std::unique_ptr<ipc::RpcConnection> conn_;
  kj::Promise<void> asking_ = kj::READY_NOW;  // before conn_ goes
  kj::Promise<void> telling_ = kj::READY_NOW;
  bool busy_ = false, broken_ = false;
  bool hibernating_ = false;  // what streamd should know
  int streamdKnows_ = -1;     // what it acknowledged on this connection (-1: nothing)
  bool tellingBusy_ = false;
  uint64_t told_ = 0;  // setHibernating calls answered
  int waited_ = 0;
  LinkTraffic totals_;
  uint64_t answers_ = 0;
};

}  // namespace onionsplit::channeld
