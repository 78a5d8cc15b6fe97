// bench/bench_ipc.cc: the IPC substrate between processes, beside raw socketpairs in the same run.
//
//   one hop:     producer process --BatchPipe over Cap'n Proto--> consumer process
//   chain:       producer --> relay process (takes a message only when it can pass it on) -->
//   consumer
//                (the shape of channeld -> circuitd -> streamd)
//   latency:     one message there and back at idle; per hop = half the round trip
//   allocations: malloc calls per message in the consumer during the steady state
//
// Baselines: the same messages (498-byte bodies in 512-byte records), in batches of the same size,
// written and read with plain write()/read() on socketpairs through the same process shapes.
// Every figure comes from this run; the last line is the one-hop RESULT.
// Flags: --benchmark_min_time=S scales the run (CI's smoke run passes a tiny value).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/ipc/boundaries.h"
#include "common/ipc/event_loop.h"

// Counting allocator hooks (glibc): every malloc/calloc/realloc of this program is counted.
extern "C" void* __libc_malloc(size_t);
extern "C" void* __libc_calloc(size_t, size_t);
extern "C" void* __libc_realloc(void*, size_t);
static std::atomic<uint64_t> gAllocs{0};
extern "C" void* malloc(size_t n) {
  gAllocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t a, size_t b) {
  gAllocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(a, b);
}
extern "C" void* realloc(void* p, size_t n) {
  gAllocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}

namespace onionsplit::bench {
namespace {

using ipc::FlowId;
using Pipe = ipc::BatchPipe<ipc::StreamTraits>;
constexpr uint8_t kBegin = 1, kData = 2;
constexpr uint32_t kBatch = 64;
constexpr uint32_t kBody = 498;
constexpr size_t kRecord = 512;
constexpr FlowId kFlows = 8;

double now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// One end of a BatchPipe connection inside a process, with hooks for what arrives.
struct End final : Pipe::Handler {
  explicit End(ipc::EventLoop& loop, int fd, bool server) : pipe(windows(), *this, kBatch) {
    // As in the daemons: batches travel as data frames beside the RPC connection.
    conn = std::make_unique<ipc::RpcConnection>(loop.base(), fd, server, pipe.makeLocalSink());
    pipe.setPlane(conn->dataPlane());
  }
  static flowctl::CreditWindows windows() { return ipc::defaultWindows(); }
  ipc::Verdict admit(proto::StreamEvent::Reader e) override {
    return ipc::StreamTraits::admit(ipc::Side::kCircuitd, ipc::Side::kStreamd, e);
  }
  ipc::Verdict onControl(proto::StreamEvent::Reader) override {
    return ipc::Verdict::breach("no control events here");
  }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e,
                               ipc::CreditToken token) override {
    if (onMessage) onMessage(f, e.getRelay().getCommand(), std::move(token));
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(FlowId, ipc::NoState&, proto::StreamEvent::Reader) override {}
  void onCredit() override {
    if (credit) credit();
  }
  void onViolation(const std::string& why) override {
    if (why.rfind("push failed", 0) == 0) return;  // the other process finished and closed
    std::fprintf(stderr, "bench_ipc: violation: %s\n", why.c_str());
    std::exit(3);
  }
  // Sends one message; the caller checked canSend (or it is an opener).
  void send(FlowId f, uint8_t cmd) {
    auto e = pipe.add();
    e.setFlow(f);
    auto r = e.initRelay();
    r.setStreamId(1);
    r.setCommand(cmd);
    r.initBody(cmd == kBegin ? 0 : kBody);
    pipe.commit(f, e);
  }

  Pipe pipe;
  std::unique_ptr<ipc::RpcConnection> conn;
  // A message arrived; its credit goes back when the token goes.
  std::function<void(FlowId, uint8_t, ipc::CreditToken)> onMessage;
  std::function<void()> credit;
};

// Producer: opens kFlows flows and sends `total` DATA messages round-robin as credit allows.
void produce(int fd, uint64_t total) {
  ipc::EventLoop loop;
  End end(loop, fd, false);
  uint64_t sent = 0;
  auto pump = [&] {
    for (bool progress = true; progress && sent < total;) {
      progress = false;
      for (FlowId f = 1; f <= kFlows && sent < total; ++f)
        if (end.pipe.canSend(f)) {
          end.send(f, kData);
          ++sent;
          progress = true;
        }
    }
  };
  for (FlowId f = 1; f <= kFlows; ++f) {
    end.pipe.openFlow(f);
    end.send(f, kBegin);
  }
  end.credit = pump;
  pump();
  end.conn->onDisconnect().wait(loop.waitScope());  // the consumer closes when it has all
}

// Relay: passes each message on, taking it from the inbound pipe only when the outbound can send.
void relay(int inFd, int outFd) {
  ipc::EventLoop loop;
  End in(loop, inFd, true), out(loop, outFd, false);
  struct Queued {
    FlowId f;
    uint8_t cmd;
    ipc::CreditToken credit;
  };
  std::deque<Queued> queued;  // the edge queue: bounded by the windows
  auto drain = [&] {
    while (!queued.empty()) {
      Queued& q = queued.front();
      if (q.cmd == kBegin) {
        out.pipe.openFlow(q.f);
      } else if (!out.pipe.canSend(q.f)) {
        break;  // one flow's stall holds the queue: fine for one producer's round-robin
      }
      out.send(q.f, q.cmd);
      queued.pop_front();  // its credit goes back
    }
  };
  in.onMessage = [&](FlowId f, uint8_t cmd, ipc::CreditToken credit) {
    queued.push_back(Queued{f, cmd, std::move(credit)});
    drain();
  };
  out.credit = drain;
  out.conn->onDisconnect().wait(loop.waitScope());
}

// Consumer (this process): counts `total` DATA messages; returns messages per second over the
// steady state (after the first tenth) and the mallocs per message in that window.
struct Rate {
  double perSecond = 0;
  double allocsPerMessage = 0;
  double eventsPerBatch = 0;  // as received by the consumer, credit-only batches included
};
Rate consume(int fd, uint64_t total) {
  ipc::EventLoop loop;
  End end(loop, fd, true);
  uint64_t got = 0, warm = total / 10;
  double t0 = 0;
  uint64_t a0 = 0;
  Rate r;
  end.onMessage = [&](FlowId, uint8_t cmd, ipc::CreditToken) {
    if (cmd != kData) return;
    if (++got == warm) {
      t0 = now();
      a0 = gAllocs.load();
    }
    if (got == total) {
      double dt = now() - t0;
      r.perSecond = static_cast<double>(total - warm) / dt;
      r.allocsPerMessage =
          static_cast<double>(gAllocs.load() - a0) / static_cast<double>(total - warm);
      const auto& st = end.pipe.stats();
      r.eventsPerBatch = static_cast<double>(st.eventsReceived) /
                         static_cast<double>(st.batchesReceived ? st.batchesReceived : 1);
      loop.stop();
    }
  };
  loop.run();
  return r;
}

// Raw baseline: records in batches of kBatch with write(); the reader counts records.
void rawProduce(int fd, uint64_t total) {
  std::vector<char> buf(kBatch * kRecord, 'x');
  for (uint64_t sent = 0; sent < total; sent += kBatch) {
    size_t n = std::min<uint64_t>(kBatch, total - sent) * kRecord, off = 0;
    while (off < n) {
      ssize_t w = write(fd, buf.data() + off, n - off);
      if (w <= 0) return;
      off += static_cast<size_t>(w);
    }
  }
}
void rawRelay(int inFd, int outFd) {
  std::vector<char> buf(kBatch * kRecord);
  for (;;) {
    ssize_t n = read(inFd, buf.data(), buf.size());
    if (n <= 0) return;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(outFd, buf.data() + off, static_cast<size_t>(n - off));
      if (w <= 0) return;
      off += w;
    }
  }
}
double rawConsume(int fd, uint64_t total) {
  std::vector<char> buf(kBatch * kRecord);
  uint64_t bytes = 0, warmBytes = total / 10 * kRecord, all = total * kRecord;
  double t0 = 0;
  bool warm = false;
  while (bytes < all) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    bytes += static_cast<uint64_t>(n);
    if (!warm && bytes >= warmBytes) {
      warm = true;
      t0 = now();
    }
  }
  return static_cast<double>(total - total / 10) / (now() - t0);
}

void pairOf(int sv[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    std::perror("socketpair");
    std::exit(2);
  }
}
int nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}
template <class F>
pid_t spawn(F f) {
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    f();
    _exit(0);
  }
  return pid;
}
void reap(std::initializer_list<pid_t> pids) {
  for (pid_t p : pids)
    waitpid(p, nullptr, 0);
}

Rate oneHop(uint64_t total, bool raw) {
  int s[2];
  pairOf(s);
  pid_t a = spawn([&] {
    close(s[1]);
    if (raw) {
      rawProduce(s[0], total);
    } else {
      produce(nonblocking(s[0]), total);
    }
  });
  close(s[0]);
  Rate r;
  if (raw) {
    r.perSecond = rawConsume(s[1], total);
    close(s[1]);
  } else {
    r = consume(nonblocking(s[1]), total);
  }
  reap({a});
  return r;
}

Rate chain(uint64_t total, bool raw) {
  int s1[2], s2[2];
  pairOf(s1);
  pairOf(s2);
  pid_t a = spawn([&] {
    close(s1[1]);
    close(s2[0]);
    close(s2[1]);
    if (raw) {
      rawProduce(s1[0], total);
    } else {
      produce(nonblocking(s1[0]), total);
    }
  });
  pid_t b = spawn([&] {
    close(s1[0]);
    close(s2[1]);
    if (raw) {
      rawRelay(s1[1], s2[0]);
    } else {
      relay(nonblocking(s1[1]), nonblocking(s2[0]));
    }
  });
  close(s1[0]);
  close(s1[1]);
  close(s2[0]);
  Rate r;
  if (raw) {
    r.perSecond = rawConsume(s2[1], total);
    close(s2[1]);
  } else {
    r = consume(nonblocking(s2[1]), total);
  }
  reap({a, b});
  return r;
}

// Echo side of the latency test.
void echo(int fd) {
  ipc::EventLoop loop;
  End end(loop, fd, true);
  end.onMessage = [&](FlowId f, uint8_t cmd, ipc::CreditToken) {
    if (cmd == kData) end.send(f, kData);
  };
  end.conn->onDisconnect().wait(loop.waitScope());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median one-way latency in microseconds (half the round trip of one message at idle).
double latency(int pings, bool raw) {
  int s[2];
  pairOf(s);
  pid_t b = spawn([&] {
    close(s[0]);
    if (raw) {
      char buf[kRecord];
      for (;;) {
        size_t got = 0;
        while (got < kRecord) {
          ssize_t n = read(s[1], buf + got, kRecord - got);
          if (n <= 0) return;
          got += static_cast<size_t>(n);
        }
        if (write(s[1], buf, kRecord) != static_cast<ssize_t>(kRecord)) return;
      }
    }
    echo(nonblocking(s[1]));
  });
  close(s[1]);
  std::vector<double> rtts;
  if (raw) {
    char buf[kRecord] = {};
    for (int i = 0; i < pings; ++i) {
      double t = now();
      if (write(s[0], buf, kRecord) != static_cast<ssize_t>(kRecord)) break;
      size_t got = 0;
      while (got < kRecord) {
        ssize_t n = read(s[0], buf + got, kRecord - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      rtts.push_back(now() - t);
    }
    close(s[0]);
  } else {
    ipc::EventLoop loop;
    auto end = std::make_unique<End>(loop, nonblocking(s[0]), false);
    end->onMessage = [&](FlowId, uint8_t, ipc::CreditToken) { loop.stop(); };
    end->pipe.openFlow(1);
    end->send(1, kBegin);
    for (int i = 0; i < pings; ++i) {
      double t = now();
      end->send(1, kData);
      loop.run();
      rtts.push_back(now() - t);
    }
    end.reset();
  }
  reap({b});
  return median(rtts) / 2 * 1e6;
}

void result(const char* name, double v, const char* unit, double base) {
  std::printf("RESULT %s value=%.4g %s baseline=%.4g ratio=%.3f\n", name, v, unit, base, v / base);
}

}  // namespace
}  // namespace onionsplit::bench

int main(int argc, char** argv) {
  using namespace onionsplit::bench;
  double minTime = 0.5;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--benchmark_min_time=", 21) == 0) minTime = std::atof(argv[i] + 21);
  bool smoke = minTime < 0.1;
  uint64_t total = smoke ? 20000 : 1000000;
  int pings = smoke ? 200 : 5000;
  signal(SIGPIPE, SIG_IGN);

  Rate rawHop = oneHop(total, true), hop = oneHop(total, false);
  Rate rawChain = chain(total, true), ch = chain(total, false);
  double rawLat = latency(pings, true), lat = latency(pings, false);
  std::printf("ipc: batch %u, %llu messages of %u bytes, %llu flows\n", kBatch,
              static_cast<unsigned long long>(total), kBody,
              static_cast<unsigned long long>(kFlows));
  std::printf("ipc: events per received batch: one hop %.1f, chain %.1f\n", hop.eventsPerBatch,
              ch.eventsPerBatch);
  std::printf(
      "ipc: consumer mallocs per message in steady state: one hop %.3f, chain %.3f "
      "(per batch of %u: %.1f)\n",
      hop.allocsPerMessage, ch.allocsPerMessage, kBatch, hop.allocsPerMessage * kBatch);
  std::printf(
      "ipc: median one-way latency at idle %.1f us, raw socketpair %.1f us, added %.1f us\n", lat,
      rawLat, lat - rawLat);
  result("ipc_chain3_rate", ch.perSecond, "msgs/s", rawChain.perSecond);
  result("ipc_hop_latency_median", lat, "us", rawLat);
  result("ipc_one_hop_rate", hop.perSecond, "msgs/s", rawHop.perSecond);
  return 0;
}
