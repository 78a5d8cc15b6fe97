// bench/bench_handshake.cc: server-side circuit handshakes per second (ntor and ntor v3 with the
// congestion-control extension), each beside a baseline of the plain X25519 operations the server
// must do, measured in the same run: ntor and ntor v3 both make one keypair and two shared secrets.
#include <benchmark/benchmark.h>

#include <array>

#include "bench/support/result.h"
#include "common/cell/handshake_ext.h"
#include "common/crypto/curve25519.h"
#include "common/crypto/ntor_handshakes.h"

using namespace onionsplit;
using namespace onionsplit::crypto;

namespace {

std::array<uint8_t, 32> bytes32(uint8_t b) {
  std::array<uint8_t, 32> a{};
  a.fill(b);
  return a;
}

void BM_Baseline_X25519Ops(benchmark::State& state) {
  auto peer = *Curve25519Keypair::fromSecret(bytes32(1));
  auto ours = *Curve25519Keypair::fromSecret(bytes32(2));
  std::array<uint8_t, 32> out;
  uint8_t n = 0;
  for (auto _ : state) {
    auto eph = Curve25519Keypair::fromSecret(bytes32(++n));
    benchmark::DoNotOptimize(eph);
    x25519(eph->secret, peer.publicKey, out);
    x25519(ours.secret, peer.publicKey, out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_X25519Ops);

void BM_NtorServer(benchmark::State& state) {
  std::array<uint8_t, 20> id{};
  Curve25519Keypair keys[] = {*Curve25519Keypair::fromSecret(bytes32(2))};
  std::array<uint8_t, kNtorOnionskinLen> skin;
  ntorClientCreate(id, keys[0].publicKey, bytes32(1), skin);
  uint8_t n = 0;
  for (auto _ : state) {
    auto r = ntorServer(id, keys, skin, bytes32(++n));
    if (!r) state.SkipWithError("handshake failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NtorServer);

void BM_Ntor3Server(benchmark::State& state) {
  std::array<uint8_t, 32> id = bytes32(9);
  Curve25519Keypair keys[] = {*Curve25519Keypair::fromSecret(bytes32(2))};
  const uint8_t cm[] = {1, 1, 0};  // CC requested
  Ntor3ClientState st;
  auto hs = ntor3ClientCreate(id, keys[0].publicKey, Bytes(cm), bytes32(1),
                              kNtor3CircuitVerification, st);
  Ntor3Reply reply = [](Bytes m) -> std::optional<std::vector<uint8_t>> {
    auto n = cell::negotiateExit(m, {});
    if (!n) return std::nullopt;
    return std::vector<uint8_t>(n->reply.begin(),
                                n->reply.begin() + static_cast<long>(n->replyLen));
  };
  uint8_t n = 0;
  for (auto _ : state) {
    auto r = ntor3Server(id, keys, hs, bytes32(++n), reply, kNtor3CircuitVerification);
    if (!r) state.SkipWithError("handshake failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ntor3Server);

}  // namespace

int main(int argc, char** argv) {
  return bench::runAndReport(argc, argv,
                             {{"ntor_server_handshakes", "BM_NtorServer", "BM_Baseline_X25519Ops",
                               bench::Metric::kItemsPerSecond, "handshakes/s"},
                              {"ntor3_server_handshakes", "BM_Ntor3Server", "BM_Baseline_X25519Ops",
                               bench::Metric::kItemsPerSecond, "handshakes/s"}});
}
