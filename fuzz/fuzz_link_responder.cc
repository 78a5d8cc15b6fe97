// fuzz/fuzz_link_responder.cc: the ORPort's link handshake (channeld/link/responder.h) fed the
// bytes a hostile initiator sends, framed as channeld frames them. It must answer or refuse, never
// crash, and never open a channel with an identity for an initiator that did not authenticate.
#include <memory>

#include "channeld/link/responder.h"
#include "common/crypto/ed25519_cert.h"

using namespace onionsplit;

namespace {

constexpr int64_t kNow = 1800000000;

const channeld::ResponderSetup& setup() {
  static const channeld::ResponderSetup s = [] {
    auto rsa = *crypto::RsaPrivateKey::generate(1024);
    crypto::Ed25519Seed seed{};
    seed.fill(1);
    auto master = *crypto::Ed25519Keypair::fromSeed(seed);
    seed.fill(2);
    auto signing = *crypto::Ed25519Keypair::fromSeed(seed);
    crypto::Ed25519CertFields f;
    f.certifiedKey = signing.publicKey();
    f.expirationHours = crypto::certExpirationHours(kNow + 86400 * 30);
    uint8_t buf[crypto::kEd25519CertMaxEncodedLen];
    auto type4 = *crypto::encodeEd25519Cert(f, master, MutBytes(buf));
    std::vector<uint8_t> entropy(64, 7);
    std::string err;
    auto creds = channeld::LinkCredentials::create(rsa, signing, type4, master.publicKey(), kNow,
                                                   entropy, err);
    channeld::ResponderSetup r;
    r.certs = creds->responderCerts();
    r.challenge.fill(3);
    r.ourEdId = master.publicKey();
    r.ourTlsCertSha256 = creds->linkCert.sha256();
    r.peerAddress.type = 4;
    r.nowUnix = kNow;
    return r;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  channeld::LinkResponder responder(setup());
  std::vector<uint8_t> out;
  Bytes in(data, size);
  for (int i = 0; i < 64; ++i) {
    auto c = cell::nextCell(in, responder.linkVersion());
    if (!c || !*c) break;
    Bytes raw = in.subspan(0, (*c)->wireLen);
    auto step = responder.onCell(**c, raw, out);
    in = in.subspan((*c)->wireLen);
    if (step.verdict != channeld::LinkResponder::Verdict::kContinue) {
      // Only a real AUTHENTICATE (signed over this session's fixed values) could name a peer, and
      // no fuzzer input can forge an ed25519 signature.
      if (step.verdict == channeld::LinkResponder::Verdict::kOpen && responder.peer())
        __builtin_trap();
      break;
    }
  }
  return 0;
}
