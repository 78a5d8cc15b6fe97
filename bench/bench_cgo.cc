// bench/bench_cgo.cc: CGO relay crypto (common/crypto/cgo.h) per cell, both directions, beside the
// raw AES work of one cell measured in the same run: OpenSSL AES-128-CTR over the 493-byte X_R and
// one AES-128 block for X_L, on already-keyed contexts (no POLYVAL, no IV set-up, no re-keying).
//   forward  = CgoRelayCrypto::processOutbound: a cell for us (the exit: tag check, then the key
//              update; /1) and a cell for the next hop (/0, encrypt and compare only)
//   backward = CgoRelayCrypto::originateInbound: encrypt and key update (/1), and relayInbound, a
//              cell from the next hop (/0, encrypt only)
// The key-update rows (/1) are also compared with a second baseline, the raw AES a key update
// cannot do without on top of the first: the 80 bytes of next keys as 5 more counter blocks (one
// OpenSSL AES-128-CTR call over 573 bytes) and the two AES-128 key schedules of the new keys
// (Aes128::setKeys, AES-NI's AESENCLAST schedule, the fastest raw schedule here; OpenSSL's
// AES_set_encrypt_key is its table-based C code). POLYVAL's key powers are not in it: they are
// CGO's own work. Allocations inside OpenSSL are counted (CRYPTO_set_mem_functions) and reported
// per cell as the counter ossl_allocs. Target: each within 1.3x of the baseline.
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "bench/support/result.h"
#include "common/crypto/cgo.h"

using namespace onionsplit;
using crypto::kRelayPayloadLen;
using Cell = std::array<uint8_t, kRelayPayloadLen>;

namespace {

std::atomic<uint64_t> gOsslAllocs{0};

void* countingMalloc(size_t n, const char*, int) {
  gOsslAllocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* countingRealloc(void* p, size_t n, const char*, int) {
  gOsslAllocs.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void plainFree(void* p, const char*, int) {
  std::free(p);
}

constexpr uint8_t kRelayCmd = 3;

std::vector<uint8_t> keyMaterial(uint8_t salt) {
  std::vector<uint8_t> km(crypto::kCgoKeyMaterialLen);
  for (size_t i = 0; i < km.size(); ++i)
    km[i] = static_cast<uint8_t>(i * 7 + salt);
  return km;
}

void reportAllocs(benchmark::State& state, uint64_t before) {
  state.counters["ossl_allocs"] = benchmark::Counter(
      static_cast<double>(gOsslAllocs.load() - before), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations());
}

// The baselines' OpenSSL contexts, keyed: AES-128-CTR for the stream, AES-128-ECB for the tag.
struct RawAes {
  EVP_CIPHER_CTX* ctr = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* ecb = EVP_CIPHER_CTX_new();
  RawAes() {
    uint8_t key[16] = {1}, iv[16] = {};
    EVP_EncryptInit_ex(ctr, EVP_aes_128_ctr(), nullptr, key, iv);
    EVP_EncryptInit_ex(ecb, EVP_aes_128_ecb(), nullptr, key, nullptr);
    EVP_CIPHER_CTX_set_padding(ecb, 0);
  }
  ~RawAes() {
    EVP_CIPHER_CTX_free(ctr);
    EVP_CIPHER_CTX_free(ecb);
  }
  RawAes(const RawAes&) = delete;
  RawAes& operator=(const RawAes&) = delete;
};

void BM_Baseline_RawAes(benchmark::State& state) {
  RawAes raw;
  EVP_CIPHER_CTX *ctr = raw.ctr, *ecb = raw.ecb;
  Cell cell{};
  int len = 0;
  uint64_t before = gOsslAllocs.load();
  for (auto _ : state) {
    EVP_EncryptUpdate(ecb, cell.data(), &len, cell.data(), crypto::kCgoTagLen);
    EVP_EncryptUpdate(ctr, cell.data() + crypto::kCgoTagLen, &len, cell.data() + crypto::kCgoTagLen,
                      crypto::kCgoRightLen);
    benchmark::DoNotOptimize(cell.data());
  }
  reportAllocs(state, before);
}
BENCHMARK(BM_Baseline_RawAes);

// The raw AES of a cell with a key update: the stream runs on for the 80 bytes of next keys, and
// the two new keys (from that stream, so each cell waits for the last, as in CGO) are expanded.
void BM_Baseline_RawAesKeyUpdate(benchmark::State& state) {
  RawAes raw;
  EVP_CIPHER_CTX *ctr = raw.ctr, *ecb = raw.ecb;
  crypto::Aes128 a, b;
  std::array<uint8_t, kRelayPayloadLen + crypto::kCgoSeedLen + 3> buf{};  // cell, pad, next keys
  uint8_t* next = buf.data() + crypto::kCgoTagLen + 31 * 16;
  int len = 0;
  uint64_t before = gOsslAllocs.load();
  for (auto _ : state) {
    EVP_EncryptUpdate(ecb, buf.data(), &len, buf.data(), crypto::kCgoTagLen);
    EVP_EncryptUpdate(ctr, buf.data() + crypto::kCgoTagLen, &len, buf.data() + crypto::kCgoTagLen,
                      31 * 16 + crypto::kCgoSeedLen);
    crypto::Aes128::setKeys(a, next, crypto::Aes128::Dir::kEncrypt, b, next + 32,
                            crypto::Aes128::Dir::kEncrypt);
    benchmark::DoNotOptimize(buf.data());
    benchmark::DoNotOptimize(&a);
    benchmark::DoNotOptimize(&b);
  }
  reportAllocs(state, before);
}
BENCHMARK(BM_Baseline_RawAesKeyUpdate);

// Arg 1: originateInbound (with the key update); arg 0: relayInbound.
void BM_Cgo_Backward(benchmark::State& state) {
  auto relay = *crypto::CgoRelayCrypto::fromSeed(keyMaterial(1));
  Cell cell{};
  cell[16] = 2;
  bool originate = state.range(0) == 1;
  uint64_t before = gOsslAllocs.load();
  for (auto _ : state) {
    bool ok = originate ? relay.originateInbound(kRelayCmd, cell, nullptr)
                        : relay.relayInbound(kRelayCmd, cell);
    if (!ok) state.SkipWithError("cgo failed");
    benchmark::DoNotOptimize(cell.data());
  }
  reportAllocs(state, before);
}
BENCHMARK(BM_Cgo_Backward)->Arg(1)->Arg(0);

// Arg 1: cells for this hop (the exit; recognized, key update); arg 0: cells for the next hop.
void BM_Cgo_Forward(benchmark::State& state) {
  constexpr size_t kBatch = 4096;
  const bool forUs = state.range(0) == 1;
  std::vector<Cell> cells(kBatch);
  std::optional<crypto::CgoRelayCrypto> relay;
  size_t next = kBatch;
  uint64_t allocs = 0;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      crypto::CgoClientCircuit client;
      client.addHop(keyMaterial(1));
      client.addHop(keyMaterial(2));
      relay.emplace(*crypto::CgoRelayCrypto::fromSeed(keyMaterial(1)));
      for (auto& c : cells) {
        c.fill(0);
        c[16] = 2;
        client.originateOutbound(forUs ? 0 : 1, kRelayCmd, c, nullptr);
      }
      next = 0;
      state.ResumeTiming();
    }
    uint64_t before = gOsslAllocs.load(std::memory_order_relaxed);
    auto r = relay->processOutbound(kRelayCmd, cells[next++], nullptr);
    allocs += gOsslAllocs.load(std::memory_order_relaxed) - before;
    auto want = forUs ? crypto::CgoRelayCrypto::Outbound::kRecognized
                      : crypto::CgoRelayCrypto::Outbound::kNotRecognized;
    if (r != want) state.SkipWithError("unexpected recognition result");
  }
  state.counters["ossl_allocs"] =
      benchmark::Counter(static_cast<double>(allocs), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cgo_Forward)->Arg(0)->Arg(1);

}  // namespace

int main(int argc, char** argv) {
  // Before OpenSSL allocates anything, so that every allocation it makes is seen.
  if (CRYPTO_set_mem_functions(countingMalloc, countingRealloc, plainFree) != 1)
    std::fprintf(stderr, "bench_cgo: OpenSSL allocations cannot be counted here\n");
  return bench::runAndReport(
      argc, argv,
      {{"cgo_relay_backward_passthrough", "BM_Cgo_Backward/0", "BM_Baseline_RawAes",
        bench::Metric::kTimePerItem, "ns/cell"},
       {"cgo_relay_forward_midhop", "BM_Cgo_Forward/0", "BM_Baseline_RawAes",
        bench::Metric::kTimePerItem, "ns/cell"},
       {"cgo_relay_backward", "BM_Cgo_Backward/1", "BM_Baseline_RawAes",
        bench::Metric::kTimePerItem, "ns/cell"},
       {"cgo_relay_forward", "BM_Cgo_Forward/1", "BM_Baseline_RawAes", bench::Metric::kTimePerItem,
        "ns/cell"},
       {"cgo_relay_backward_vs_keyed_aes", "BM_Cgo_Backward/1", "BM_Baseline_RawAesKeyUpdate",
        bench::Metric::kTimePerItem, "ns/cell"},
       {"cgo_relay_forward_vs_keyed_aes", "BM_Cgo_Forward/1", "BM_Baseline_RawAesKeyUpdate",
        bench::Metric::kTimePerItem, "ns/cell"}});
}
