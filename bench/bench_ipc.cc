// bench/bench_ipc.cc: the IPC substrate between processes, beside raw socketpairs in the same run.
//
//   one hop:     producer process --BatchPipe over Cap'n Proto--> consumer process
//   chain:       producer --> relay process (takes a message only when it can pass it on) -->
//   consumer
//                (the shape of channeld -> circuitd -> streamd)
//   latency:     one message there and back at idle; per hop = half the round trip
//   allocations: malloc calls per message in the consumer during the steady state
//   CPU:         both processes' CPU (user and kernel) per KiB moved, one hop
//   transport:   the same batches through a socketpair and through a shared-memory ring
//                (common/ipc/shm_ring.h, a memfd, socket doorbells), streaming and in lockstep
//
// Baselines: the same messages (498-byte bodies in 512-byte records), in batches of the same size,
// written and read with plain write()/read() on socketpairs through the same process shapes.
// Every figure comes from this run; the last line is the one-hop RESULT.
// Flags: --benchmark_min_time=S scales the run (CI's smoke run passes a tiny value); --hop runs
// the one hop alone (for a profile of the pipe).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
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
#include <span>
#include <string>
#include <vector>

#include "common/ipc/boundaries.h"
#include "common/ipc/event_loop.h"
#include "common/ipc/shm_ring.h"

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
  End(ipc::EventLoop& loop, int fd, bool server, uint32_t batch = kBatch)
      : pipe(windows(), *this, batch) {
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

// Producer: opens kFlows flows and sends `total` DATA messages round-robin as credit allows;
// with `perTurn`, at most that many per loop turn (a batch ends with the turn, as in the daemons,
// where batches are smaller than the pipe's maxBatch).
void produce(int fd, uint64_t total, uint32_t batch = kBatch, uint32_t perTurn = 0) {
  ipc::EventLoop loop;
  End end(loop, fd, false, batch);
  uint64_t sent = 0;
  bool again = false;
  std::function<void()> pump = [&] {
    uint64_t turnStart = sent;
    for (bool progress = true; progress && sent < total;) {
      progress = false;
      for (FlowId f = 1; f <= kFlows && sent < total; ++f)
        if ((!perTurn || sent - turnStart < perTurn) && end.pipe.canSend(f)) {
          end.send(f, kData);
          ++sent;
          progress = true;
        }
    }
    if (perTurn && sent - turnStart == perTurn && sent < total && !again) {
      again = true;  // the turn's share is out: the rest on the next turn
      kj::evalLater([&] {
        again = false;
        pump();
      }).detach([](kj::Exception&&) {});
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
  double bytesPerBatch = 0;   // the messages of those batches on the wire
  double cpuNsPerKiB = 0;     // both processes' CPU over the whole run, per KiB of 512-byte records
  double sysNsPerKiB = 0;     // the part of it in the kernel
};
Rate consume(int fd, uint64_t total, uint32_t batch = kBatch) {
  ipc::EventLoop loop;
  End end(loop, fd, true, batch);
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
      r.bytesPerBatch = static_cast<double>(st.frameBytesReceived) /
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
// CPU seconds, in user space and in the kernel.
struct Cpu {
  double user = 0, sys = 0;
  double total() const { return user + sys; }
  Cpu operator+(Cpu o) const { return {user + o.user, sys + o.sys}; }
  Cpu operator-(Cpu o) const { return {user - o.user, sys - o.sys}; }
};
Cpu cpuSeconds(const rusage& ru) {
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return {s(ru.ru_utime), s(ru.ru_stime)};
}

// Waits for the children; returns their CPU summed.
Cpu reapCpu(std::initializer_list<pid_t> pids) {
  Cpu cpu;
  for (pid_t p : pids) {
    rusage ru{};
    int status = 0;
    wait4(p, &status, 0, &ru);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "bench_ipc: a transport process failed\n");
      std::exit(2);
    }
    cpu = cpu + cpuSeconds(ru);
  }
  return cpu;
}

void reap(std::initializer_list<pid_t> pids) {
  for (pid_t p : pids)
    waitpid(p, nullptr, 0);
}

Cpu selfCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return cpuSeconds(ru);
}

Rate oneHop(uint64_t total, bool raw, uint32_t batch = kBatch, uint32_t perTurn = 0) {
  int s[2];
  pairOf(s);
  Cpu cpu0 = selfCpu();
  pid_t a = spawn([&] {
    close(s[1]);
    if (raw) {
      rawProduce(s[0], total);
    } else {
      produce(nonblocking(s[0]), total, batch, perTurn);
    }
  });
  close(s[0]);
  Rate r;
  if (raw) {
    r.perSecond = rawConsume(s[1], total);
    close(s[1]);
  } else {
    r = consume(nonblocking(s[1]), total, batch);
  }
  Cpu cpu = reapCpu({a}) + selfCpu() - cpu0;
  double kib = static_cast<double>(total * kRecord) / 1024;
  r.cpuNsPerKiB = cpu.total() * 1e9 / kib;
  r.sysNsPerKiB = cpu.sys * 1e9 / kib;
  return r;
}

// The daemons' shape: pipes with their maxBatch (256), 14 messages per loop turn.
Rate daemonHop(uint64_t total) {
  return oneHop(total, false, 256, 14);
}
void printDaemonHop(const Rate& r) {
  std::printf(
      "ipc: CPU per KiB, one hop as the daemons batch (maxBatch 256, 14 per turn): %.0f ns (%.0f "
      "in the kernel), %.1f events and %.0f bytes per received batch\n",
      r.cpuNsPerKiB, r.sysNsPerKiB, r.eventsPerBatch, r.bytesPerBatch);
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

// --- The transport alone: a socketpair against a shared-memory ring (issue 19, item 1) ---
//
// Both move the same bytes: batches of `batch` 512-byte records, from a producer process into a
// consumer process's private buffer. The socket writes each batch with write() and reads it with
// read(); the ring copies it into a memfd both map and out again into private memory (as a
// receiver must before it parses), with a byte on a socketpair as the doorbell, sent only when
// the other side sleeps. Streaming: the producer writes as fast as the transport takes it.
// Lockstep: the producer waits for a one-byte acknowledgement after each batch, so every batch is
// a wake-up on each side, as in the daemons when circuits are flow-controlled. CPU is both
// processes' user + system time (wait4), per KiB moved.
struct TransportRun {
  double seconds = 0;  // wall
  Cpu cpu;             // both sides'
  uint64_t bytes = 0;
  double nsPerKiB() const { return cpu.total() * 1e9 / (static_cast<double>(bytes) / 1024); }
  double sysShare() const { return cpu.sys / cpu.total(); }
  double mibPerSecond() const { return static_cast<double>(bytes) / seconds / (1 << 20); }
};

void writeAll(int fd, const void* p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, static_cast<const char*>(p) + off, n - off);
    if (w <= 0) _exit(4);
    off += static_cast<size_t>(w);
  }
}
void readAll(int fd, void* p, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t r = read(fd, static_cast<char*>(p) + off, n - off);
    if (r <= 0) _exit(4);
    off += static_cast<size_t>(r);
  }
}
void bell(int fd) {
  char b = 1;
  writeAll(fd, &b, 1);
}
void waitBell(int fd) {
  char b[16];
  if (read(fd, b, sizeof b) <= 0) _exit(4);  // drains spurious doorbells too
}

void socketProducer(int fd, uint64_t batches, size_t batchBytes, bool lockstep) {
  std::vector<uint8_t> buf(batchBytes, 'x');
  for (uint64_t i = 0; i < batches; ++i) {
    writeAll(fd, buf.data(), batchBytes);
    if (lockstep) readAll(fd, buf.data(), 1);
  }
}
void socketConsumer(int fd, uint64_t batches, size_t batchBytes, bool lockstep) {
  if (lockstep) {
    std::vector<uint8_t> buf(batchBytes);
    for (uint64_t i = 0; i < batches; ++i) {
      readAll(fd, buf.data(), batchBytes);
      bell(fd);
    }
    return;
  }
  // As FramedSocket reads: whatever the socket has, up to 64 KiB, whatever the batches.
  std::vector<uint8_t> buf(64 * 1024);
  for (uint64_t left = batches * batchBytes; left > 0;) {
    ssize_t r = read(fd, buf.data(), std::min<uint64_t>(left, buf.size()));
    if (r <= 0) _exit(4);
    left -= static_cast<uint64_t>(r);
  }
}

constexpr size_t kRingCapacity = 1 << 20;  // the connection credit window (1 MiB)

void ringProducer(void* map, int fd, uint64_t batches, size_t batchBytes, bool lockstep) {
  ipc::ShmRingProducer tx(map, kRingCapacity, batchBytes);
  std::vector<uint8_t> buf(batchBytes, 'x');
  std::span<const uint8_t> frame[] = {buf};
  for (uint64_t i = 0; i < batches; ++i) {
    ipc::ShmRing::Status st;
    while ((st = tx.write(frame)) == ipc::ShmRing::Status::kFull) {
      if (tx.doorbellNeeded()) bell(fd);
      if (tx.prepareWaitForSpace(batchBytes)) waitBell(fd);
    }
    if (st != ipc::ShmRing::Status::kOk) _exit(5);
    if (tx.doorbellNeeded()) bell(fd);
    if (lockstep) waitBell(fd);
  }
}
void ringConsumer(void* map, int fd, uint64_t batches, size_t batchBytes, bool lockstep) {
  ipc::ShmRingConsumer rx(map, kRingCapacity, batchBytes);
  std::vector<uint8_t> buf(batchBytes);
  for (uint64_t got = 0; got < batches;) {
    size_t n = 0;
    switch (rx.read(buf, &n)) {
      case ipc::ShmRing::Status::kOk:
        ++got;
        if (rx.producerDoorbellNeeded() || lockstep) bell(fd);
        break;
      case ipc::ShmRing::Status::kEmpty:
        if (rx.prepareSleep()) {
          waitBell(fd);
          rx.awake();
        }
        break;
      default:
        _exit(5);
    }
  }
}

void* sharedRing() {
  int fd = memfd_create("bench_ipc_ring", MFD_CLOEXEC);
  size_t bytes = ipc::ShmRing::mappingBytes(kRingCapacity);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    std::perror("memfd");
    std::exit(2);
  }
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);  // the mapping keeps the memory; the children inherit it
  if (map == MAP_FAILED) {
    std::perror("mmap");
    std::exit(2);
  }
  ipc::ShmRing::format(map);
  return map;
}

TransportRun transport(bool ring, uint64_t records, uint32_t batch, bool lockstep) {
  size_t batchBytes = batch * kRecord;
  uint64_t batches = records / batch;
  void* map = ring ? sharedRing() : nullptr;
  int s[2];
  pairOf(s);
  double t0 = now();
  pid_t p = spawn([&] {
    close(s[1]);
    ring ? ringProducer(map, s[0], batches, batchBytes, lockstep)
         : socketProducer(s[0], batches, batchBytes, lockstep);
  });
  pid_t c = spawn([&] {
    close(s[0]);
    ring ? ringConsumer(map, s[1], batches, batchBytes, lockstep)
         : socketConsumer(s[1], batches, batchBytes, lockstep);
  });
  close(s[0]);
  close(s[1]);
  TransportRun r;
  r.cpu = reapCpu({p, c});
  r.seconds = now() - t0;
  r.bytes = batches * batchBytes;
  if (map) munmap(map, ipc::ShmRing::mappingBytes(kRingCapacity));
  return r;
}

struct TransportPair {
  TransportRun socket, ring;
};
TransportPair transports(uint64_t records, uint32_t batch, bool lockstep) {
  TransportPair p{transport(false, records, batch, lockstep),
                  transport(true, records, batch, lockstep)};
  std::printf(
      "ipc transport: batch %u x %zu B, %s: socketpair %.0f MiB/s, %.0f ns CPU/KiB (%.0f%% "
      "kernel); shared ring %.0f MiB/s, %.0f ns CPU/KiB (%.0f%% kernel) (%.2fx)\n",
      batch, kRecord, lockstep ? "lockstep" : "streaming", p.socket.mibPerSecond(),
      p.socket.nsPerKiB(), 100 * p.socket.sysShare(), p.ring.mibPerSecond(), p.ring.nsPerKiB(),
      100 * p.ring.sysShare(), p.ring.nsPerKiB() / p.socket.nsPerKiB());
  return p;
}

void result(const char* name, double v, const char* unit, double base) {
  std::printf("RESULT %s value=%.4g %s baseline=%.4g ratio=%.3f\n", name, v, unit, base, v / base);
}

// The transports side by side, and the one hop's CPU with what it would be over the ring: the
// pipe's own work plus the ring instead of the socket (an estimate: the pipe's socket wakes and
// reads differently from the raw baseline's).
void transportReport(uint64_t total, const Rate& rawHop, const Rate& hop, const Rate& hop14) {
  TransportPair stream64 = transports(total, kBatch, false),
                stream14 = transports(total, 14, false);
  TransportPair lock64 = transports(total / 4, kBatch, true),
                lock14 = transports(total / 4, 14, true);
  double pipeOverRing = hop.cpuNsPerKiB - stream64.socket.nsPerKiB() + stream64.ring.nsPerKiB();
  std::printf(
      "ipc: CPU per KiB, one hop: BatchPipe over data frames %.0f ns (%.0f in the kernel), raw "
      "socketpair %.0f ns (%.0f); the pipe over the shared ring, estimated %.0f ns (%.2fx)\n",
      hop.cpuNsPerKiB, hop.sysNsPerKiB, rawHop.cpuNsPerKiB, rawHop.sysNsPerKiB, pipeOverRing,
      pipeOverRing / hop.cpuNsPerKiB);
  std::printf(
      "ipc: CPU per KiB, one hop in batches of 14: BatchPipe %.0f ns (%.0f in the kernel), %.1f "
      "events per received batch\n",
      hop14.cpuNsPerKiB, hop14.sysNsPerKiB, hop14.eventsPerBatch);
  result("ipc_ring_cpu_per_kib_batch64", stream64.ring.nsPerKiB(), "ns/KiB",
         stream64.socket.nsPerKiB());
  result("ipc_ring_cpu_per_kib_batch14", stream14.ring.nsPerKiB(), "ns/KiB",
         stream14.socket.nsPerKiB());
  result("ipc_ring_cpu_per_kib_batch64_lockstep", lock64.ring.nsPerKiB(), "ns/KiB",
         lock64.socket.nsPerKiB());
  result("ipc_ring_cpu_per_kib_batch14_lockstep", lock14.ring.nsPerKiB(), "ns/KiB",
         lock14.socket.nsPerKiB());
  result("ipc_ring_rate_batch64", stream64.ring.mibPerSecond(), "MiB/s",
         stream64.socket.mibPerSecond());
  result("ipc_ring_pipe_cpu_per_kib_estimate", pipeOverRing, "ns/KiB", hop.cpuNsPerKiB);
}

}  // namespace
}  // namespace onionsplit::bench

int main(int argc, char** argv) {
  using namespace onionsplit::bench;
  double minTime = 0.5;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--benchmark_min_time=", 21) == 0) minTime = std::atof(argv[i] + 21);
  bool smoke = minTime < 0.1;
  // --hop: only the one hop (the pipe and the raw socket), for profiling the pipe itself.
  bool hopOnly = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--hop") == 0) hopOnly = true;
  uint64_t total = smoke ? 20000 : 1000000;
  int pings = smoke ? 200 : 5000;
  signal(SIGPIPE, SIG_IGN);

  Rate rawHop = oneHop(total, true), hop = oneHop(total, false), hop14 = oneHop(total, false, 14);
  if (hopOnly) {
    std::printf(
        "ipc: CPU per KiB, one hop: BatchPipe over data frames %.0f ns (%.0f in the kernel), raw "
        "socketpair %.0f ns (%.0f); in batches of 14: %.0f ns (%.0f)\n",
        hop.cpuNsPerKiB, hop.sysNsPerKiB, rawHop.cpuNsPerKiB, rawHop.sysNsPerKiB, hop14.cpuNsPerKiB,
        hop14.sysNsPerKiB);
    printDaemonHop(daemonHop(total));
    result("ipc_one_hop_rate", hop.perSecond, "msgs/s", rawHop.perSecond);
    return 0;
  }
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
  transportReport(total, rawHop, hop, hop14);
  printDaemonHop(daemonHop(total));
  result("ipc_chain3_rate", ch.perSecond, "msgs/s", rawChain.perSecond);
  result("ipc_hop_latency_median", lat, "us", rawLat);
  result("ipc_one_hop_rate", hop.perSecond, "msgs/s", rawHop.perSecond);
  return 0;
}
