// channeld/link/responder.cc: see responder.h.
#include "channeld/link/responder.h"

#include <algorithm>
#include <cstring>

namespace onionsplit::channeld {

using cell::CellCmd;

namespace {
constexpr uint16_t kAuthTypeEd25519Sha256Rfc5705 = 3;
// Our own handshake cells (CERTS with two X.509 certificates is the largest) stay far below this.
constexpr size_t kOurCellMax = 16384;
}  // namespace

LinkResponder::LinkResponder(ResponderSetup setup)
    : setup_(std::move(setup)), sent_(EVP_MD_CTX_new()), received_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(sent_, EVP_sha256(), nullptr);
  EVP_DigestInit_ex(received_, EVP_sha256(), nullptr);
}

LinkResponder::~LinkResponder() {
  EVP_MD_CTX_free(sent_);
  EVP_MD_CTX_free(received_);
}

std::array<uint8_t, 32> LinkResponder::digestSoFar(EVP_MD_CTX* ctx) const {
  std::array<uint8_t, 32> d{};
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  unsigned len = 0;
  if (copy && EVP_MD_CTX_copy_ex(copy, ctx) == 1) EVP_DigestFinal_ex(copy, d.data(), &len);
  EVP_MD_CTX_free(copy);
  return d;
}

LinkResponder::Step LinkResponder::close(std::string why) {
  state_ = State::kClosed;
  return Step{Verdict::kClose, std::move(why)};
}

void LinkResponder::send(std::vector<uint8_t>& out, CellCmd cmd, Bytes payload, bool variable) {
  uint8_t buf[kOurCellMax + 16];
  Writer w{MutBytes(buf)};
  // VERSIONS always uses the 2-byte circuit id framing, whatever is negotiated.
  uint16_t v = cmd == CellCmd::kVersions ? 0 : linkVersion_;
  bool ok = variable ? cell::encodeVarCell(w, v, 0, cmd, payload)
                     : cell::encodeFixedCell(w, v, 0, cmd, payload);
  if (!ok) return;  // our own cells always fit
  Bytes wire = w.written();
  if (state_ != State::kOpen && slogOpen_) EVP_DigestUpdate(sent_, wire.data(), wire.size());
  out.insert(out.end(), wire.begin(), wire.end());
}

LinkResponder::Step LinkResponder::onCell(const cell::CellView& c, Bytes raw,
                                          std::vector<uint8_t>& out) {
  if (state_ == State::kClosed) return Step{Verdict::kClose, "closed"};
  if (state_ == State::kOpen) return Step{Verdict::kOpen, {}};
  auto cmd = static_cast<CellCmd>(c.command);
  // CLOG covers everything the initiator sent before AUTHENTICATE.
  if (cmd != CellCmd::kAuthenticate && clogOpen_)
    EVP_DigestUpdate(received_, raw.data(), raw.size());
  if (cmd == CellCmd::kPadding || cmd == CellCmd::kVpadding) {
    if (state_ == State::kVersions) return close("padding before VERSIONS");
    return Step{};
  }
  switch (state_) {
    case State::kVersions:
      if (cmd != CellCmd::kVersions) return close("the first cell is not VERSIONS");
      return onVersions(c.payload, out);
    case State::kCertsOrNetinfo:
      if (cmd == CellCmd::kCerts) return onCerts(c.payload);
      if (cmd == CellCmd::kNetinfo) return onNetinfo(c.payload);
      return close("unexpected cell " + std::to_string(c.command) + " during the handshake");
    case State::kAuthenticate:
      if (cmd == CellCmd::kAuthenticate) return onAuthenticate(c.payload);
      if (cmd == CellCmd::kNetinfo)  // CERTS without AUTHENTICATE: not authenticated after all
        return onNetinfo(c.payload);
      return close("unexpected cell " + std::to_string(c.command) + " after CERTS");
    case State::kNetinfo:
      if (cmd == CellCmd::kNetinfo) return onNetinfo(c.payload);
      return close("unexpected cell " + std::to_string(c.command) + " after AUTHENTICATE");
    case State::kOpen:
    case State::kClosed:
      break;
  }
  return close("internal state");
}

LinkResponder::Step LinkResponder::onVersions(Bytes payload, std::vector<uint8_t>& out) {
  auto v = cell::decodeVersions(payload);
  if (!v) return close("malformed VERSIONS");
  uint16_t common = v->highestCommon({4, 5});
  if (common == 0) return close("no common link protocol (we speak 4 and 5)");

  cell::Versions ours;
  ours.versions[0] = 4;
  ours.versions[1] = 5;
  ours.count = 2;
  uint8_t buf[kOurCellMax];
  Writer w{MutBytes(buf)};
  cell::encodeVersions(ours, w);
  send(out, CellCmd::kVersions, w.written(), true);
  linkVersion_ = common;

  cell::CertsCell certs;
  for (const auto& [type, body] : setup_.certs) {
    if (certs.count == cell::kMaxCerts) break;
    certs.certs[certs.count++] = {type, Bytes(body)};
  }
  Writer wc{MutBytes(buf)};
  if (!cell::encodeCerts(certs, wc)) return close("our CERTS do not fit a cell");
  send(out, CellCmd::kCerts, wc.written(), true);

  cell::AuthChallenge ch;
  ch.challenge = setup_.challenge;
  ch.methods[0] = kAuthTypeEd25519Sha256Rfc5705;
  ch.methodCount = 1;
  Writer wa{MutBytes(buf)};
  cell::encodeAuthChallenge(ch, wa);
  send(out, CellCmd::kAuthChallenge, wa.written(), true);
  // SLOG ends here: C tor stops recording what it sent when it sends NETINFO.
  slog_ = digestSoFar(sent_);
  slogOpen_ = false;

  cell::Netinfo ni;
  ni.timestamp = static_cast<uint32_t>(setup_.nowUnix);
  ni.otherAddress = setup_.peerAddress;
  for (const auto& a : setup_.ourAddresses) {
    if (ni.myAddressCount == cell::kMaxNetinfoAddresses) break;
    ni.myAddresses[ni.myAddressCount++] = a;
  }
  Writer wn{MutBytes(buf)};
  cell::encodeNetinfo(ni, wn);
  send(out, CellCmd::kNetinfo, wn.written(), false);
  state_ = State::kCertsOrNetinfo;
  return Step{};
}

LinkResponder::Step LinkResponder::onCerts(Bytes payload) {
  auto certs = cell::decodeCerts(payload);
  if (!certs) return close("malformed CERTS");
  std::vector<CertEntry> entries;
  for (uint8_t i = 0; i < certs->count; ++i)
    entries.push_back(CertEntry{certs->certs[i].type, certs->certs[i].body});
  auto id = checkInitiatorCerts(entries, setup_.nowUnix);
  if (!id) return close("initiator CERTS: " + id.error());
  peer_ = *id;
  state_ = State::kAuthenticate;
  return Step{};
}

LinkResponder::Step LinkResponder::onAuthenticate(Bytes payload) {
  auto a = cell::decodeAuthenticate(payload);
  if (!a) return close("malformed AUTHENTICATE");
  if (a->authType != kAuthTypeEd25519Sha256Rfc5705)
    return close("AUTHENTICATE of type " + std::to_string(a->authType));
  if (!peer_ || !peer_->edAuthKey) return close("AUTHENTICATE without an authentication key");
  clog_ = digestSoFar(received_);
  clogOpen_ = false;
  Auth3Expected e;
  e.cid = peer_->rsaIdSha256;
  e.sid = setup_.ourRsaIdSha256;
  e.cidEd = peer_->edId;
  e.sidEd = setup_.ourEdId;
  e.slog = slog_;
  e.clog = clog_;
  e.scert = setup_.ourTlsCertSha256;
  auto secrets = setup_.tlsSecrets ? setup_.tlsSecrets(peer_->rsaIdSha256) : std::nullopt;
  if (!secrets) return close("no TLS exporter value for AUTH0003");
  e.tlsSecrets = *secrets;
  auto ok = verifyAuth3(a->auth, e, *peer_->edAuthKey);
  if (!ok) {
    peer_.reset();
    return close("AUTHENTICATE: " + ok.error());
  }
  state_ = State::kNetinfo;
  return Step{};
}

LinkResponder::Step LinkResponder::onNetinfo(Bytes payload) {
  auto ni = cell::decodeNetinfo(payload);
  if (!ni) return close("malformed NETINFO");
  if (state_ == State::kAuthenticate) peer_.reset();  // CERTS alone prove nothing
  netinfo_ = *ni;
  state_ = State::kOpen;
  return Step{Verdict::kOpen, {}};
}

}  // namespace onionsplit::channeld
