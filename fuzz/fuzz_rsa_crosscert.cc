// fuzz/fuzz_rsa_crosscert.cc: arbitrary bytes into the parsers channeld runs on a peer's CERTS
// types 7 (RSA->Ed25519 crosscert) and 2 (X.509 RSA identity), and into the PKCS#1 key parser;
// never crashes.
#include <cstddef>
#include <cstdint>

#include "common/crypto/rsa_crosscert.h"
#include "common/crypto/rsa_identity.h"

using namespace onionsplit;
using namespace onionsplit::crypto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in(data, size);
  auto cc = decodeRsaCrosscert(in);
  if (cc) {
    if (cc->encoded.size() != size || cc->signature.size() + kRsaCrosscertSignedLen + 1 != size)
      __builtin_trap();
    // Verification needs some RSA key: the one in the input, when the tail parses as one.
    if (auto k = RsaPublicKey::fromDer(cc->signature)) (void)verifyRsaCrosscert(*cc, *k, 0);
  }
  if (auto cert = X509Cert::fromDer(in)) {
    (void)cert->isSelfSignedRsa1024();
    (void)cert->validAt(1800000000, 2 * 86400, 30 * 86400);
    (void)cert->sha256();
    (void)cert->subjectCommonName();
    if (auto k = cert->rsaPublicKey()) {
      (void)k->fingerprint();
      (void)k->verifyTorSignature(in.first(size / 2), in.last(size - size / 2));
    }
  }
  if (auto k = RsaPublicKey::fromDer(in)) {
    (void)k->fingerprint();
    (void)k->hasTorExponent();
    (void)k->verifyTorSignature(in, in);
  }
  return 0;
}
