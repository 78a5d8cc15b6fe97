// channeld/net/publisher.cc: see publisher.h.
#include "channeld/net/publisher.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "channeld/descriptor/server_descriptor.h"
#include "common/base/hex.h"
#include "common/base/version.h"
#include "common/exitpolicy/exit_policy.h"
#include "common/exitpolicy/from_config.h"

namespace onionsplit::channeld {
namespace {

constexpr int kRepublishSeconds = 18 * 3600;

class KeySigner final : public DescriptorSigner {
 public:
  explicit KeySigner(const keys::IdentityKeys& k) : k_(k) {}
  std::array<uint8_t, 64> signEd25519(Bytes message) override {
    crypto::Ed25519Signature sig{};
    k_.signing.sign(message, sig);
    return sig;
  }
  std::vector<uint8_t> signRsaDigest(Bytes sha1Digest) override {
    std::vector<uint8_t> sig(k_.rsaIdentity.bits() / 8);
    sig.resize(k_.rsaIdentity.signTor(sha1Digest, MutBytes(sig)));
    return sig;
  }

 private:
  const keys::IdentityKeys& k_;
};

}  // namespace

DescriptorPublisher::DescriptorPublisher(event_base* base, const config::Config& cfg,
                                         const keys::IdentityKeys& keys,
                                         keys::DescriptorOnionKeys onion, uint16_t orPort,
                                         std::time_t startedAt)
    : base_(base),
      cfg_(cfg),
      keys_(keys),
      onion_(std::move(onion)),
      orPort_(orPort),
      startedAt_(startedAt),
      dir_(base, 30) {
  auto fp = keys_.rsaIdentity.publicKey().fingerprint();
  fingerprintHex_ = toHex(Bytes(fp), true);
}

DescriptorPublisher::~DescriptorPublisher() {
  if (timer_) event_free(timer_);
  if (retry_) event_free(retry_);
}

void DescriptorPublisher::setOnionKeys(keys::DescriptorOnionKeys onion) {
  onion_ = std::move(onion);
  publishNow();
}

std::string DescriptorPublisher::build(std::time_t now, std::string& error) const {
  auto policy = exitpolicy::policyFromConfig(cfg_);
  if (!policy) {
    error = "exit policy: " + policy.error();
    return {};
  }
  DescriptorInputs in;
  in.nickname = cfg_.nickname;
  in.address = cfg_.address;
  in.orPort = orPort_;
  in.signingCert = Bytes(keys_.signingCert);
  in.masterKey = keys_.masterPublic;
  in.platform = std::string("onionsplit ") + kOnionsplitVersion + " on Linux";
  in.proto = protoLine(cfg_);
  in.published = now;
  in.rsaFingerprint = keys_.rsaIdentity.publicKey().fingerprint();
  in.uptimeSeconds = static_cast<uint64_t>(now > startedAt_ ? now - startedAt_ : 0);
  // RelayBandwidthRate/Burst cap what is advertised, as in C tor's relay_get_effective_bwrate.
  in.bandwidthAvg = config::relayedBandwidthRate(cfg_);
  in.bandwidthBurst = config::relayedBandwidthBurst(cfg_);
  in.bandwidthObserved = 0;
  in.hibernating = hibernating_;
  auto tap = crypto::RsaPublicKey::fromDer(Bytes(onion_.tapPublicDer));
  if (!tap) {
    error = "the TAP onion key is unreadable";
    return {};
  }
  in.tapOnionKeyPem = tap->pemPkcs1();
  in.identityKeyPem = keys_.rsaIdentity.publicKey().pemPkcs1();
  in.tapOnionKeyCrosscert = Bytes(onion_.tapCrosscert);
  in.ntorOnionKeyCrosscert = Bytes(onion_.ntorCrosscert);
  in.ntorCrosscertSignBit = onion_.ntorCrosscertSignBit;
  in.family = cfg_.myFamily;
  for (size_t i = 0; family_ && i < family_->size(); ++i) {
    in.familyCerts.push_back(makeFamilyCert((*family_)[i].key, keys_.masterPublic, now));
    if (in.familyCerts.back().empty()) {
      error = "cannot sign the family-cert with " + (*family_)[i].path;
      return {};
    }
  }
  in.contact = cfg_.contactInfo;
  in.ntorOnionKey = onion_.ntorPublic;
  in.policyLines = policy->descriptorLines();
  in.ipv6Policy = cfg_.ipv6Exit ? policy->ipv6Summary() : "";
  KeySigner signer(keys_);
  return buildServerDescriptor(in, signer);
}

void DescriptorPublisher::start() {
  timer_ = event_new(base_, -1, EV_PERSIST, &DescriptorPublisher::onTimer, this);
  timeval tv{kRepublishSeconds, 0};
  event_add(timer_, &tv);
  publishNow();
}

void DescriptorPublisher::onTimer(evutil_socket_t, short, void* arg) {
  static_cast<DescriptorPublisher*>(arg)->publishNow();
}

void DescriptorPublisher::onRetry(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<DescriptorPublisher*>(arg);
  ++self->retries_;
  std::vector<size_t> again = self->failed_;
  self->publishTo(again);
}

void DescriptorPublisher::setHibernating(bool hibernating) {
  if (std::exchange(hibernating_, hibernating) == hibernating) return;
  if (timer_) publishNow();
}

void DescriptorPublisher::publishNow() {
  accepted_ = 0;
  acceptedMask_ = 0;
  ++rounds_;
  retryDelay_ = firstRetry_;
  if (retry_) event_del(retry_);
  std::vector<size_t> all(cfg_.dirAuthorities.size());
  for (size_t i = 0; i < all.size(); ++i)
    all[i] = i;
  publishTo(all);
}

void DescriptorPublisher::publishTo(const std::vector<size_t>& indices) {
  std::string error;
  std::string desc = build(std::time(nullptr), error);
  if (desc.empty()) {
    spdlog::error("descriptor: {}", error);
    return;
  }
  lastPublished_ = desc;
  const unsigned round = ++round_;
  pending_ = indices.size();
  failed_.clear();
  for (size_t i : indices) {
    const auto& a = cfg_.dirAuthorities[i];
    DirEndpoint to{a.address, a.dirPort, a.nickname};
    dir_.postDescriptor(to, desc, [this, to, round, i](const HttpResult& r) {
      if (r.status != 200) {
        spdlog::warn("descriptor: {} answered {} {}", to.nickname, r.status, r.reason);
        return settle(round, i, false);
      }
      // 200 is not acceptance: fetch it back.
      dir_.fetchServerDescriptor(to, fingerprintHex_, [this, to, round, i](const HttpResult& f) {
        bool ok = f.status == 200 && f.body.find("router ") != std::string::npos;
        if (ok) {
          spdlog::info("descriptor: accepted by {}", to.nickname);
        } else {
          spdlog::warn("descriptor: {} took the upload but does not serve it ({} {})", to.nickname,
                       f.status, f.reason);
        }
        settle(round, i, ok);
      });
    });
  }
}

void DescriptorPublisher::settle(unsigned round, size_t index, bool ok) {
  if (round != round_) return;  // a newer round replaced this one
  if (ok) {
    ++accepted_;
    if (index < 64) acceptedMask_ |= uint64_t{1} << index;
  } else {
    failed_.push_back(index);
  }
  if (--pending_ > 0) return;
  if (failed_.empty()) {
    retryDelay_ = firstRetry_;
    return;
  }
  if (!retry_) retry_ = evtimer_new(base_, &DescriptorPublisher::onRetry, this);
  auto ms = retryDelay_.count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(retry_, &tv);
  spdlog::info("descriptor: {} of {} authorities have it; trying the others again in {} s",
               accepted_, cfg_.dirAuthorities.size(), ms / 1000);
  retryDelay_ = std::min(maxRetry_, retryDelay_ * 2);
}

}  // namespace onionsplit::channeld
