// bench/bench_tor1.cc: tor1 relay crypto per cell, both directions, beside the cost of plain
// OpenSSL AES-128-CTR + SHA-1 over the same 509 bytes measured in the same run.
//   forward  = RelayLayer::processOutbound: decrypt + recognized check + digest (a cell for us),
//              at the last hop (the exit; /1) and at a hop with a next hop (/0)
//   backward = RelayLayer::originateInbound: digest + encrypt
// Target (issue 2): each within 1.3x of the baseline.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <array>
#include <vector>

#include "bench/support/result.h"
#include "common/crypto/tor1.h"

using namespace onionsplit;
using crypto::kRelayPayloadLen;
using Cell = std::array<uint8_t, kRelayPayloadLen>;

namespace {

crypto::Tor1Keys keys() {
  crypto::Tor1Keys k;
  for (size_t i = 0; i < 20; ++i)
    k.df[i] = static_cast<uint8_t>(i), k.db[i] = static_cast<uint8_t>(i + 50);
  for (size_t i = 0; i < 16; ++i)
    k.kf[i] = static_cast<uint8_t>(i + 100), k.kb[i] = static_cast<uint8_t>(i + 150);
  return k;
}

void BM_Baseline_AesCtrSha1(benchmark::State& state) {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  EVP_MD_CTX* d = EVP_MD_CTX_new();
  uint8_t key[16] = {1}, iv[16] = {};
  EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), nullptr, key, iv);
  EVP_DigestInit_ex(d, EVP_sha1(), nullptr);
  Cell cell{};
  int len = 0;
  for (auto _ : state) {
    EVP_EncryptUpdate(c, cell.data(), &len, cell.data(), static_cast<int>(cell.size()));
    EVP_DigestUpdate(d, cell.data(), cell.size());
    benchmark::DoNotOptimize(cell.data());
  }
  state.SetItemsProcessed(state.iterations());
  EVP_CIPHER_CTX_free(c);
  EVP_MD_CTX_free(d);
}
BENCHMARK(BM_Baseline_AesCtrSha1);

void BM_Tor1_Backward(benchmark::State& state) {
  auto relay = *crypto::RelayLayer::create(keys());
  Cell cell{};
  cell[0] = 2;
  for (auto _ : state) {
    bool ok = relay.originateInbound(cell, nullptr);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tor1_Backward);

void BM_Tor1_Forward(benchmark::State& state) {
  constexpr size_t kBatch = 4096;
  std::vector<Cell> cells(kBatch);
  std::optional<crypto::RelayLayer> relay;
  size_t next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      crypto::ClientCircuit client;
      client.addHop(keys());
      relay.emplace(*crypto::RelayLayer::create(keys()));
      for (auto& c : cells) {
        c.fill(0);
        c[0] = 2;
        client.originateOutbound(0, c, nullptr);
      }
      next = 0;
      state.ResumeTiming();
    }
    auto r = relay->processOutbound(cells[next++], nullptr, state.range(0) == 1);
    if (r != crypto::RelayLayer::Outbound::kRecognized) state.SkipWithError("not recognized");
  }
  state.SetItemsProcessed(state.iterations());
}
// Arg 1: the exit (last hop) path; arg 0: a hop that may pass unrecognized cells on.
BENCHMARK(BM_Tor1_Forward)->Arg(1)->Arg(0);

}  // namespace

int main(int argc, char** argv) {
  return bench::runAndReport(argc, argv,
                             {{"tor1_backward_per_cell", "BM_Tor1_Backward",
                               "BM_Baseline_AesCtrSha1", bench::Metric::kTimePerItem, "ns/cell"},
                              {"tor1_forward_midhop_per_cell", "BM_Tor1_Forward/0",
                               "BM_Baseline_AesCtrSha1", bench::Metric::kTimePerItem, "ns/cell"},
                              {"tor1_forward_per_cell", "BM_Tor1_Forward/1",
                               "BM_Baseline_AesCtrSha1", bench::Metric::kTimePerItem, "ns/cell"}});
}
