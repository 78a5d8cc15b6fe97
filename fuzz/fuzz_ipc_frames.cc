// fuzz/fuzz_ipc_frames.cc: a hostile peer daemon's raw bytes on an IPC socket (frame_stream.h):
// frame headers of any length and kind, RPC bytes, and data frames that must parse as batches of
// a boundary (here circuit_stream.capnp, into a RefusingSession bound to the connection's data
// plane, as the daemons bind theirs). Nothing may crash, hang or grow without bound; a malformed
// frame or batch closes the connection.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "common/ipc/boundaries.h"
#include "common/ipc/event_loop.h"
#include "common/ipc/session.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

namespace {

ipc::Verdict fromCircuitd(proto::StreamEvent::Reader e) {
  return ipc::StreamTraits::admit(ipc::Side::kCircuitd, ipc::Side::kStreamd, e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ipc::EventLoop& loop = fuzz::fuzzLoop();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  {
    bool dropped = false;
    ipc::RefusingSession<ipc::StreamTraits> session(
        "peer", ipc::defaultWindows(), [&dropped] { dropped = true; }, 5, &fromCircuitd);
    auto conn = std::make_unique<ipc::RpcConnection>(loop.base(), sv[0], true,
                                                     capnp::Capability::Client(nullptr));
    session.pipe.setPlane(conn->dataPlane());
    size_t off = 0;
    for (int turn = 0; turn < 64 && !dropped; ++turn) {
      if (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w > 0) off += static_cast<size_t>(w);
      } else if (off == size) {
        shutdown(sv[1], SHUT_WR);
        ++off;
      }
      kj::evalLater([] {}).wait(loop.waitScope());
      event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    }
    conn.reset();
    kj::evalLater([] {}).wait(loop.waitScope());
  }
  close(sv[1]);
  return 0;
}
