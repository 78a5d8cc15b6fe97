// fuzz/fuzz_link_initiator.cc: the link handshake we run on connections we open
// (channeld/link/initiator.h) fed the bytes a hostile responder sends, framed as channeld's
// outbound side frames them. It must go on or refuse, never crash, and never open a channel to
// anyone but the relay it was told to expect.
//
// The first input byte picks what the rest is: odd, the responder's bytes as they are; even, a
// real responder's flight (VERSIONS, CERTS, AUTH_CHALLENGE, NETINFO from our own responder, with a
// valid identity) with the rest of the input written over it at an offset given by the next two
// bytes, so that the certificate checks are reached with nearly valid certificates.
#include <cstring>
#include <memory>

#include "channeld/link/initiator.h"
#include "channeld/link/responder.h"
#include "common/crypto/ed25519_cert.h"

using namespace onionsplit;

namespace {

constexpr int64_t kNow = 1800000000;

struct Fixture {
  channeld::InitiatorSetup setup;
  std::vector<uint8_t> flight;  // a responder's answer to our VERSIONS
  std::optional<crypto::Ed25519Keypair> authKey;
};

crypto::Ed25519Keypair key(uint8_t b) {
  crypto::Ed25519Seed s{};
  s.fill(b);
  return *crypto::Ed25519Keypair::fromSeed(s);
}

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    auto rsa = *crypto::RsaPrivateKey::generate(1024);
    auto master = key(1), signing = key(2);
    crypto::Ed25519CertFields cf;
    cf.certifiedKey = signing.publicKey();
    cf.expirationHours = crypto::certExpirationHours(kNow + 86400 * 30);
    uint8_t buf[crypto::kEd25519CertMaxEncodedLen];
    auto type4 = *crypto::encodeEd25519Cert(cf, master, MutBytes(buf));
    std::vector<uint8_t> entropy(64, 7);
    std::string err;
    auto creds = channeld::LinkCredentials::create(rsa, signing, type4, master.publicKey(), kNow,
                                                   entropy, err);
    channeld::ResponderSetup r;
    r.certs = creds->responderCerts();
    r.ourEdId = master.publicKey();
    r.nowUnix = kNow;
    channeld::LinkResponder responder(r);
    x.authKey = key(3);
    x.setup.certs = {{6, std::vector<uint8_t>(32, 1)}};
    x.setup.ourEdId = key(4).publicKey();
    x.setup.expectedRsaId = rsa.publicKey().fingerprint();
    x.setup.expectedEdId = master.publicKey();
    x.setup.peerTlsCertDer = creds->linkCert.der();
    x.setup.tlsSecrets = std::array<uint8_t, 32>{};
    x.setup.nowUnix = kNow;
    // Our VERSIONS to the responder; its answer is the flight.
    auto setup = x.setup;
    setup.authKey = &*x.authKey;
    channeld::LinkInitiator init(setup);
    std::vector<uint8_t> hello;
    init.start(hello);
    auto c = cell::nextCell(Bytes(hello), 0);
    (void)responder.onCell(**c, Bytes(hello), x.flight);
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = fixture();
  std::vector<uint8_t> input;
  if (size > 0 && (data[0] & 1) == 0) {
    input = f.flight;
    size_t at = size >= 3 ? ((size_t{data[1]} << 8) | data[2]) % (input.size() + 1) : 0;
    Bytes patch(data + std::min<size_t>(size, 3), size - std::min<size_t>(size, 3));
    if (at + patch.size() > input.size()) input.resize(at + patch.size());
    std::memcpy(input.data() + at, patch.data(), patch.size());
  } else if (size > 0) {
    input.assign(data + 1, data + size);
  }
  channeld::InitiatorSetup setup = f.setup;
  setup.authKey = &*f.authKey;  // (pointing into the static fixture, which never moves)
  channeld::LinkInitiator initiator(std::move(setup));
  std::vector<uint8_t> out;
  initiator.start(out);
  Bytes in(input);
  for (int i = 0; i < 64; ++i) {
    auto c = cell::nextCell(in, initiator.linkVersion());
    if (!c || !*c) break;
    auto step = initiator.onCell(**c, in.subspan(0, (*c)->wireLen), out);
    in = in.subspan((*c)->wireLen);
    if (step.verdict == channeld::LinkInitiator::Verdict::kOpen) {
      // Open only with the identity we were told to expect.
      if (!initiator.peer() || initiator.peer()->rsaId != *f.setup.expectedRsaId ||
          initiator.peer()->edId != *f.setup.expectedEdId)
        __builtin_trap();
      break;
    }
    if (step.verdict == channeld::LinkInitiator::Verdict::kClose) break;
  }
  if (out.size() > 1 << 20) __builtin_trap();  // what we send stays bounded
  return 0;
}
