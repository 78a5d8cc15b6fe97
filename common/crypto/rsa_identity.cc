// common/crypto/rsa_identity.cc: RSA keys, tor-style RSA signatures and X.509 certificates through
// OpenSSL 3 (EVP_PKEY, OSSL_ENCODER/OSSL_DECODER, X509); no deprecated RSA_* calls.
#include "common/crypto/rsa_identity.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

namespace onionsplit::crypto {

void detail::PkeyFree::operator()(evp_pkey_st* p) const {
  EVP_PKEY_free(p);
}
void detail::X509Free::operator()(x509_st* p) const {
  X509_free(p);
}

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, detail::PkeyFree>;
using X509Ptr = std::unique_ptr<X509, detail::X509Free>;

template <class T, void (*F)(T*)>
struct Del {
  void operator()(T* p) const { F(p); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Del<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EncoderCtxPtr =
    std::unique_ptr<OSSL_ENCODER_CTX, Del<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>>;
using DecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX, Del<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Del<BIGNUM, BN_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Del<X509_NAME, X509_NAME_free>>;

bool isRsa(const EVP_PKEY* p) {
  return p != nullptr && EVP_PKEY_get_base_id(p) == EVP_PKEY_RSA;
}

// Serializes with OpenSSL's encoder; "type-specific" gives PKCS#1 for RSA keys.
std::string encodeKey(EVP_PKEY* p, int selection, const char* format) {
  EncoderCtxPtr ctx(OSSL_ENCODER_CTX_new_for_pkey(p, selection, format, "type-specific", nullptr));
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0) return {};
  unsigned char* data = nullptr;
  size_t len = 0;
  if (OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) return {};
  std::string out(reinterpret_cast<const char*>(data), len);
  OPENSSL_clear_free(data, len);
  return out;
}

// Reads one PEM key of any RSA structure (PKCS#1 "RSA ... KEY", PKCS#8, SubjectPublicKeyInfo).
PkeyPtr decodePem(std::string_view pem, int selection) {
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr ctx(
      OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, "RSA", selection, nullptr, nullptr));
  if (!ctx) return nullptr;
  const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
  size_t len = pem.size();
  if (OSSL_DECODER_from_data(ctx.get(), &data, &len) != 1) {
    EVP_PKEY_free(raw);
    return nullptr;
  }
  PkeyPtr p(raw);
  if (!isRsa(p.get())) return nullptr;
  return p;
}

template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, Bytes in) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_Digest(in.data(), in.size(), out.data(), &len, md, nullptr) != 1 || len != N) out.fill(0);
  return out;
}

PkeyPtr publicOnlyCopy(EVP_PKEY* p) {
  unsigned char* der = nullptr;
  int len = i2d_PublicKey(p, &der);
  if (len <= 0) return nullptr;
  const unsigned char* q = der;
  PkeyPtr out(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &q, len));
  OPENSSL_free(der);
  return out;
}

std::string commonName(const X509_NAME* name) {
  if (name == nullptr) return {};
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  if (s == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

NamePtr nameWithCn(std::string_view cn) {
  NamePtr name(X509_NAME_new());
  std::string s(cn);
  if (!name ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(s.c_str()), -1, -1, 0) != 1)
    return nullptr;
  return name;
}

}  // namespace

// --- RsaPublicKey ---

std::optional<RsaPublicKey> RsaPublicKey::fromDer(Bytes der) {
  if (der.empty()) return std::nullopt;
  const unsigned char* p = der.data();
  PkeyPtr k(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
  if (!k || p != der.data() + der.size()) return std::nullopt;
  return RsaPublicKey(std::move(k));
}

std::optional<RsaPublicKey> RsaPublicKey::fromPem(std::string_view pem) {
  PkeyPtr k = decodePem(pem, 0);
  if (!k) return std::nullopt;
  // A PEM private key would decode too; keep only the public half.
  PkeyPtr pub = publicOnlyCopy(k.get());
  if (!pub) return std::nullopt;
  return RsaPublicKey(std::move(pub));
}

std::optional<RsaPublicKey> RsaPublicKey::fromEvp(evp_pkey_st* pkey) {
  if (!isRsa(pkey) || EVP_PKEY_up_ref(pkey) != 1) return std::nullopt;
  return RsaPublicKey(PkeyPtr(pkey));
}

RsaPublicKey::RsaPublicKey(const RsaPublicKey& o) {
  if (o.pkey_ && EVP_PKEY_up_ref(o.pkey_.get()) == 1) pkey_.reset(o.pkey_.get());
}

RsaPublicKey& RsaPublicKey::operator=(const RsaPublicKey& o) {
  if (this != &o) *this = RsaPublicKey(o);
  return *this;
}

unsigned RsaPublicKey::bits() const {
  return pkey_ ? static_cast<unsigned>(EVP_PKEY_get_bits(pkey_.get())) : 0;
}

bool RsaPublicKey::hasTorExponent() const {
  BIGNUM* e = nullptr;
  if (!pkey_ || EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) return false;
  BnPtr owned(e);
  return BN_is_word(e, kRsaPublicExponent) == 1;
}

std::vector<uint8_t> RsaPublicKey::derPkcs1() const {
  if (!pkey_) return {};
  unsigned char* der = nullptr;
  int len = i2d_PublicKey(pkey_.get(), &der);
  if (len <= 0) return {};
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::string RsaPublicKey::pemPkcs1() const {
  // OpenSSL 3.0's type-specific PEM encoder only writes key pairs, so the armour is done here.
  std::vector<uint8_t> der = derPkcs1();
  if (der.empty()) return {};
  std::string out = "-----BEGIN RSA PUBLIC KEY-----\n";
  constexpr size_t kLineBytes = 48;  // 64 base64 characters per line, as PEM writers do
  for (size_t at = 0; at < der.size(); at += kLineBytes) {
    size_t n = std::min(kLineBytes, der.size() - at);
    std::array<unsigned char, 4 * kLineBytes / 3 + 1> line{};
    int len = EVP_EncodeBlock(line.data(), der.data() + at, static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(line.data()), static_cast<size_t>(len));
    out.push_back('\n');
  }
  out += "-----END RSA PUBLIC KEY-----\n";
  return out;
}

RsaFingerprint RsaPublicKey::fingerprint() const {
  std::vector<uint8_t> der = derPkcs1();
  return digest<kRsaFingerprintLen>(EVP_sha1(), der);
}

bool RsaPublicKey::verifyTorSignature(Bytes data, Bytes signature) const {
  if (!pkey_ || signature.empty()) return false;
  size_t modulus = static_cast<size_t>(EVP_PKEY_get_size(pkey_.get()));
  if (signature.size() != modulus) return false;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_recover_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
    return false;
  std::vector<uint8_t> recovered(modulus);
  size_t len = recovered.size();
  if (EVP_PKEY_verify_recover(ctx.get(), recovered.data(), &len, signature.data(),
                              signature.size()) != 1)
    return false;
  return len == data.size() && constantTimeEqual(Bytes(recovered.data(), len), data);
}

bool RsaPublicKey::operator==(const RsaPublicKey& o) const {
  if (!pkey_ || !o.pkey_) return pkey_ == o.pkey_;
  return EVP_PKEY_eq(pkey_.get(), o.pkey_.get()) == 1;
}

// --- RsaPrivateKey ---

std::optional<RsaPrivateKey> RsaPrivateKey::generate(unsigned bits) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) != 1)
    return std::nullopt;
  BnPtr e(BN_new());
  if (!e || BN_set_word(e.get(), kRsaPublicExponent) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1)
    return std::nullopt;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) return std::nullopt;
  return RsaPrivateKey(PkeyPtr(raw));
}

std::optional<RsaPrivateKey> RsaPrivateKey::fromPem(std::string_view pem) {
  PkeyPtr k = decodePem(pem, EVP_PKEY_KEYPAIR);
  if (!k) return std::nullopt;
  return RsaPrivateKey(std::move(k));
}

std::string RsaPrivateKey::pemPkcs1() const {
  return pkey_ ? encodeKey(pkey_.get(), EVP_PKEY_KEYPAIR, "PEM") : std::string();
}

RsaPublicKey RsaPrivateKey::publicKey() const {
  return RsaPublicKey(pkey_ ? publicOnlyCopy(pkey_.get()) : nullptr);
}

unsigned RsaPrivateKey::bits() const {
  return pkey_ ? static_cast<unsigned>(EVP_PKEY_get_bits(pkey_.get())) : 0;
}

size_t RsaPrivateKey::signTor(Bytes data, MutBytes out) const {
  if (!pkey_) return 0;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  // No signature digest is set: OpenSSL then pads `data` as it is (RSA_private_encrypt style).
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)
    return 0;
  size_t len = out.size();
  if (len < static_cast<size_t>(EVP_PKEY_get_size(pkey_.get()))) return 0;
  if (EVP_PKEY_sign(ctx.get(), out.data(), &len, data.data(), data.size()) != 1) return 0;
  return len;
}

// --- X509Cert ---

std::optional<X509Cert> X509Cert::fromDer(Bytes der) {
  if (der.empty()) return std::nullopt;
  const unsigned char* p = der.data();
  X509Ptr c(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!c || p != der.data() + der.size()) return std::nullopt;
  return X509Cert(std::move(c));
}

X509Cert X509Cert::fromX509(x509_st* cert) {
  if (cert == nullptr || X509_up_ref(cert) != 1) return X509Cert(nullptr);
  return X509Cert(X509Ptr(cert));
}

X509Cert::X509Cert(const X509Cert& o) {
  if (o.cert_ && X509_up_ref(o.cert_.get()) == 1) cert_.reset(o.cert_.get());
}

X509Cert& X509Cert::operator=(const X509Cert& o) {
  if (this != &o) *this = X509Cert(o);
  return *this;
}

std::vector<uint8_t> X509Cert::der() const {
  if (!cert_) return {};
  unsigned char* der = nullptr;
  int len = i2d_X509(cert_.get(), &der);
  if (len <= 0) return {};
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::array<uint8_t, 32> X509Cert::sha256() const {
  std::vector<uint8_t> d = der();
  return digest<32>(EVP_sha256(), d);
}

std::optional<RsaPublicKey> X509Cert::rsaPublicKey() const {
  if (!cert_) return std::nullopt;
  // get0: the key stays owned by the certificate; fromEvp takes its own reference.
  return RsaPublicKey::fromEvp(X509_get0_pubkey(cert_.get()));
}

bool X509Cert::signedBy(const RsaPublicKey& issuer) const {
  return cert_ && issuer.evp() != nullptr && X509_verify(cert_.get(), issuer.evp()) == 1;
}

bool X509Cert::isSelfSignedRsa1024() const {
  std::optional<RsaPublicKey> k = rsaPublicKey();
  return k && k->bits() == kRsaIdentityBits && signedBy(*k);
}

bool X509Cert::validAt(int64_t now, int64_t pastSlop, int64_t futureSlop) const {
  if (!cert_) return false;
  // X509_cmp_time compares against a given time_t and reads no clock.
  time_t early = static_cast<time_t>(now + futureSlop);
  time_t late = static_cast<time_t>(now - pastSlop);
  const ASN1_TIME* nb = X509_get0_notBefore(cert_.get());
  const ASN1_TIME* na = X509_get0_notAfter(cert_.get());
  if (nb == nullptr || na == nullptr) return false;
  int a = X509_cmp_time(nb, &early);  // -1: notBefore < early
  int b = X509_cmp_time(na, &late);   // 1: notAfter > late
  return a != 0 && b != 0 && a < 0 && b > 0;
}

std::string X509Cert::subjectCommonName() const {
  return cert_ ? commonName(X509_get_subject_name(cert_.get())) : std::string();
}

std::string X509Cert::issuerCommonName() const {
  return cert_ ? commonName(X509_get_issuer_name(cert_.get())) : std::string();
}

std::optional<X509Cert> makeX509Cert(const X509Request& req) {
  if (req.subjectKey == nullptr || req.issuerKey == nullptr || !req.subjectKey->evp() ||
      !req.issuerKey->evp() || req.notAfterUnix < req.notBeforeUnix)
    return std::nullopt;
  X509Ptr c(X509_new());
  if (!c || X509_set_version(c.get(), X509_VERSION_3) != 1) return std::nullopt;
  std::array<uint8_t, 8> serial = req.serial;
  serial[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(c.get()))) return std::nullopt;
  NamePtr subject = nameWithCn(req.subjectCommonName);
  NamePtr issuer = nameWithCn(req.issuerCommonName);
  if (!subject || !issuer || X509_set_subject_name(c.get(), subject.get()) != 1 ||
      X509_set_issuer_name(c.get(), issuer.get()) != 1)
    return std::nullopt;
  if (!ASN1_TIME_set(X509_getm_notBefore(c.get()), static_cast<time_t>(req.notBeforeUnix)) ||
      !ASN1_TIME_set(X509_getm_notAfter(c.get()), static_cast<time_t>(req.notAfterUnix)))
    return std::nullopt;
  if (X509_set_pubkey(c.get(), req.subjectKey->evp()) != 1) return std::nullopt;
  if (X509_sign(c.get(), req.issuerKey->evp(), EVP_sha256()) <= 0) return std::nullopt;
  return X509Cert::fromX509(c.get());
}

std::string randomHostname(Bytes entropy) {
  static constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
  size_t want = entropy.empty() ? 8 : 8 + entropy[0] % 13;  // 8..20 letters
  std::string name = "www.";
  // Five bits per letter, taken from the bytes after the length byte.
  uint32_t acc = 0;
  int accBits = 0;
  size_t letters = 0;
  for (size_t i = 1; i < entropy.size() && letters < want; ++i) {
    acc = (acc << 8) | entropy[i];
    accBits += 8;
    while (accBits >= 5 && letters < want) {
      accBits -= 5;
      name.push_back(kBase32[(acc >> accBits) & 31]);
      ++letters;
    }
  }
  while (letters < 8) {  // too little entropy: pad rather than make a shorter-than-C-tor name
    name.push_back('a');
    ++letters;
  }
  name += ".net";
  return name;
}

X509Validity x509ValidityWindow(int64_t now, int64_t lifetime, uint64_t random) {
  constexpr int64_t kDay = 24 * 3600;
  constexpr int64_t kMinRealLifetime = kDay;
  int64_t earliest =
      lifetime <= kMinRealLifetime + kDay ? now - 1 : now + kMinRealLifetime + kDay - lifetime;
  uint64_t span = static_cast<uint64_t>(now - earliest) + 1;
  int64_t start = earliest + static_cast<int64_t>(random % span);
  start -= ((start % kDay) + kDay) % kDay;
  return X509Validity{start, start + lifetime};
}

}  // namespace onionsplit::crypto
