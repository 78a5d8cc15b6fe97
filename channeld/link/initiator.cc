// channeld/link/initiator.cc: see initiator.h.
#include "channeld/link/initiator.h"

#include <cstring>

namespace onionsplit::channeld {

using cell::CellCmd;

namespace {
constexpr uint16_t kAuthTypeEd25519Sha256Rfc5705 = 3;
// Our own handshake cells (CERTS with two X.509 certificates is the largest) stay far below this.
constexpr size_t kOurCellMax = 16384;

std::array<uint8_t, 32> digestSoFar(EVP_MD_CTX* ctx) {
  std::array<uint8_t, 32> d{};
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  unsigned len = 0;
  if (copy && EVP_MD_CTX_copy_ex(copy, ctx) == 1) EVP_DigestFinal_ex(copy, d.data(), &len);
  EVP_MD_CTX_free(copy);
  return d;
}

std::array<uint8_t, 32> sha256Of(Bytes b) {
  std::array<uint8_t, 32> d{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

std::string hexOf(Bytes b) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s;
  for (uint8_t x : b) {
    s += kHex[x >> 4];
    s += kHex[x & 15];
  }
  return s;
}
}  // namespace

LinkInitiator::LinkInitiator(InitiatorSetup setup)
    : setup_(std::move(setup)), received_(EVP_MD_CTX_new()), sent_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(received_, EVP_sha256(), nullptr);
  EVP_DigestInit_ex(sent_, EVP_sha256(), nullptr);
}

LinkInitiator::~LinkInitiator() {
  EVP_MD_CTX_free(received_);
  EVP_MD_CTX_free(sent_);
}

LinkInitiator::Step LinkInitiator::close(std::string why) {
  state_ = State::kClosed;
  return Step{Verdict::kClose, std::move(why)};
}

void LinkInitiator::send(std::vector<uint8_t>& out, CellCmd cmd, Bytes payload, bool variable) {
  uint8_t buf[kOurCellMax + 16];
  Writer w{MutBytes(buf)};
  // VERSIONS always uses the 2-byte circuit id framing, whatever is negotiated.
  uint16_t v = cmd == CellCmd::kVersions ? 0 : linkVersion_;
  bool ok = variable ? cell::encodeVarCell(w, v, 0, cmd, payload)
                     : cell::encodeFixedCell(w, v, 0, cmd, payload);
  if (!ok) return;  // our own cells always fit
  Bytes wire = w.written();
  if (!authenticated_) EVP_DigestUpdate(sent_, wire.data(), wire.size());
  out.insert(out.end(), wire.begin(), wire.end());
}

void LinkInitiator::start(std::vector<uint8_t>& out) {
  if (state_ != State::kStart) return;
  cell::Versions ours;
  ours.versions[0] = 4;
  ours.versions[1] = 5;
  ours.count = 2;
  uint8_t buf[64];
  Writer w{MutBytes(buf)};
  cell::encodeVersions(ours, w);
  send(out, CellCmd::kVersions, w.written(), true);
  state_ = State::kVersions;
}

LinkInitiator::Step LinkInitiator::onCell(const cell::CellView& c, Bytes raw,
                                          std::vector<uint8_t>& out) {
  if (state_ == State::kClosed) return Step{Verdict::kClose, "closed"};
  if (state_ == State::kOpen) return Step{Verdict::kOpen, {}};
  if (state_ == State::kStart) return close("a cell before we sent VERSIONS");
  auto cmd = static_cast<CellCmd>(c.command);
  // SLOG covers everything the responder sent before we compute AUTHENTICATE.
  if (!authenticated_) EVP_DigestUpdate(received_, raw.data(), raw.size());
  if (cmd == CellCmd::kPadding || cmd == CellCmd::kVpadding) {
    if (state_ == State::kVersions) return close("padding before VERSIONS");
    return Step{};
  }
  if (c.circId != 0) return close("a handshake cell with a circuit id");
  auto unexpected = [&](const char* when) {
    return close("unexpected cell " + std::to_string(c.command) + " " + when);
  };
  switch (state_) {
    case State::kVersions:
      if (cmd != CellCmd::kVersions) return close("the first cell is not VERSIONS");
      return onVersions(c.payload);
    case State::kCerts:
      if (cmd != CellCmd::kCerts) return unexpected("instead of CERTS");
      return onCerts(c.payload);
    case State::kAuthChallenge:
      if (cmd == CellCmd::kAuthChallenge) return onAuthChallenge(c.payload, out);
      // A responder may skip AUTH_CHALLENGE; then we cannot authenticate.
      if (cmd == CellCmd::kNetinfo) return onNetinfo(c.payload, out);
      return unexpected("after CERTS");
    case State::kNetinfo:
      if (cmd == CellCmd::kNetinfo) return onNetinfo(c.payload, out);
      return unexpected("after AUTH_CHALLENGE");
    case State::kStart:
    case State::kOpen:
    case State::kClosed:
      break;
  }
  return close("internal state");
}

LinkInitiator::Step LinkInitiator::onVersions(Bytes payload) {
  auto v = cell::decodeVersions(payload);
  if (!v) return close("malformed VERSIONS");
  uint16_t common = v->highestCommon({4, 5});
  if (common == 0) return close("no common link protocol (we speak 4 and 5)");
  linkVersion_ = common;
  state_ = State::kCerts;
  return Step{};
}

LinkInitiator::Step LinkInitiator::onCerts(Bytes payload) {
  auto certs = cell::decodeCerts(payload);
  if (!certs) return close("malformed CERTS");
  std::vector<CertEntry> entries;
  for (uint8_t i = 0; i < certs->count; ++i)
    entries.push_back(CertEntry{certs->certs[i].type, certs->certs[i].body});
  auto id = checkResponderCerts(entries, Bytes(setup_.peerTlsCertDer), setup_.nowUnix);
  if (!id) return close("responder CERTS: " + id.error());
  if (!setup_.expectedRsaId && !setup_.expectedEdId)
    return close("no identity to check the responder against");
  if (setup_.expectedRsaId && *setup_.expectedRsaId != id->rsaId)
    return close("the responder's RSA identity is " + hexOf(id->rsaId) + ", not " +
                 hexOf(*setup_.expectedRsaId));
  if (setup_.expectedEdId && *setup_.expectedEdId != id->edId)
    return close("the responder's ed25519 identity is not the one expected");
  if (id->rsaIdSha256 == setup_.ourRsaIdSha256 || id->edId == setup_.ourEdId)
    return close("the responder has our own identity");
  peer_ = *id;
  state_ = State::kAuthChallenge;
  return Step{};
}

LinkInitiator::Step LinkInitiator::onAuthChallenge(Bytes payload, std::vector<uint8_t>& out) {
  auto ch = cell::decodeAuthChallenge(payload);
  if (!ch) return close("malformed AUTH_CHALLENGE");
  bool offered = false;
  for (uint8_t i = 0; i < ch->methodCount; ++i)
    offered = offered || ch->methods[i] == kAuthTypeEd25519Sha256Rfc5705;
  // Like C tor: a responder offering nothing we know just sees an unauthenticated initiator.
  if (offered && setup_.authKey && !setup_.certs.empty() && setup_.tlsSecrets) {
    uint8_t buf[kOurCellMax];
    cell::CertsCell certs;
    for (const auto& [type, body] : setup_.certs) {
      if (certs.count == cell::kMaxCerts) break;
      certs.certs[certs.count++] = {type, Bytes(body)};
    }
    Writer wc{MutBytes(buf)};
    if (!cell::encodeCerts(certs, wc)) return close("our CERTS do not fit a cell");
    send(out, CellCmd::kCerts, wc.written(), true);

    Auth3Expected f;
    f.cid = setup_.ourRsaIdSha256;
    f.sid = peer_->rsaIdSha256;
    f.cidEd = setup_.ourEdId;
    f.sidEd = peer_->edId;
    f.slog = digestSoFar(received_);
    f.clog = digestSoFar(sent_);
    f.scert = sha256Of(Bytes(setup_.peerTlsCertDer));
    f.tlsSecrets = *setup_.tlsSecrets;
    auto body = makeAuth3(f, Bytes(setup_.authRandom), *setup_.authKey);
    cell::Authenticate a;
    a.authType = kAuthTypeEd25519Sha256Rfc5705;
    a.auth = Bytes(body);
    Writer wa{MutBytes(buf)};
    if (!cell::encodeAuthenticate(a, wa)) return close("our AUTHENTICATE does not fit a cell");
    authenticated_ = true;  // the logs end here
    send(out, CellCmd::kAuthenticate, wa.written(), true);
  }
  if (!sendNetinfo(out)) return close("cannot encode our NETINFO");
  state_ = State::kNetinfo;
  return Step{};
}

bool LinkInitiator::sendNetinfo(std::vector<uint8_t>& out) {
  cell::Netinfo ni;
  ni.timestamp = static_cast<uint32_t>(setup_.nowUnix);
  ni.otherAddress = setup_.peerAddress;
  for (const auto& a : setup_.ourAddresses) {
    if (ni.myAddressCount == cell::kMaxNetinfoAddresses) break;
    ni.myAddresses[ni.myAddressCount++] = a;
  }
  uint8_t buf[cell::kCellPayloadLen];
  Writer w{MutBytes(buf)};
  if (!cell::encodeNetinfo(ni, w)) return false;
  send(out, CellCmd::kNetinfo, w.written(), false);
  sentNetinfo_ = true;
  return true;
}

LinkInitiator::Step LinkInitiator::onNetinfo(Bytes payload, std::vector<uint8_t>& out) {
  auto ni = cell::decodeNetinfo(payload);
  if (!ni) return close("malformed NETINFO");
  if (!sentNetinfo_ && !sendNetinfo(out)) return close("cannot encode our NETINFO");
  netinfo_ = *ni;
  state_ = State::kOpen;
  return Step{Verdict::kOpen, {}};
}

}  // namespace onionsplit::channeld
