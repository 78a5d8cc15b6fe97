// circuitd/core/create.cc: see create.h.
#include "circuitd/core/create.h"

#include <algorithm>

#include "common/cell/cells.h"
#include "common/crypto/ntor_handshakes.h"

namespace onionsplit::circuitd {
namespace {

using cell::CellCmd;
using cell::DestroyReason;

constexpr uint8_t cmd(CellCmd c) {
  return static_cast<uint8_t>(c);
}

// ntor v3's KDF is SHAKE-256, an XOF: a shorter output is a prefix of a longer one. The server
// derives this much before it reads the client's message (which decides the crypto) and keeps the
// prefix the negotiated crypto needs (72 bytes for tor1, 160 for CGO; the KH/nonce after them is
// not used on a relay's circuits).
constexpr size_t kNtor3KeyLen = crypto::kCgoKeyMaterialLen + 20;

Expected<Created, DestroyReason> finish(uint8_t replyCmd, Bytes reply, Bytes keyMaterial, bool cc,
                                        uint8_t sendmeInc, uint16_t htype, bool cgo = false) {
  Created c;
  if (cgo) {
    if (keyMaterial.size() < c.cgoSeed.size()) return fail(DestroyReason::kInternal);
    std::copy_n(keyMaterial.begin(), c.cgoSeed.size(), c.cgoSeed.begin());
    c.cgo = true;
  } else {
    auto keys = crypto::Tor1Keys::fromKeyMaterial(keyMaterial);
    if (!keys) return fail(DestroyReason::kInternal);
    c.keys = *keys;
  }
  c.command = replyCmd;
  c.ccEnabled = cc;
  c.sendmeInc = sendmeInc;
  c.htype = htype;
  Writer w{MutBytes(c.payload)};
  if (replyCmd == cmd(CellCmd::kCreated2)) {
    if (!cell::encodeCreated2(cell::Created2{reply}, w)) return fail(DestroyReason::kInternal);
  } else {
    w.bytes(reply);
    if (w.overflowed()) return fail(DestroyReason::kInternal);
  }
  return c;
}

}  // namespace

Expected<Created, DestroyReason> answerCreate(uint8_t command, Bytes payload,
                                              const OnionIdentity& id, const CircuitParams& params,
                                              Bytes random32) {
  if (command == cmd(CellCmd::kCreateFast)) {
    auto fast = cell::decodeCreateFast(payload);
    if (!fast) return fail(DestroyReason::kProtocol);
    auto r = crypto::fastServer(Bytes(fast->x), random32.first(crypto::kFastLen));
    if (!r) return fail(DestroyReason::kProtocol);
    return finish(cmd(CellCmd::kCreatedFast), Bytes(r->reply), Bytes(r->keys), false, 0, 1);
  }
  if (command != cmd(CellCmd::kCreate2)) return fail(DestroyReason::kProtocol);  // TAP CREATE
  auto c2 = cell::decodeCreate2(payload);
  if (!c2) return fail(DestroyReason::kProtocol);
  std::span<const crypto::Curve25519Keypair> keys(id.onionKeys);
  switch (static_cast<cell::HandshakeType>(c2->htype)) {
    case cell::HandshakeType::kNtor: {
      auto r = crypto::ntorServer(Bytes(id.rsaId), keys, c2->hdata, random32);
      if (!r) return fail(DestroyReason::kProtocol);
      return finish(cmd(CellCmd::kCreated2), Bytes(r->reply), Bytes(r->keys), false, 0, 2);
    }
    case cell::HandshakeType::kNtorV3: {
      bool cc = false;
      bool cgo = false;
      crypto::Ntor3Reply reply = [&](Bytes clientMessage) -> std::optional<std::vector<uint8_t>> {
        auto n = cell::negotiateExit(clientMessage, params.cc);
        if (!n) return std::nullopt;
        cc = n->ccEnabled;
        cgo = n->cgo;
        return std::vector<uint8_t>(n->reply.begin(), n->reply.begin() + n->replyLen);
      };
      auto r = crypto::ntor3Server(Bytes(id.edId), keys, c2->hdata, random32, reply,
                                   crypto::kNtor3CircuitVerification, kNtor3KeyLen);
      if (!r) return fail(DestroyReason::kProtocol);
      return finish(cmd(CellCmd::kCreated2), Bytes(r->reply), Bytes(r->keys), cc,
                    params.cc.sendmeInc, 3, cgo);
    }
    default:
      return fail(DestroyReason::kProtocol);
  }
}

}  // namespace onionsplit::circuitd
