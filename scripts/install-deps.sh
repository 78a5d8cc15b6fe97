#!/usr/bin/env bash
# Installs every build and test dependency of onionsplit from Debian 12 packages (apt only).
# Idempotent: packages already present are left alone. Needs root.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-14 clang-format lld libclang-rt-14-dev
  libevent-dev libssl-dev openssl
  capnproto libcapnp-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libseccomp-dev libsystemd-dev
  systemd-container debootstrap lintian man-db
  tor tor-geoipdb python3 python3-stem curl procps iproute2
  nyx tmux
  prometheus
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's tor package starts a system tor on install; the tests run their own, so stop it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet tor 2>/dev/null; then
  systemctl stop tor || true
fi
# prometheus is here for its promtool (the MetricsPort's page is checked with it); its server,
# which the package starts, is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl disable --now prometheus || true
fi
echo "install-deps: all dependencies present"
