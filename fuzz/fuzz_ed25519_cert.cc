// fuzz/fuzz_ed25519_cert.cc: arbitrary bytes into the cert-spec §2.1 decoder (what channeld does
// with CERTS types 4/5/6 from a peer); never crashes, and what decodes is self-consistent.
#include <cstddef>
#include <cstdint>

#include "common/crypto/ed25519_cert.h"

using namespace onionsplit;
using namespace onionsplit::crypto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in(data, size);
  auto c = decodeEd25519Cert(in);
  if (!c) return 0;
  if (c->encoded.size() != size || c->signedPart.size() + kEd25519SignatureLen != size ||
      c->nExtensions > kMaxCertExtensions)
    __builtin_trap();
  for (CertType t : {CertType::kIdentitySigning, CertType::kSigningLink, CertType::kSigningAuth,
                     CertType::kNtorCrosscert})
    (void)checkEd25519CertType(*c, t);
  (void)verifyEd25519Cert(*c, std::nullopt, 0);
  (void)verifyEd25519Cert(*c, c->certifiedKey, uint64_t{1} << 40);
  return 0;
}
