// channeld/net/publisher.h: publishes the relay's server descriptor to every DirAuthority: at
// start, every 18 hours, and when asked (on change). Acceptance is checked by fetching the
// descriptor back from each authority (authorities answer 200 even to descriptors they drop). The
// authorities that did not take it (unreachable, an error, not serving it back) get a fresh
// descriptor again after a backoff (1 minute, doubling to 20 minutes), until all have it: a relay
// started while its authorities were down does not wait 18 hours.
//
// Where it sits: channeld, which holds the identity and signing keys the descriptor is signed
// with. The onion-key parts come ready-made from keys::loadDescriptorOnionKeys (computed where the
// onion secrets are), so channeld never holds an onion secret.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "channeld/net/dir_client.h"
#include "common/config/config.h"
#include "common/keys/family_keys.h"
#include "common/keys/relay_keys.h"

namespace onionsplit::channeld {

// What onionsplit implements today, and nothing more: Relay=2 (ntor, and EXTEND2 as a middle
// relay), Relay=3 (ntor v3), Relay=4 (its congestion control extension), FlowCtrl=1 (authenticated
// SENDMEs), FlowCtrl=2 (congestion control), Conflux=1 (confluxd: the exit's side of conflux sets,
// proposal 329), Relay=5 (ntor v3's SUBPROTO request) and Relay=6 (Counter Galois Onion with the
// v1 relay cell format, proposal 359). A C tor 0.4.9 client asks for CGO exactly when a relay
// lists FlowCtrl=2, Relay=5 and Relay=6 (versions.c supports_cgo) and congestion control is on.
inline constexpr const char* kProtoLine = "Conflux=1 FlowCtrl=1-2 Link=4-5 LinkAuth=3 Relay=2-6";
// The same without Relay=5-6 (TestingOfferCgo 0): C tor clients then use tor1 here.
inline constexpr const char* kProtoLineTor1 =
    "Conflux=1 FlowCtrl=1-2 Link=4-5 LinkAuth=3 Relay=2-4";
inline const char* protoLine(const config::Config& cfg) {
  return cfg.testingOfferCgo ? kProtoLine : kProtoLineTor1;
}

class DescriptorPublisher {
 public:
  DescriptorPublisher(event_base* base, const config::Config& cfg, const keys::IdentityKeys& keys,
                      keys::DescriptorOnionKeys onion, uint16_t orPort, std::time_t startedAt);
  ~DescriptorPublisher();
  DescriptorPublisher(const DescriptorPublisher&) = delete;
  DescriptorPublisher& operator=(const DescriptorPublisher&) = delete;

  // Publishes now and then every 18 hours.
  void start();
  void publishNow();
  // The onion keys changed (rotation): the descriptor changes, so it is published now.
  void setOnionKeys(keys::DescriptorOnionKeys onion);

  // The family keys (FamilyId) whose family-cert lines the descriptor carries; `keys` must outlive
  // this publisher. None by default.
  void setFamilyKeys(const std::vector<keys::FamilyKey>& keys) { family_ = &keys; }

  // Accounting hibernates (soft or hard) or wakes: the descriptor says "hibernating 1" while it
  // does, and a change is published at once (once publishing has started).
  void setHibernating(bool hibernating);

  // Builds and signs the descriptor as of `now` (also for tests). Empty with `error` on failure.
  std::string build(std::time_t now, std::string& error) const;
  // The descriptor last uploaded to the authorities, "" before the first upload.
  const std::string& lastPublished() const { return lastPublished_; }
  // Authorities that have the current descriptor.
  unsigned acceptedBy() const { return accepted_; }
  // Which of them (bit i: cfg.dirAuthorities[i], the first 64), for the controller's
  // ACCEPTED_SERVER_DESCRIPTOR events.
  uint64_t acceptedMask() const { return acceptedMask_; }
  // Rounds begun with a fresh descriptor to every authority (the mask starts empty in each).
  uint64_t rounds() const { return rounds_; }
  // Upload rounds to authorities that missed the previous one (retries).
  unsigned retries() const { return retries_; }
  // The retry backoff (tests shorten it).
  void setRetryDelays(std::chrono::milliseconds first, std::chrono::milliseconds max) {
    firstRetry_ = retryDelay_ = first;
    maxRetry_ = max;
  }

 private:
  static void onTimer(evutil_socket_t, short, void* arg);
  static void onRetry(evutil_socket_t, short, void* arg);
  // Uploads a freshly built descriptor to the authorities at `indices` of cfg.dirAuthorities.
  void publishTo(const std::vector<size_t>& indices);
  // One authority's outcome in round `round`; the last one schedules the retry of the failed.
  void settle(unsigned round, size_t index, bool ok);

  event_base* base_;
  const config::Config& cfg_;
  const keys::IdentityKeys& keys_;
  const std::vector<keys::FamilyKey>* family_ = nullptr;
  keys::DescriptorOnionKeys onion_;
  uint16_t orPort_;
  std::time_t startedAt_;
  DirClient dir_;
  event* timer_ = nullptr;
  event* retry_ = nullptr;
  unsigned accepted_ = 0;
  uint64_t acceptedMask_ = 0;
  uint64_t rounds_ = 0;
  unsigned round_ = 0;  // the current upload round; answers of older ones are ignored
  size_t pending_ = 0;  // authorities of this round that have not answered
  std::vector<size_t> failed_;
  unsigned retries_ = 0;
  bool hibernating_ = false;
  std::chrono::milliseconds firstRetry_{60'000}, retryDelay_{60'000}, maxRetry_{1'200'000};
  std::string fingerprintHex_;
  std::string lastPublished_;
};

}  // namespace onionsplit::channeld
